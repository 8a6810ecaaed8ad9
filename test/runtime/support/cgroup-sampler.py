"""Samples the real node's pod cgroups (cgroup v1, the kubelet's cgroupfs driver under --cgroup-root; see
scripts/runtime/real-node.sh) every INTERVAL seconds until SIGTERM, for test/runtime/real-node-task-cpu.bench.ts.

    python3 cgroup-sampler.py OUT.json [CGROUP_ROOT=/acdk8s-realnode] [INTERVAL=0.2]

Per pod (kubepods/<qos>/pod<uid>, guaranteed pods directly under kubepods) and per container below it: the CPU
time (cpuacct.usage, ns; a pod's counter is hierarchical and outlives its containers' cgroups, so its last value
is the pod's total), the kernel's own peak of memory.usage_in_bytes (memory.max_usage_in_bytes, page cache
included), the largest sampled total_rss and working set (usage - total_inactive_file, what the kubelet calls
the working set), cpu.shares, cpu.cfs_quota_us and cpu.stat's throttling. `exitSeen` says a container's cgroup
went while its pod's stayed: the pod's CPU total was read after that container ended. OUT.json is rewritten
(atomically) every second and at SIGTERM.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time

OUT = sys.argv[1]
ROOT = sys.argv[2] if len(sys.argv) > 2 else "/acdk8s-realnode"
INTERVAL = float(sys.argv[3]) if len(sys.argv) > 3 else 0.2
BASE = {s: f"/sys/fs/cgroup/{s}{ROOT}/kubepods" for s in ("cpuacct", "cpu", "memory")}

state: dict = {"interval": INTERVAL, "root": ROOT, "samples": 0, "pods": {}}
stop = False


def _stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)


def read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def num(path: str) -> int | None:
    v = read(path)
    return int(v.strip()) if v and v.strip().lstrip("-").isdigit() else None


def kv(path: str) -> dict:
    v = read(path)
    out = {}
    for line in (v or "").splitlines():
        k, _, n = line.partition(" ")
        if n.strip().isdigit():
            out[k] = int(n)
    return out


def pod_dirs() -> list[tuple[str, str, str]]:
    """(qos, uid, relative path below kubepods) of every pod cgroup."""
    out = []
    base = BASE["cpuacct"]
    for qos in ("burstable", "besteffort", ""):
        d = os.path.join(base, qos) if qos else base
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for e in entries:
            if e.startswith("pod") and os.path.isdir(os.path.join(d, e)):
                out.append((qos or "guaranteed", e[3:], os.path.join(qos, e) if qos else e))
    return out


def sample_dir(rel: str, rec: dict, now: float) -> bool:
    cpu = num(os.path.join(BASE["cpuacct"], rel, "cpuacct.usage"))
    if cpu is None:
        return False
    mem = os.path.join(BASE["memory"], rel)
    stat = kv(os.path.join(mem, "memory.stat"))
    usage = num(os.path.join(mem, "memory.usage_in_bytes"))
    rec.setdefault("firstSeen", now)
    rec["lastSeen"] = now
    rec["cpuNs"] = cpu
    peak = num(os.path.join(mem, "memory.max_usage_in_bytes"))
    if peak is not None:
        rec["maxUsageBytes"] = max(rec.get("maxUsageBytes", 0), peak)
    rss = stat.get("total_rss")
    if rss is not None:
        rec["maxRssBytes"] = max(rec.get("maxRssBytes", 0), rss)
    if usage is not None:
        ws = usage - stat.get("total_inactive_file", 0)
        rec["maxWorkingSetBytes"] = max(rec.get("maxWorkingSetBytes", 0), ws)
    if "shares" not in rec:
        rec["shares"] = num(os.path.join(BASE["cpu"], rel, "cpu.shares"))
        rec["cfsQuotaUs"] = num(os.path.join(BASE["cpu"], rel, "cpu.cfs_quota_us"))
        rec["cfsPeriodUs"] = num(os.path.join(BASE["cpu"], rel, "cpu.cfs_period_us"))
        rec["memoryLimitBytes"] = num(os.path.join(mem, "memory.limit_in_bytes"))
    throttle = kv(os.path.join(BASE["cpu"], rel, "cpu.stat"))
    if throttle:
        rec["cpuStat"] = throttle
    return True


def sample() -> None:
    now = time.time() * 1000
    for qos, uid, rel in pod_dirs():
        pod = state["pods"].setdefault(uid, {"qos": qos, "containers": {}})
        if not sample_dir(rel, pod, now):
            continue
        try:
            children = [c for c in os.listdir(os.path.join(BASE["cpuacct"], rel)) if os.path.isdir(os.path.join(BASE["cpuacct"], rel, c))]
        except OSError:
            children = []
        for cid in children:
            sample_dir(os.path.join(rel, cid), pod["containers"].setdefault(cid, {}), now)
        for cid, c in pod["containers"].items():
            if cid not in children and c.get("lastSeen", now) < now:
                c["exitSeen"] = True
    state["samples"] += 1


def write() -> None:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    state["samplerCpuSeconds"] = round(ru.ru_utime + ru.ru_stime, 3)
    state["writtenAt"] = time.time() * 1000
    tmp = f"{OUT}.tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, OUT)


last_write = 0.0
while not stop:
    t = time.monotonic()
    sample()
    if t - last_write >= 1:
        write()
        last_write = t
    time.sleep(max(0.0, INTERVAL - (time.monotonic() - t)))
write()
