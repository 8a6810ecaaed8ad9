"""The task-CPU benchmark's DAGs (test/runtime/real-node-task-cpu.bench.ts, `npm run bench`, issue #24 item 3):
four tasks that may all run at once (parallelism 4), each spinning until its own process has used 1 s of CPU
(time.process_time, as executor_tradeoff.py does), on the real node, where the kubelet's cgroups enforce the
task pod's CPU request (cpu.shares) and limit (the CFS quota).

- task_cpu_fanout_default: the pod template's resources (the chart's default: requests 100m / 256Mi, limits 1 / 1Gi).
- task_cpu_fanout_250m: requests 250m CPU, the rest as the default (four of them fit beside the control plane on
  a 2-CPU node).
- task_cpu_fanout_1cpu: requests 1 CPU, the rest as the default.

The requests change through `executor_config={"pod_override": ...}` (as dags/per_task_resources.py does): the
executor replaces the `base` container's whole `resources`, so the limits are repeated. All three DAGs are in one
file, so every task pod parses the same file (with the same imports) whatever its requests.
"""

from __future__ import annotations

import time
from datetime import datetime

from kubernetes.client import models as k8s

try:  # Airflow 3: the Task SDK
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

FANOUT = 4
WORK_CPU_SECONDS = 1.0
# The chart's default task pod resources (DEFAULT_WORKER_RESOURCES) but for the CPU request.
LIMITS = {"cpu": "1", "memory": "1Gi"}
MEMORY_REQUEST = "256Mi"


def _override(cpu_request: str) -> dict:
    return {
        "pod_override": k8s.V1Pod(
            spec=k8s.V1PodSpec(
                containers=[
                    k8s.V1Container(
                        name="base",
                        resources=k8s.V1ResourceRequirements(
                            requests={"cpu": cpu_request, "memory": MEMORY_REQUEST}, limits=LIMITS
                        ),
                    )
                ]
            )
        )
    }


@task
def work() -> float:
    end = time.process_time() + WORK_CPU_SECONDS
    while time.process_time() < end:
        pass
    return time.process_time()


def _fanout(dag_id: str, executor_config: dict | None):
    @dag(dag_id=dag_id, schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_runs=1, tags=["bench"])
    def fanout():
        for i in range(FANOUT):
            if executor_config is None:
                work.override(task_id=f"work_{i}")()
            else:
                work.override(task_id=f"work_{i}", executor_config=executor_config)()

    return fanout()


_fanout("task_cpu_fanout_default", None)
_fanout("task_cpu_fanout_250m", _override("250m"))
_fanout("task_cpu_fanout_1cpu", _override("1"))
