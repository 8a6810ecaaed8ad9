"""The start-latency benchmark's DAGs (test/runtime/start-latency.bench.ts, `npm run bench`): tasks that do
nothing, so that what is measured is the KubernetesExecutor's own path from a trigger to a finished task.

- start_latency_one: one task.
- start_latency_fanout: four tasks that may all run at once (parallelism 4): how many pods one scheduler loop
  creates ([kubernetes_executor] worker_pods_creation_batch_size) shows in when the last one is created.
"""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3: the Task SDK
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

FANOUT = 4


@task
def noop() -> None:
    return None


@dag(dag_id="start_latency_one", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1, tags=["bench"])
def start_latency_one():
    noop()


@dag(dag_id="start_latency_fanout", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1, tags=["bench"])
def start_latency_fanout():
    for i in range(FANOUT):
        noop.override(task_id=f"noop_{i}")()


start_latency_one()
start_latency_fanout()
