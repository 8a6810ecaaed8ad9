"""The executor trade-off benchmark's DAGs (test/runtime/executor-tradeoff.bench.ts, `npm run bench`, issue #24):
short tasks of about one second of CPU each, run by whichever executor is the chart's default (the
KubernetesExecutor on the default chart; the CeleryExecutor with `celery: { defaultExecutor: true }`).

- executor_tradeoff_forty: 40 independent tasks, more than the slots (parallelism, worker concurrency): a backlog.
- executor_tradeoff_fanout: 20 tasks that may all start at once.

Each task spins until its own process has used 1 s of CPU (time.process_time), so that the work is the same
however many tasks share the node's CPUs; the makespan can then be set against 40 (or 20) CPU seconds / the CPUs.
"""

from __future__ import annotations

import time
from datetime import datetime

try:  # Airflow 3: the Task SDK
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

WORK_CPU_SECONDS = 1.0


@task
def work() -> None:
    end = time.process_time() + WORK_CPU_SECONDS
    while time.process_time() < end:
        pass


@dag(dag_id="executor_tradeoff_forty", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1, max_active_tasks=40, tags=["bench"])
def executor_tradeoff_forty():
    for i in range(40):
        work.override(task_id=f"work_{i:02d}")()


@dag(dag_id="executor_tradeoff_fanout", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1, max_active_tasks=20, tags=["bench"])
def executor_tradeoff_fanout():
    for i in range(20):
        work.override(task_id=f"work_{i:02d}")()


executor_tradeoff_forty()
executor_tradeoff_fanout()
