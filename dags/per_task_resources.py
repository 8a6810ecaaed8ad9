"""Per-task CPU and memory with the KubernetesExecutor: `executor_config={"pod_override": V1Pod(...)}`.

The executor merges the override onto the worker pod template; the container to change must be named
`base`, the name of the template's container. `light` runs with the template's default resources,
`heavier` with its own requests and limits. Each task prints the memory limit its pod got.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kubernetes.client import models as k8s

try:  # Airflow 3: the Task SDK
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

HEAVIER_POD = k8s.V1Pod(
    spec=k8s.V1PodSpec(
        containers=[
            k8s.V1Container(
                name="base",
                resources=k8s.V1ResourceRequirements(
                    requests={"cpu": "200m", "memory": "512Mi"},
                    limits={"cpu": "1", "memory": "1536Mi"},
                ),
            )
        ]
    )
)


def memory_limit() -> str:
    """The container's memory limit as the kernel enforces it (cgroup v2, then v1)."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        p = Path(path)
        if p.exists():
            return p.read_text().strip()
    return "unknown"


@dag(
    dag_id="per_task_resources",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["airflow-cdk8s", "example"],
    doc_md=__doc__,
)
def per_task_resources():
    @task
    def light() -> str:
        limit = memory_limit()
        print(f"default resources: memory limit {limit}")
        return limit

    @task(executor_config={"pod_override": HEAVIER_POD})
    def heavier() -> str:
        limit = memory_limit()
        print(f"pod_override resources: memory limit {limit}")
        return limit

    light() >> heavier()


per_task_resources()
