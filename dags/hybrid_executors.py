"""Hybrid executors: one task on each executor (with `celery` in the chart; see docs/celery.md).

`quick_check` says `executor="CeleryExecutor"`: a warm Celery worker takes it from the Redis broker and
runs it within a second, no pod is started. `in_its_own_pod` says nothing, so it goes to the default
executor, the KubernetesExecutor, and gets a pod of its own (its own resources, deleted when it ends). Each
writes a line into the data volume with the host it ran on: the Celery worker's pod name for the first, the
task pod's name for the second.

Where the CeleryExecutor is not configured (no `celery` in the chart) Airflow would refuse a task that asks
for it, and the whole file would fail to load: `quick_check` then runs in a pod too.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone

from airflow.configuration import conf

try:  # Airflow 3: the Task SDK
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2.10+
    from airflow.decorators import dag, task

# Where the data volume is mounted (AirflowVolumes: /opt/airflow/<name>).
DATA_DIR = "/opt/airflow/data"
# The executor of the quick task: the CeleryExecutor where `[core] executor` lists it, else the default one.
QUICK_EXECUTOR = "CeleryExecutor" if "CeleryExecutor" in conf.get("core", "executor") else None


def _record(task_id: str, run_id: str) -> str:
    host = socket.gethostname()
    safe_run_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    path = os.path.join(DATA_DIR, f"hybrid_executors-{safe_run_id}-{task_id}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{task_id} ran on {host} at {datetime.now(timezone.utc).isoformat()} for run {run_id}\n")
    print(f"{task_id} ran on {host}; wrote {path}")
    return host


@dag(
    dag_id="hybrid_executors",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["airflow-cdk8s", "celery"],
    doc_md=__doc__,
)
def hybrid_executors():
    @task(executor=QUICK_EXECUTOR)
    def quick_check(**context) -> str:
        """Short and frequent: a warm Celery worker runs it at once."""
        return _record("quick_check", str(context.get("run_id", "manual")))

    @task
    def in_its_own_pod(**context) -> str:
        """Heavy or isolated: the default executor (KubernetesExecutor) gives it a pod of its own."""
        return _record("in_its_own_pod", str(context.get("run_id", "manual")))

    quick_check() >> in_its_own_pod()


hybrid_executors()
