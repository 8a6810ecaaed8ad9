"""The check that the whole chain works: a task pod, created by the KubernetesExecutor for this task and
deleted when it ends, writes a file into the data volume (/opt/airflow/data in every Airflow container;
on minikube, the host folder mounted with `minikube mount ./data:/data/data`).

Trigger it from the UI (or `airflow dags trigger write_to_data_volume`) and look for the file in ./data.
Works on Airflow 3 and Airflow 2.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone

try:  # Airflow 3: the Task SDK
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

# Where the data volume is mounted (AirflowVolumes: /opt/airflow/<name>).
DATA_DIR = "/opt/airflow/data"


@dag(
    dag_id="write_to_data_volume",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["airflow-cdk8s", "check"],
    doc_md=__doc__,
)
def write_to_data_volume():
    @task
    def write_file(**context) -> str:
        run_id = str(context.get("run_id", "manual"))
        safe_run_id = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
        path = os.path.join(DATA_DIR, f"write_to_data_volume-{safe_run_id}.txt")
        now = datetime.now(timezone.utc).isoformat()
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"written at {now} by task pod {socket.gethostname()} for run {run_id}\n")
        print(f"wrote {path}")
        return path

    write_file()


write_to_data_volume()
