"""What the real node ran, from the real thing (issue #27; test/runtime/support/real-kubelet.ts starts it, one per
test file, and stops it with SIGTERM). Every POLL seconds until SIGTERM, for the containers of the namespaces of
AIRFLOW_CDK8S_RECORDER_NAMESPACES (every namespace when unset):

- each container containerd's runc shim runs (its bundle, STATE/containerd/state/io.containerd.runtime.v2.task/k8s.io/
  <id>/: config.json, the OCI spec containerd gave runc, and init.pid) is recorded once, as soon as its process has
  exec'd its own program (not `runc init` any more): the OCI spec's args, env, cwd, mounts, root.readonly and
  annotations (the sandbox's name, namespace and uid, the container's name), and from /proc/<pid>/status the
  process's actual Uid, Gid, Groups, CapEff and NoNewPrivs; its hostname is its UTS namespace's (nsenter -u).
  OUT/records/<id>.json.
- each running container's memory (its cgroup, cgroup v1 under CGROUP_ROOT/kubepods, as the kubelet's cgroupfs
  driver lays it out): RSS and PSS summed over the processes of its cgroup.procs (the same sums the emulated
  kubelet makes over its mount namespace), and the cgroup's usage, max_usage (page cache included), limit and
  failcnt; the largest sample of each container (by RSS) is kept after it ends. OUT/stats.json, every second.
- with AIRFLOW_CDK8S_RECORDER_CONNECTIONS=1 (below), the pods' TCP connections, from both ends: every POLL, the sockets of each pod's network namespace
  (/proc/<pid>/net/tcp and tcp6 of one of its containers' processes); an ESTABLISHED socket whose local port the pod
  does not listen on is a connection the pod opened, and the pod holding the other end (its local address and port
  = the client's remote ones after kube-proxy's DNAT, its remote = the client's local: pod-to-pod traffic on the
  node is not masqueraded) is its destination. OUT/connections.jsonl, one line per connection, in the form of the
  emulated kubelet's (via "service" when the client dialled a Service's ClusterIP, else "direct").

    python3 real-node-recorder.py OUT NODE_STATE KUBECTL [CGROUP_ROOT=/acdk8s-realnode]

With each record goes the pod as the API server held it when the container was seen running (its labels, whether
the container is an init container, its resources): one `kubectl get pod` per container start.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

OUT = sys.argv[1]
NODE_STATE = sys.argv[2]
KUBECTL = sys.argv[3]
CGROUP_ROOT = sys.argv[4] if len(sys.argv) > 4 else "/acdk8s-realnode"
TASKS = os.path.join(NODE_STATE, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io")
MEMCG = f"/sys/fs/cgroup/memory{CGROUP_ROOT}/kubepods"
POLL = 0.2
# The namespaces whose containers are recorded (AIRFLOW_CDK8S_RECORDER_NAMESPACES, comma-separated; every namespace
# when unset): on the real node two test files run side by side, each with a recorder of its own, and each records
# and samples only its own chart's containers, not the other file's too.
NAMESPACES = {n for n in os.environ.get("AIRFLOW_CDK8S_RECORDER_NAMESPACES", "").split(",") if n}
# Whether the connections are recorded (AIRFLOW_CDK8S_RECORDER_CONNECTIONS=1; only the files that read
# connections.jsonl ask for them). Each pass reads /proc/<pid>/net/tcp and tcp6 of every pod, and the kernel walks its
# whole TCP hash table for each read (about 2 ms here, however few sockets the pod has): 15 ms per pod and pass, five
# passes a second, most of the recorder's CPU (a profile of 30 s: 8.2 s of 11 s busy), taken from Airflow's pods.
CONNECTIONS = os.environ.get("AIRFLOW_CDK8S_RECORDER_CONNECTIONS") == "1"
CAP_NAMES = [
    "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
    "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
    "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
    "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
    "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
    "checkpoint_restore",
]

stop = False


def _stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)


def read(p: str) -> str | None:
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None


def status_of(pid: int) -> dict:
    out = {}
    for line in (read(f"/proc/{pid}/status") or "").splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def cmdline(pid: int) -> list[str]:
    raw = read(f"/proc/{pid}/cmdline") or ""
    return [a for a in raw.split("\0") if a]


def file_id(p: str | None) -> str | None:
    """device:inode of a mount's source (a subPath's source is the kubelet's bind mount of the volume's file)."""
    try:
        st = os.stat(p) if p and p.startswith("/") else None
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}" if st else None


def write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


recorded: set[str] = set()
sandboxes: dict[str, dict] = {}
containers: dict[str, dict] = {}  # id -> identity of the container (for memory)
peaks: dict[str, dict] = {}


def annotation(spec: dict, *keys: str) -> str | None:
    a = spec.get("annotations") or {}
    for k in keys:
        if a.get(k):
            return a[k]
    return None


def record(cid: str) -> None:
    bundle = os.path.join(TASKS, cid)
    raw, pid_s = read(os.path.join(bundle, "config.json")), read(os.path.join(bundle, "init.pid"))
    if not raw or not pid_s or not pid_s.strip().isdigit():
        return
    spec = json.loads(raw)
    kind = annotation(spec, "io.kubernetes.cri.container-type")
    if kind == "sandbox":
        sandboxes[cid] = spec
        recorded.add(cid)
        return
    pid = int(pid_s.strip())
    argv = cmdline(pid)
    if not argv:
        return
    if os.path.basename(argv[0]) == "runc" or argv[:2] == ["runc", "init"] or (len(argv) > 1 and argv[1] == "init" and "runc" in argv[0]):
        return  # created, not yet started: runc's init has not exec'd the container's program
    st = status_of(pid)
    if not st:
        return
    sid = annotation(spec, "io.kubernetes.cri.sandbox-id") or ""
    if sid and sid not in sandboxes:
        sraw = read(os.path.join(TASKS, sid, "config.json"))
        if sraw:
            sandboxes[sid] = json.loads(sraw)
    sandbox = sandboxes.get(sid, {})
    ns = annotation(spec, "io.kubernetes.cri.sandbox-namespace") or annotation(sandbox, "io.kubernetes.cri.sandbox-namespace")
    pod = annotation(spec, "io.kubernetes.cri.sandbox-name") or annotation(sandbox, "io.kubernetes.cri.sandbox-name")
    uid = annotation(spec, "io.kubernetes.cri.sandbox-uid") or annotation(sandbox, "io.kubernetes.cri.sandbox-uid")
    name = annotation(spec, "io.kubernetes.cri.container-name")
    logdir = annotation(sandbox, "io.kubernetes.cri.sandbox-log-directory") or ""
    if not (ns and pod) and logdir.count("_") >= 2:  # /var/log/pods/<namespace>_<pod>_<uid>
        ns, pod, uid = os.path.basename(logdir).split("_", 2)
    if NAMESPACES and ns and ns not in NAMESPACES:
        recorded.add(cid)  # another file's container: never read again
        return
    cap = int(st.get("CapEff", "0"), 16)
    h = subprocess.run(["nsenter", "-t", str(pid), "-u", "hostname"], capture_output=True, text=True)
    proc = spec.get("process") or {}
    k = subprocess.run([KUBECTL, "--request-timeout=20s", "get", "pod", "-n", ns or "", pod or "", "-o", "json"], capture_output=True, text=True)
    obj = json.loads(k.stdout) if k.returncode == 0 else {}
    pspec = obj.get("spec") or {}
    inits = [c for c in pspec.get("initContainers") or [] if c.get("name") == name]
    cspec = (inits or [c for c in pspec.get("containers") or [] if c.get("name") == name] or [{}])[0]
    labels = (obj.get("metadata") or {}).get("labels") or {}
    uid = uid or (obj.get("metadata") or {}).get("uid")
    rec = {
        "id": cid,
        "namespace": ns,
        "pod": pod,
        "podUID": uid,
        "container": name,
        "pid": pid,
        "image": annotation(spec, "io.kubernetes.cri.image-name"),
        "argv": proc.get("args") or [],
        "running": argv,
        "env": dict(e.split("=", 1) for e in proc.get("env") or [] if "=" in e),
        "workdir": proc.get("cwd"),
        "mounts": [
            {"source": m.get("source"), "target": m.get("destination"), "readOnly": "ro" in (m.get("options") or []), "type": m.get("type"),
             "sourceId": file_id(m.get("source"))}
            for m in spec.get("mounts") or []
        ],
        "hostname": h.stdout.strip() if h.returncode == 0 else None,
        "uid": int(st["Uid"].split()[1]),
        "gid": int(st["Gid"].split()[1]),
        "groups": sorted(int(g) for g in st.get("Groups", "").split()),
        "caps": sorted(CAP_NAMES[i] if i < len(CAP_NAMES) else str(i) for i in range(64) if cap >> i & 1),
        "noNewPrivs": st.get("NoNewPrivs") == "1",
        "readOnlyRootFilesystem": bool((spec.get("root") or {}).get("readonly")),
        "cgroupsPath": (spec.get("linux") or {}).get("cgroupsPath"),
        "init": bool(inits),
        "labels": labels,
        "component": labels.get("app.kubernetes.io/component"),
        "resources": cspec.get("resources") or {},
        "podIP": (obj.get("status") or {}).get("podIP"),
        "podFound": bool(obj),
        "seenAt": time.time(),
    }
    write_json(os.path.join(OUT, "records", f"{cid}.json"), rec)
    recorded.add(cid)
    containers[cid] = rec


seen_conns: set = set()
ip_asked: dict = {}  # (namespace, pod) -> when its IP was last asked for


def refresh_pod_ips() -> None:
    """The IP of a pod whose container was recorded before the API server held it (status.podIP is written after the
    sandbox's network is up, and a container can start first): asked again, at most every 2 s per pod, until known,
    and written into the records of that pod's containers. Without it, a pod recorded that way (Postgres' pod in
    a CI run) was missing from every connection as a destination."""
    missing = {}
    for c in containers.values():
        if not c.get("podIP") and c.get("namespace") and c.get("pod") and os.path.exists(f"/proc/{c['pid']}"):
            missing.setdefault((c["namespace"], c["pod"]), []).append(c)
    for (ns, pod), cs in missing.items():
        if time.time() - ip_asked.get((ns, pod), 0) < 2:
            continue
        ip_asked[(ns, pod)] = time.time()
        k = subprocess.run([KUBECTL, "--request-timeout=10s", "get", "pod", "-n", ns, pod, "-o", "jsonpath={.status.podIP}"],
                           capture_output=True, text=True)
        ip = k.stdout.strip() if k.returncode == 0 else ""
        if not ip:
            continue
        for c in (c for c in containers.values() if (c.get("namespace"), c.get("pod")) == (ns, pod)):
            c["podIP"] = ip
            write_json(os.path.join(OUT, "records", f"{c['id']}.json"), c)


def hexaddr(h: str) -> str:
    """An address of /proc/net/tcp{,6} (host byte order, little-endian words) as text."""
    if len(h) == 8:
        return ".".join(str(b) for b in bytes.fromhex(h)[::-1])
    a = ipaddress.IPv6Address(b"".join(bytes.fromhex(h[i:i + 8])[::-1] for i in range(0, 32, 8)))
    return str(a.ipv4_mapped or a)


def sockets(pid: int) -> tuple[set, list]:
    listen, est = set(), []
    for f in ("tcp", "tcp6"):
        for line in (read(f"/proc/{pid}/net/{f}") or "").splitlines()[1:]:
            parts = line.split()
            if len(parts) < 4:
                continue
            (la, lp), (ra, rp), st = parts[1].split(":"), parts[2].split(":"), parts[3]
            if st == "0A":
                listen.add(int(lp, 16))
            elif st == "01":
                est.append((hexaddr(la), int(lp, 16), hexaddr(ra), int(rp, 16)))
    return listen, est


def sample_connections() -> None:
    pods = {}
    for c in containers.values():
        if c.get("podIP") and os.path.exists(f"/proc/{c['pid']}"):
            pods.setdefault((c["namespace"], c["pod"]), c)
    nets = {k: sockets(c["pid"]) for k, c in pods.items()}
    by_ip = {c["podIP"]: k for k, c in pods.items()}
    # a running pod whose IP is not known yet may be the other end of a connection: such a one waits for it
    ip_pending = any(not c.get("podIP") and os.path.exists(f"/proc/{c['pid']}") for c in containers.values())
    lines = []
    for k, (listen, est) in nets.items():
        c = pods[k]
        for la, lp, ra, rp in est:
            if lp in listen or ipaddress.ip_address(la).is_loopback:
                continue
            key = (k, lp, ra, rp)
            if key in seen_conns:
                continue
            dest, dport = by_ip.get(ra), rp
            if dest is None:  # through a Service: the pod holding the other end
                for k2, (listen2, est2) in nets.items():
                    hit = next((s for s in est2 if s[2] == c["podIP"] and s[3] == lp and s[1] in listen2), None)
                    if hit:
                        dest, dport = k2, hit[1]
                        break
            if dest is None and (ip_pending or (ra not in by_ip and not ra.startswith("10.0.0."))):
                continue  # the other end not (yet) seen: sampled again next time
            seen_conns.add(key)
            pod = lambda kk: None if kk is None else {"namespace": kk[0], "name": kk[1], "labels": pods[kk]["labels"]}
            d = pods.get(dest) if dest else None
            lines.append({"t": time.time(), "via": "direct" if ra in by_ip else "service",
                          "source": {"ip": c["podIP"], "pod": pod(k)},
                          "destination": {"ip": d["podIP"] if d else ra, "port": dport, "protocol": "TCP", "pod": pod(dest)},
                          **({} if ra in by_ip else {"service": {"namespace": None, "name": None, "ip": ra, "port": rp}})})
    if lines:
        with open(os.path.join(OUT, "connections.jsonl"), "a") as f:
            for l in lines:
                f.write(json.dumps(l) + "\n")


def memory_of(pids: list[int]) -> tuple[int, int, list[str]]:
    rss = pss = 0
    cmds = []
    for pid in pids:
        s = status_of(pid)
        rss += int((s.get("VmRSS") or "0 kB").split()[0])
        for line in (read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
        c = " ".join(cmdline(pid))[:200]
        if c:
            cmds.append(c)
    return rss, pss, cmds


def cg_dirs() -> dict[str, str]:
    """container id -> its memory cgroup directory."""
    out = {}
    for dirpath, dirnames, _ in os.walk(MEMCG):
        if os.path.basename(dirpath).startswith("pod"):
            for d in dirnames:
                out[d] = os.path.join(dirpath, d)
            dirnames[:] = []
    return out


def num(p: str) -> int:
    v = (read(p) or "0").strip()
    return int(v) if v.isdigit() else 0


def sample() -> None:
    now = {}
    dirs = cg_dirs()
    for cid, c in list(containers.items()):
        d = dirs.get(cid)
        if not d or not os.path.isdir(d):
            continue
        pids = [int(x) for x in (read(os.path.join(d, "cgroup.procs")) or "").split() if x.isdigit()]
        if not pids:
            continue
        rss, pss, cmds = memory_of(pids)
        total_rss = 0
        for line in (read(os.path.join(d, "memory.stat")) or "").splitlines():
            if line.startswith("total_rss "):
                total_rss = int(line.split()[1])
        cg = {
            "usageKiB": num(os.path.join(d, "memory.usage_in_bytes")) // 1024,
            "maxUsageKiB": num(os.path.join(d, "memory.max_usage_in_bytes")) // 1024,
            "limitKiB": num(os.path.join(d, "memory.limit_in_bytes")) // 1024,
            "totalRssKiB": total_rss // 1024,
            "failcnt": num(os.path.join(d, "memory.failcnt")),
        }
        meta = {"id": cid, "namespace": c["namespace"], "pod": c["pod"], "container": c["container"], "init": c["init"],
                "component": c["component"], "labels": c["labels"], "resources": c["resources"]}
        key = f"{c['namespace']}/{c['pod']}/{c['container']}/{cid[:12]}"
        peak = peaks.get(key)
        if not peak or rss > peak["rssKiB"]:
            peak = {**meta, "rssKiB": rss, "pssKiB": pss, "processes": len(pids), "commands": cmds[:12], "cgroup": cg}
        peak["cgroup"] = {**peak["cgroup"], "maxUsageKiB": max(peak["cgroup"]["maxUsageKiB"], cg["maxUsageKiB"]), "failcnt": cg["failcnt"]}
        peaks[key] = peak
        now[key] = {**meta, "processes": len(pids), "rssKiB": rss, "pssKiB": pss, "commands": cmds[:12], "cgroup": cg,
                    "peak": {"rssKiB": peak["rssKiB"], "pssKiB": peak["pssKiB"]}}
    write_json(os.path.join(OUT, "stats.json"), {"time": time.time(), "containers": now, "peaks": peaks})


def main() -> None:
    os.makedirs(os.path.join(OUT, "records"), exist_ok=True)
    last = 0.0
    while not stop:
        try:
            ids = os.listdir(TASKS)
        except OSError:
            ids = []
        for cid in ids:
            if cid not in recorded:
                try:
                    record(cid)
                except Exception as e:  # a container that ended while being read: the next poll sees it gone
                    print(f"record {cid}: {e}", file=sys.stderr, flush=True)
        if CONNECTIONS:
            try:
                refresh_pod_ips()
                sample_connections()
            except Exception as e:
                print(f"connections: {e}", file=sys.stderr, flush=True)
        if time.time() - last >= 1.0:
            last = time.time()
            try:
                sample()
            except Exception as e:
                print(f"sample: {e}", file=sys.stderr, flush=True)
        time.sleep(POLL)
    sample()


main()
