#!/usr/bin/env python3
"""kubelet.py - the runtime tests' node agent: runs the pods the API server binds to one Node, from what the API
server holds, in the trixie root (scripts/runtime/build-root.sh). See docs/runtime-tests.md.

    kubelet.py run     --state DIR --root ROOT --node NAME [--kubeconfig FILE]   the agent (foreground)
    kubelet.py stop    --state DIR            stop a running agent (it kills its containers, removes its network)
    kubelet.py cleanup --state DIR            remove what a crashed agent left (processes, network namespaces, bridge)
    kubelet.py exec    --state DIR NAMESPACE POD CONTAINER -- CMD...   run CMD in a running container (like kubectl exec)
    kubelet.py stats   --state DIR            memory of every running container, as JSON

What it does, as a kubelet would:
- Lists the pods bound to its Node (spec.nodeName, set by the real kube-scheduler) every second and runs each new
  one: init containers in order, then the containers, with restartPolicy, and reports phase, conditions, pod IP
  and container states through the pods/status API. When a pod gets a deletionTimestamp it stops the containers
  (SIGTERM, the grace period, SIGKILL) and confirms the deletion (DELETE with gracePeriodSeconds=0), as the
  executor's pod deletion and the controllers' rollouts expect.
- Each pod gets its own network namespace with an IP on a bridge (10.244.0.0/24); each container its own mount
  and UTS namespace (hostname = pod name) on an overlay of the root (a private writable layer, read-only with
  readOnlyRootFilesystem), /etc/hosts, /etc/resolv.conf, and its volumeMounts bound from: persistentVolumeClaim ->
  the bound PersistentVolume's hostPath under STATE/node/, configMap and secret -> files written from the API
  objects, emptyDir -> a directory; subPath and readOnly honoured.
- The process runs as securityContext runAsUser/runAsGroup (pod or container level, else the image's user), with
  fsGroup and supplementalGroups as supplementary groups, the capability bounding set from capabilities.drop/add
  (Docker's default set otherwise), no_new_privs when allowPrivilegeEscalation is false, and the environment of
  the image, the Service links and KUBERNETES_SERVICE_* (as the kubelet injects them), env and envFrom (values,
  secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef; $(VAR) expanded) - a missing Secret or key is a
  CreateContainerConfigError, retried, as on a real node. command/args are expanded and run; for args without a
  command the image's entrypoint applies (the postgres image's is emulated; apache/airflow's is NOT run).
- Probes: httpGet, tcpSocket and exec (startup, readiness, liveness) with their timings; Ready follows readiness.
- A userspace kube-proxy: every Service's ClusterIP:port (10.0.0.0/24, routed locally) forwards to a ready
  endpoint from the Endpoints object the real endpoints controller maintains; default/kubernetes forwards to the
  API server. /etc/hosts of each pod maps the Services' DNS names to their ClusterIPs.
Not done: cgroups (requests and limits are not enforced), seccomp, image pulls (apache/airflow:* and postgres:17*
are served from the root), Pod Security admission (1.20 has none). Only the host's python3 standard library.
"""
import argparse
import base64
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

BRIDGE = "acdk8s0"
NETNS_PREFIX = "acdk8s-"
# A pod's network namespace: NETNS_PREFIX and its Pod.key (the first 8 hex digits of its UID).
POD_NETNS = re.compile(re.escape(NETNS_PREFIX) + "[0-9a-f]{8}")
VETH_PREFIX = "acv"
SELF = os.path.abspath(__file__)

# Docker's default capability set (what a container gets when securityContext.capabilities says nothing)
DEFAULT_CAPS = ["chown", "dac_override", "fsetid", "fowner", "mknod", "net_raw", "setgid", "setuid", "setfcap",
                "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write"]

# The images the root serves, with what their image config says (docker inspect): user, workdir, env,
# entrypoint, cmd. apache/airflow's ENTRYPOINT (dumb-init + /entrypoint, which may run `airflow db check`) is not
# run: a container with args and no command runs its args directly (docs/runtime-tests.md).
AIRFLOW_PATH = "/home/airflow/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGES = [
    # The official chart's PgBouncer image (apache/airflow:airflow-pgbouncer-*: Alpine, /usr/bin/pgbouncer): Debian
    # trixie's pgbouncer in a layer above the root (scripts/runtime/build-layer.sh pgbouncer), which links
    # /usr/bin/pgbouncer as the image has it. The chart's pod runs it with a command and its own user (65534).
    (re.compile(r"^(docker\.io/)?apache/airflow:airflow-pgbouncer-"), {
        "user": (65534, 65534), "workdir": "/", "entrypoint": [], "cmd": [], "layer": "pgbouncer",
        "env": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}),
    (re.compile(r"^(docker\.io/)?apache/airflow:"), {
        "user": (50000, 0), "workdir": "/opt/airflow", "entrypoint": [], "cmd": [],
        "entrypointNotRun": ["/usr/bin/dumb-init", "--", "/entrypoint"],
        "env": {"PATH": AIRFLOW_PATH, "AIRFLOW_HOME": "/opt/airflow", "AIRFLOW_UID": "50000",
                "AIRFLOW_USER_HOME_DIR": "/home/airflow", "HOME": "/home/airflow", "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8", "LC_CTYPE": "C.UTF-8", "PYTHONUNBUFFERED": "1"}}),
    # The Celery broker (docs/celery.md): Debian's redis-server in the root. The chart runs redis-server itself
    # (`command`), so the image's entrypoint (privilege drop, Redis 8 modules) is never needed.
    (re.compile(r"^(docker\.io/)?(library/)?redis:"), {
        "user": (0, 0), "workdir": "/data", "entrypoint": ["docker-entrypoint.sh"], "cmd": ["redis-server"],
        "env": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}),
    (re.compile(r"^(docker\.io/)?(library/)?postgres:17"), {
        "user": (0, 0), "workdir": "/", "entrypoint": ["docker-entrypoint.sh"], "cmd": ["postgres"],
        "env": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/17/bin",
                "PGDATA": "/var/lib/postgresql/data", "LANG": "C.UTF-8", "PG_MAJOR": "17"}}),
]


def image_config(image):
    for rx, cfg in IMAGES:
        if rx.search(image):
            return cfg
    aliases = os.environ.get("AIRFLOW_CDK8S_RUNTIME_IMAGE_ALIASES", "")  # "my-airflow=apache/airflow:x,..."
    for pair in filter(None, aliases.split(",")):
        alias, _, target = pair.partition("=")
        if image == alias or image.startswith(alias + ":"):
            return image_config(target)
    return None


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def log(*parts):
    sys.stderr.write("%s kubelet: %s\n" % (time.strftime("%H:%M:%S"), " ".join(str(p) for p in parts)))
    sys.stderr.flush()


def run(cmd, check=True, quiet=False):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %s: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


# ----------------------------------------------------------------------------------------------- API client
class Api:
    """The API server, with the credentials of the kubeconfig (kubectl config view --raw --minify)."""

    def __init__(self, kubeconfig):
        kubectl = os.environ.get("KUBECTL", "kubectl")
        cfg = json.loads(subprocess.check_output(
            [kubectl, "--kubeconfig", kubeconfig, "config", "view", "--raw", "--minify", "-o", "json"], text=True))
        cluster = cfg["clusters"][0]["cluster"]
        user = cfg["users"][0]["user"]
        self.server = cluster["server"].rstrip("/")
        self.ctx = ssl.create_default_context()
        if cluster.get("certificate-authority-data"):
            self.ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif cluster.get("certificate-authority"):
            self.ctx.load_verify_locations(cafile=cluster["certificate-authority"])
        if cluster.get("insecure-skip-tls-verify"):
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        self.headers = {}
        if user.get("token"):
            self.headers["Authorization"] = "Bearer " + user["token"]
        if user.get("client-certificate-data"):
            d = os.path.join(os.environ.get("AIRFLOW_CDK8S_RUNTIME_STATE", "/tmp"), ".client")
            os.makedirs(d, mode=0o700, exist_ok=True)
            with open(d + "/crt", "wb") as f:
                f.write(base64.b64decode(user["client-certificate-data"]))
            with open(d + "/key", "wb") as f:
                f.write(base64.b64decode(user["client-key-data"]))
            self.ctx.load_cert_chain(d + "/crt", d + "/key")
        u = urllib.parse.urlparse(self.server)
        self.host, self.port = u.hostname, u.port or 443

    def request(self, method, path, body=None, content_type="application/json", ok404=False):
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404 and ok404:
                return None
            raise RuntimeError("%s %s: HTTP %s %s" % (method, path, e.code, e.read().decode(errors="replace")[:500]))

    def get(self, path, ok404=False):
        return self.request("GET", path, ok404=ok404)


# ------------------------------------------------------------------------------------------------ helpers
def secure_join(root, path):
    """root + path, resolving symlinks inside root (never escaping it), like runc's securejoin."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    current = root
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == "..":
            current = os.path.dirname(current) if current != root else root
            if not current.startswith(root):
                current = root
            continue
        nxt = os.path.join(current, p)
        if os.path.islink(nxt):
            hops += 1
            if hops > 40:
                raise RuntimeError("too many symlinks in %s" % path)
            target = os.readlink(nxt)
            if target.startswith("/"):
                current = root
            parts = [q for q in target.split("/") if q not in ("", ".")] + parts
            continue
        current = nxt
    return current


def expand(value, env):
    """The kubelet's $(VAR) expansion: defined variables are replaced, $$ escapes, others are left as they are."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), value)


def parse_quantity(q):
    q = str(q)
    units = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9,
             "T": 10 ** 12, "m": 0.001}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[:-len(u)]) * f
    return float(q)


def mntns_of(pid):
    try:
        return os.stat("/proc/%d/ns/mnt" % pid).st_ino
    except OSError:
        return None


def pids_in_mntns(ino):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat("/proc/%s/ns/mnt" % d).st_ino == ino:
                    out.append(int(d))
            except OSError:
                pass
    return out


def memory_of(pids):
    """Sum of VmRSS and of Pss (smaps_rollup) over the processes, in KiB, and their command lines."""
    rss = pss = 0
    cmds = []
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmds.append(f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120])
        except OSError:
            pass
    return rss, pss, cmds


# ------------------------------------------------------------------------------------------------ network
class Network:
    """The node's pod network: a bridge with the gateway IP, one network namespace + veth per pod, and the
    Service CIDR routed locally so that the userspace proxy can listen on every ClusterIP."""

    def __init__(self, pod_cidr, service_cidr):
        self.net = ipaddress.ip_network(pod_cidr)
        self.service_cidr = service_cidr
        hosts = list(self.net.hosts())
        self.gateway = str(hosts[0])
        self.free = [str(h) for h in hosts[1:]]
        self.lock = threading.Lock()

    def up(self):
        for r in run(["ip", "-4", "route", "show"]).stdout.splitlines():
            dest = r.split()[0]
            if dest != "default" and not r.startswith("local") and "/" in dest:
                for mine in (self.net, ipaddress.ip_network(self.service_cidr)):
                    if ipaddress.ip_network(dest, strict=False).overlaps(mine) and BRIDGE not in r:
                        raise RuntimeError("the network %s overlaps the route '%s' of this machine" % (mine, r))
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", "%s/%d" % (self.gateway, self.net.prefixlen), "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])
        run(["ip", "route", "replace", "local", self.service_cidr, "dev", "lo"])

    @staticmethod
    def down():
        # Only the pods' own namespaces (NETNS_PREFIX + the 8 hex digits of Pod.key): the real node's namespace
        # (scripts/runtime/real-node.sh, acdk8s-realnode) may be running beside this stage and is not ours.
        for ns in run(["ip", "netns", "list"], check=False).stdout.split("\n"):
            ns = ns.split(" ")[0]
            if POD_NETNS.fullmatch(ns):
                run(["ip", "netns", "delete", ns], check=False)
        run(["ip", "link", "delete", BRIDGE], check=False)

    @staticmethod
    def down_routes(service_cidr):
        run(["ip", "route", "del", "local", service_cidr, "dev", "lo"], check=False)

    def sandbox(self, key):
        with self.lock:
            ip = self.free.pop(0)
        ns, veth = NETNS_PREFIX + key, VETH_PREFIX + key
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "acp" + key])
        run(["ip", "link", "set", "acp" + key, "netns", ns])
        run(["ip", "link", "set", veth, "master", BRIDGE])
        run(["ip", "link", "set", veth, "up"])
        inside = ["ip", "netns", "exec", ns]
        run(inside + ["ip", "link", "set", "acp" + key, "name", "eth0"])
        run(inside + ["ip", "addr", "add", "%s/%d" % (ip, self.net.prefixlen), "dev", "eth0"])
        run(inside + ["ip", "link", "set", "eth0", "up"])
        run(inside + ["ip", "link", "set", "lo", "up"])
        run(inside + ["ip", "route", "add", "default", "via", self.gateway])
        return ns, ip

    def release(self, ns, ip):
        run(["ip", "netns", "delete", ns], check=False)
        with self.lock:
            if ip and ip not in self.free:
                self.free.append(ip)


class ServiceProxy(threading.Thread):
    """kube-proxy in userspace mode: ClusterIP:port -> a ready endpoint (Endpoints object) or the API server."""

    def __init__(self, api, apiserver):
        super().__init__(daemon=True)
        self.api, self.apiserver = api, apiserver
        self.listeners = {}  # (ip, port) -> socket
        self.backends = {}   # (ip, port) -> [(host, port)]
        self.services = []
        self.rr = 0
        self.stopping = False
        self.lock = threading.Lock()
        self.on_change = None  # called when the set of Services (name -> ClusterIP) changed
        self.names = {}      # (ip, port) -> (namespace, name) of the Service
        self.on_connect = None  # called with (client address, Service (ip, port), backend) for every connection

    def sync(self):
        with self.lock:
            self._sync()

    def _sync(self):
        services = self.api.get("/api/v1/services")["items"]
        endpoints = {(e["metadata"]["namespace"], e["metadata"]["name"]): e
                     for e in self.api.get("/api/v1/endpoints")["items"]}
        wanted = {}
        names = {}
        for s in services:
            ip = s["spec"].get("clusterIP")
            if not ip or ip == "None":
                continue
            ns, name = s["metadata"]["namespace"], s["metadata"]["name"]
            for p in s["spec"].get("ports", []):
                if p.get("protocol", "TCP") != "TCP":
                    continue
                names[(ip, p["port"])] = (ns, name)
                if (ns, name) == ("default", "kubernetes"):
                    wanted[(ip, p["port"])] = [self.apiserver]
                    continue
                backs = []
                for sub in (endpoints.get((ns, name)) or {}).get("subsets", []) or []:
                    ports = [ep["port"] for ep in sub.get("ports", []) if ep.get("name") == p.get("name")]
                    for a in sub.get("addresses", []) or []:
                        backs += [(a["ip"], port) for port in ports]
                wanted[(ip, p["port"])] = backs
        before = {(x["metadata"]["namespace"], x["metadata"]["name"], x["spec"].get("clusterIP")) for x in self.services}
        after = {(x["metadata"]["namespace"], x["metadata"]["name"], x["spec"].get("clusterIP")) for x in services}
        self.services = services
        self.backends = wanted
        self.names = names
        if before != after and self.on_change:
            self.on_change()
        # Like kube-proxy's REJECT rule for a Service without ready endpoints: nothing listens, so a connection is
        # refused (a TCP check such as wait-for-db keeps waiting) instead of being accepted and dropped.
        for key, backs in wanted.items():
            if backs and key not in self.listeners:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(key)
                s.listen(64)
                self.listeners[key] = s
                threading.Thread(target=self.accept_loop, args=(key, s), daemon=True).start()
        for key in list(self.listeners):
            if not wanted.get(key):
                sock = self.listeners.pop(key)
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
                except OSError:
                    pass
                sock.close()

    def accept_loop(self, key, lsock):
        while not self.stopping:
            try:
                c, client = lsock.accept()
            except OSError:
                return
            backs = self.backends.get(key) or []
            if not backs:
                c.close()
                continue
            self.rr += 1
            backend = backs[self.rr % len(backs)]
            if self.on_connect:
                self.on_connect(client, key, backend)
            threading.Thread(target=self.pump, args=(c, backend), daemon=True).start()

    @staticmethod
    def pump(c, backend):
        try:
            b = socket.create_connection(backend, timeout=5)
        except OSError:
            c.close()
            return
        b.settimeout(None)
        socks = [c, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 3600)
                if not r:
                    break
                done = False
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        done = True
                        break
                    (b if s is c else c).sendall(data)
                if done:
                    break
        except OSError:
            pass
        finally:
            c.close()
            b.close()

    def run(self):
        while not self.stopping:
            try:
                self.sync()
            except Exception as e:  # the API server may be briefly unavailable; try again
                log("service proxy sync failed:", e)
            time.sleep(1)

    def hosts_lines(self, pod_namespace):
        lines = []
        for s in self.services:
            ip = s["spec"].get("clusterIP")
            if not ip or ip == "None":
                continue
            n, ns = s["metadata"]["name"], s["metadata"]["namespace"]
            names = ["%s.%s.svc.cluster.local" % (n, ns), "%s.%s.svc" % (n, ns), "%s.%s" % (n, ns)]
            if ns == pod_namespace:
                names.append(n)
            lines.append("%s\t%s" % (ip, " ".join(names)))
        return lines


# ------------------------------------------------------------------------------------------------ containers
class ContainerError(Exception):
    """A container cannot be created (reason as the kubelet reports it: CreateContainerConfigError, ...)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class Container:
    def __init__(self, pod, spec, init):
        self.pod, self.spec, self.init = pod, spec, init
        self.name = spec["name"]
        self.restarts = 0
        self.state = {"waiting": {"reason": "PodInitializing" if not init else "ContainerCreating"}}
        self.last_state = {}
        self.ready = False
        self.started = False
        self.proc = None
        self.mntns = None
        self.record = None
        self.exit_code = None
        self.probe_threads = []

    def status(self, image_id):
        return {"name": self.name, "ready": self.ready, "restartCount": self.restarts, "image": self.spec["image"],
                "imageID": image_id, "started": self.started if not self.init else None,
                "containerID": "airflow-cdk8s-runtime://%s/%s/%d" % (self.pod.key, self.name, self.restarts),
                "state": self.state, "lastState": self.last_state}

    def pids(self):
        return pids_in_mntns(self.mntns) if self.mntns else []


class Pod(threading.Thread):
    def __init__(self, kubelet, obj):
        super().__init__(daemon=True)
        self.k = kubelet
        self.obj = obj
        m = obj["metadata"]
        self.ns, self.name, self.uid = m["namespace"], m["name"], m["uid"]
        self.key = self.uid.replace("-", "")[:8]
        self.dir = os.path.join(kubelet.state, "pods", "%s_%s_%s" % (self.ns, self.name, self.key))
        self.spec = obj["spec"]
        self.inits = [Container(self, c, True) for c in self.spec.get("initContainers", []) or []]
        self.containers = [Container(self, c, False) for c in self.spec["containers"]]
        self.phase = "Pending"
        self.ip = None
        self.netns = None
        self.start_time = now_iso()
        self.initialized = False
        self.stop_event = threading.Event()
        self.grace = 30
        self.finished = threading.Event()
        self.lock = threading.Lock()
        self.message = None

    # ------------------------------------------------------------------ status
    def report(self):
        with self.lock:
            self._report()

    def _report(self):
        ready = self.phase == "Running" and all(c.ready for c in self.containers)
        t = now_iso()
        conds = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": self.start_time},
                 {"type": "Initialized", "status": "True" if self.initialized else "False", "lastTransitionTime": t},
                 {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": t},
                 {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": t}]
        image_id = "airflow-cdk8s-runtime://" + os.path.basename(self.k.root)
        status = {"phase": self.phase, "conditions": conds, "hostIP": self.k.host_ip, "startTime": self.start_time,
                  "containerStatuses": [c.status(image_id) for c in self.containers]}
        if self.inits:
            status["initContainerStatuses"] = [c.status(image_id) for c in self.inits]
        if self.ip:
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        if self.message:
            status["message"] = self.message
        try:
            self.k.api.request("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (self.ns, self.name),
                               {"metadata": {"uid": self.uid}, "status": status}, "application/merge-patch+json")
            self.k.event(self, "status", phase=self.phase, ready=ready)
        except Exception as e:
            log("status of %s/%s not reported: %s" % (self.ns, self.name, e))

    # ------------------------------------------------------------------ volumes
    def prepare_volumes(self):
        vols = {}
        for v in self.spec.get("volumes", []) or []:
            name = v["name"]
            d = os.path.join(self.dir, "volumes", name)
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                pvc = self.k.api.get("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (self.ns, claim), ok404=True)
                if not pvc:
                    raise ContainerError("ContainerCreating", 'persistentvolumeclaim "%s" not found' % claim)
                if pvc.get("status", {}).get("phase") != "Bound":
                    raise ContainerError("ContainerCreating", 'persistentvolumeclaim "%s" is not Bound' % claim)
                pv = self.k.api.get("/api/v1/persistentvolumes/" + pvc["spec"]["volumeName"])
                vols[name] = self.host_path(pv["spec"].get("hostPath") or pv["spec"].get("local"), "PersistentVolume " + pv["metadata"]["name"])
            elif "hostPath" in v:
                vols[name] = self.host_path(v["hostPath"], "hostPath volume " + name)
            elif "emptyDir" in v:
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o777)
                vols[name] = d
            elif "configMap" in v or "secret" in v:
                kind = "configMap" if "configMap" in v else "secret"
                src = v[kind]
                obj_name = src.get("name") if kind == "configMap" else src.get("secretName")
                path = "configmaps" if kind == "configMap" else "secrets"
                obj = self.k.api.get("/api/v1/namespaces/%s/%s/%s" % (self.ns, path, obj_name), ok404=True)
                if obj is None and not src.get("optional"):
                    raise ContainerError("ContainerCreating", 'MountVolume.SetUp failed for volume "%s": %s "%s" not found'
                                         % (name, "configmap" if kind == "configMap" else "secret", obj_name))
                data = {}
                if obj:
                    if kind == "configMap":
                        data = {k: val.encode() for k, val in (obj.get("data") or {}).items()}
                        data.update({k: base64.b64decode(val) for k, val in (obj.get("binaryData") or {}).items()})
                    else:
                        data = {k: base64.b64decode(val) for k, val in (obj.get("data") or {}).items()}
                mode = src.get("defaultMode", 0o644)
                items = src.get("items") or [{"key": k, "path": k} for k in data]
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                for it in items:
                    if it["key"] not in data:
                        raise ContainerError("ContainerCreating", 'volume "%s": key "%s" not in %s %s'
                                             % (name, it["key"], kind, obj_name))
                    target = os.path.join(d, it["path"])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as f:
                        f.write(data[it["key"]])
                    os.chmod(target, it.get("mode", mode))
                    fs_group = (self.spec.get("securityContext") or {}).get("fsGroup")
                    if fs_group is not None:
                        os.chown(target, 0, fs_group)
                vols[name] = d
            else:
                raise ContainerError("ContainerCreating", 'volume "%s": type %s is not supported by the runtime kubelet'
                                     % (name, [k for k in v if k != "name"]))
        return vols

    def host_path(self, src, what):
        if not src or "path" not in src:
            raise ContainerError("ContainerCreating", "%s has no hostPath/local path" % what)
        d = os.path.join(self.k.state, "node", os.path.normpath("/" + src["path"]).lstrip("/"))
        t = src.get("type", "")
        if not os.path.exists(d):
            if t in ("DirectoryOrCreate", ""):
                os.makedirs(d, mode=0o755)  # as the kubelet creates it: root, 0755
            else:
                raise ContainerError("ContainerCreating", "%s: hostPath %s (type %s) does not exist" % (what, src["path"], t))
        return d

    # ------------------------------------------------------------------ env
    def resolve_env(self, c, image):
        env = {}
        spec = c.spec
        for ef in spec.get("envFrom", []) or []:
            prefix = ef.get("prefix", "")
            ref = ef.get("configMapRef") or ef.get("secretRef")
            kind = "configmaps" if "configMapRef" in ef else "secrets"
            obj = self.k.api.get("/api/v1/namespaces/%s/%s/%s" % (self.ns, kind, ref["name"]), ok404=True)
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ContainerError("CreateContainerConfigError", '%s "%s" not found' % (kind[:-1], ref["name"]))
            for k, val in (obj.get("data") or {}).items():
                env[prefix + k] = base64.b64decode(val).decode() if kind == "secrets" else val
        for e in spec.get("env", []) or []:
            n = e["name"]
            if "value" in e:
                env[n] = expand(e["value"], {**self.k.service_env(self.ns), **env})
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if "secretKeyRef" in vf or "configMapKeyRef" in vf:
                    ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
                    kind = "secrets" if "secretKeyRef" in vf else "configmaps"
                    obj = self.k.api.get("/api/v1/namespaces/%s/%s/%s" % (self.ns, kind, ref["name"]), ok404=True)
                    if obj is None or ref["key"] not in (obj.get("data") or {}):
                        if ref.get("optional"):
                            continue
                        what = "secret" if kind == "secrets" else "configmap"
                        if obj is None:
                            raise ContainerError("CreateContainerConfigError", '%s "%s" not found' % (what, ref["name"]))
                        raise ContainerError("CreateContainerConfigError", "couldn't find key %s in %s %s/%s"
                                             % (ref["key"], what.capitalize(), self.ns, ref["name"]))
                    val = obj["data"][ref["key"]]
                    env[n] = base64.b64decode(val).decode() if kind == "secrets" else val
                elif "fieldRef" in vf:
                    env[n] = self.field(vf["fieldRef"]["fieldPath"])
                elif "resourceFieldRef" in vf:
                    rf = vf["resourceFieldRef"]
                    section, _, res = rf["resource"].partition(".")
                    q = ((spec.get("resources") or {}).get(section) or {}).get(res)
                    divisor = parse_quantity(rf.get("divisor", "1"))
                    env[n] = str(int(-(-parse_quantity(q) // divisor))) if q else "0"
        return env

    def field(self, path):
        m = self.obj["metadata"]
        simple = {"metadata.name": self.name, "metadata.namespace": self.ns, "metadata.uid": self.uid,
                  "spec.nodeName": self.spec.get("nodeName", ""), "spec.serviceAccountName": self.spec.get("serviceAccountName", ""),
                  "status.hostIP": self.k.host_ip, "status.podIP": self.ip or "", "status.podIPs": self.ip or ""}
        if path in simple:
            return simple[path]
        mm = re.match(r"metadata\.(labels|annotations)\['(.*)'\]$", path)
        if mm:
            return (m.get(mm.group(1)) or {}).get(mm.group(2), "")
        raise ContainerError("CreateContainerConfigError", "fieldRef %s is not supported by the runtime kubelet" % path)

    # ------------------------------------------------------------------ run one container
    def security(self, c, image):
        psc = self.spec.get("securityContext") or {}
        csc = c.spec.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser", image["user"][0]))
        gid = csc.get("runAsGroup", psc.get("runAsGroup", image["user"][1] if uid == image["user"][0] else 0))
        if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) and uid == 0:
            raise ContainerError("CreateContainerConfigError", "container has runAsNonRoot and image will run as root")
        groups = []
        if psc.get("fsGroup") is not None:
            groups.append(psc["fsGroup"])
        groups += psc.get("supplementalGroups", []) or []
        caps = set(DEFAULT_CAPS)
        cc = csc.get("capabilities") or {}
        drop = [x.lower() for x in cc.get("drop", []) or []]
        caps = set() if "all" in drop else caps - set(drop)
        caps |= {x.lower() for x in cc.get("add", []) or []}
        caps = {x[4:] if x.startswith("cap_") else x for x in caps}
        if csc.get("privileged"):
            caps = {"all"}
        nnp = csc.get("allowPrivilegeEscalation") is False
        return {"uid": uid, "gid": gid, "groups": sorted(set(groups)), "caps": sorted(caps), "noNewPrivs": nnp,
                "readOnlyRootFilesystem": bool(csc.get("readOnlyRootFilesystem"))}

    def argv(self, c, image, env):
        command = [expand(x, env) for x in c.spec.get("command", []) or []]
        args = [expand(x, env) for x in c.spec.get("args", []) or []]
        if command:
            return command + args
        return image["entrypoint"] + (args if args else image["cmd"])

    def start_container(self, c, vols):
        image = image_config(c.spec["image"])
        if image is None:
            raise ContainerError("ErrImagePull", 'image "%s" is not served by the runtime root (apache/airflow:*, apache/airflow:airflow-pgbouncer-*, postgres:17*, redis:*)'
                                 % c.spec["image"])
        layers = []
        if image.get("layer"):
            layer = "%s.layer-%s" % (self.k.root, image["layer"])
            if not os.path.isfile(os.path.join(layer, ".airflow-cdk8s-layer")):
                raise ContainerError("ErrImagePull", 'image "%s" needs the %s layer: run scripts/runtime/build-layer.sh %s'
                                     % (c.spec["image"], image["layer"], image["layer"]))
            layers.append(layer)
        env = dict(image["env"])
        env["HOSTNAME"] = self.hostname()
        env.update(self.k.service_env(self.ns))
        env.update(self.resolve_env(c, image))
        argv = self.argv(c, image, env)
        if not argv:
            raise ContainerError("CreateContainerError", "no command: the image's entrypoint is not run by the runtime kubelet")
        sec = self.security(c, image)
        cdir = os.path.join(self.dir, "containers", "%s-%d" % (c.name, c.restarts))
        shutil.rmtree(cdir, ignore_errors=True)
        for sub in ("upper", "work", "rootfs"):
            os.makedirs(os.path.join(cdir, sub))
        mounts = []
        for vm in c.spec.get("volumeMounts", []) or []:
            if vm["name"] not in vols:
                raise ContainerError("CreateContainerConfigError", 'volumeMount "%s": no volume of that name' % vm["name"])
            src = vols[vm["name"]]
            if vm.get("subPath"):
                src = os.path.join(src, expand(vm["subPath"], env))
                if not os.path.exists(src):
                    os.makedirs(src)  # the kubelet creates a missing subPath as a directory
            mounts.append({"source": src, "target": vm["mountPath"], "readOnly": bool(vm.get("readOnly"))})
        workdir = c.spec.get("workingDir") or image["workdir"]
        spec = {"root": self.k.root, "layers": layers, "dir": cdir, "hostname": self.hostname(), "podDir": self.dir, "mounts": mounts,
                "env": env, "argv": argv, "workdir": workdir, **sec}
        with open(os.path.join(cdir, "spec.json"), "w") as f:
            json.dump(spec, f)
        os.chmod(os.path.join(cdir, "spec.json"), 0o600)
        logf = open(os.path.join(self.dir, "logs", "%s-%d.log" % (c.name, c.restarts)), "ab")
        cmd = ["nsenter", "--net=/run/netns/" + self.netns, "--", "unshare", "--mount", "--uts", "--ipc",
               "--propagation", "private", "--", sys.executable, SELF, "_container", os.path.join(cdir, "spec.json")]
        c.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True, close_fds=True)
        logf.close()
        started = os.path.join(cdir, "started")
        deadline = time.time() + 30
        while not os.path.exists(started):
            if c.proc.poll() is not None or time.time() > deadline:
                break
            time.sleep(0.05)
        c.mntns = int(open(started).read()) if os.path.exists(started) else mntns_of(c.proc.pid)
        c.record = {"namespace": self.ns, "pod": self.name, "podUID": self.uid, "container": c.name, "restart": c.restarts,
                    "init": c.init, "pid": c.proc.pid, "mntns": c.mntns, "image": c.spec["image"],
                    "entrypointNotRun": image.get("entrypointNotRun") if not c.spec.get("command") else None,
                    "argv": argv, "env": env, "workdir": workdir, "mounts": mounts, "hostname": self.hostname(),
                    "podIP": self.ip, "resources": c.spec.get("resources") or {},
                    "component": (self.obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component"),
                    "labels": self.obj["metadata"].get("labels") or {}, "startedAt": now_iso(), **sec}
        rec = os.path.join(self.dir, "containers", "%s.json" % c.name)
        with open(rec + ".tmp", "w") as f:
            json.dump(c.record, f, indent=1)
        os.chmod(rec + ".tmp", 0o600)
        os.replace(rec + ".tmp", rec)
        c.state = {"running": {"startedAt": c.record["startedAt"]}}
        c.exit_code = None
        self.k.event(self, "start", container=c.name, restart=c.restarts, pid=c.proc.pid, argv=argv[:6])

    def hostname(self):
        return self.spec.get("hostname") or self.name

    def kill_container(self, c, grace):
        if not c.proc or c.proc.poll() is not None:
            return
        for p in c.pids():
            try:
                os.kill(p, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + grace
        while c.proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        for _ in range(3):
            left = c.pids()
            if not left and c.proc.poll() is not None:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
        c.proc.wait()

    def finish(self, c, code):
        reason = "Completed" if code == 0 else ("Error" if code > 0 else "Error")
        c.exit_code = code
        started = (c.state.get("running") or {}).get("startedAt", now_iso())
        c.state = {"terminated": {"exitCode": code if code >= 0 else 128 - code, "reason": reason,
                                  "startedAt": started, "finishedAt": now_iso(),
                                  "containerID": "airflow-cdk8s-runtime://%s/%s/%d" % (self.key, c.name, c.restarts)}}
        c.ready = False
        self.k.event(self, "exit", container=c.name, restart=c.restarts, exitCode=code)

    # ------------------------------------------------------------------ probes
    def probe_once(self, c, probe):
        timeout = probe.get("timeoutSeconds", 1)
        try:
            if "httpGet" in probe:
                h = probe["httpGet"]
                port = self.port_number(c, h["port"])
                url = "%s://%s:%d%s" % (h.get("scheme", "HTTP").lower(), h.get("host") or self.ip, port, h.get("path", "/"))
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    return 200 <= r.status < 400
            if "tcpSocket" in probe:
                t = probe["tcpSocket"]
                socket.create_connection((t.get("host") or self.ip, self.port_number(c, t["port"])), timeout=timeout).close()
                return True
            if "exec" in probe:
                if os.environ.get("AIRFLOW_CDK8S_KUBELET_EXEC_PROBES", "1") == "0":
                    return True
                r = exec_in(c.record, probe["exec"]["command"], timeout=timeout, capture=True)
                if r.returncode != 0:
                    with open(os.path.join(self.dir, "logs", "%s-probes.log" % c.name), "a") as f:
                        f.write("%s exec probe %s exit %s\n%s\n" % (now_iso(), probe["exec"]["command"], r.returncode, r.stdout[-2000:]))
                return r.returncode == 0
        except Exception:
            return False
        return True

    def port_number(self, c, port):
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in c.spec.get("ports", []) or []:
            if p.get("name") == port:
                return p["containerPort"]
        raise RuntimeError("no container port named %s" % port)

    def probe_loop(self, c, restart_no):
        started = "startupProbe" not in c.spec
        rp, lp, sp = c.spec.get("readinessProbe"), c.spec.get("livenessProbe"), c.spec.get("startupProbe")
        if rp is None:
            c.ready = True
            self.report()
        t0 = time.time()
        next_run = {}
        fails = {"startup": 0, "liveness": 0, "readiness": 0}
        while not self.stop_event.is_set() and c.restarts == restart_no and c.proc and c.proc.poll() is None:
            now = time.time()
            for kind, p in (("startup", sp), ("readiness", rp), ("liveness", lp)):
                if p is None or (kind != "startup" and not started) or (kind == "startup" and started):
                    continue
                if now - t0 < p.get("initialDelaySeconds", 0) or now < next_run.get(kind, 0):
                    continue
                next_run[kind] = now + p.get("periodSeconds", 10)
                ok = self.probe_once(c, p)
                if ok:
                    fails[kind] = 0
                    if kind == "startup":
                        started = True
                        c.started = True
                    if kind == "readiness" and not c.ready:
                        c.ready = True
                        self.report()
                else:
                    fails[kind] += 1
                    if kind == "readiness" and c.ready and fails[kind] >= p.get("failureThreshold", 3):
                        c.ready = False
                        self.report()
                    if kind in ("liveness", "startup") and fails[kind] >= p.get("failureThreshold", 3):
                        self.k.event(self, "probe-failed", container=c.name, probe=kind)
                        c.killed_by_probe = kind
                        threading.Thread(target=self.kill_container, args=(c, self.spec.get("terminationGracePeriodSeconds", 30)), daemon=True).start()
                        return
            time.sleep(0.5)

    # ------------------------------------------------------------------ the pod's life
    def run(self):
        try:
            self.live()
        except Exception:
            log("pod %s/%s: %s" % (self.ns, self.name, traceback.format_exc()))
        finally:
            for c in self.inits + self.containers:
                self.kill_container(c, 0)
            if self.netns:
                self.k.network.release(self.netns, self.ip)
            self.finished.set()

    def wait_or_stop(self, seconds):
        return self.stop_event.wait(seconds)

    def live(self):
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "containers"), exist_ok=True)
        with open(os.path.join(self.dir, "pod.json"), "w") as f:
            json.dump(self.obj, f, indent=1)
        self.netns, self.ip = self.k.network.sandbox(self.key)
        with open(os.path.join(self.dir, "hostname"), "w") as f:
            f.write(self.hostname() + "\n")
        with open(os.path.join(self.dir, "resolv.conf"), "w") as f:
            f.write("search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5 timeout:1 attempts:1\n"
                    % (self.ns, self.k.dns_ip))
        self.k.proxy.sync()  # the Services as they are now: the hosts file and the Service links
        self.write_hosts()
        self.report()
        # volumes and init containers; a missing Secret/ConfigMap is retried as the kubelet does
        vols = None
        while vols is None:
            try:
                vols = self.prepare_volumes()
            except ContainerError as e:
                self.set_waiting(e)
                if self.wait_or_stop(5):
                    return
        for c in self.inits:
            while True:
                if not self.run_to_end(c, vols):
                    return
                if c.exit_code == 0:
                    break
                if self.spec.get("restartPolicy", "Always") == "Never":
                    self.phase = "Failed"
                    self.report()
                    return
                if self.wait_or_stop(min(10 * 2 ** min(c.restarts, 5), 300)):
                    return
                c.last_state, c.restarts = c.state, c.restarts + 1
        self.initialized = True
        self.phase = "Running"
        for c in self.containers:
            if not self.start_with_retry(c, vols):
                return
        self.report()
        policy = self.spec.get("restartPolicy", "Always")
        backoff = {}
        while not self.stop_event.is_set():
            changed = False
            for c in self.containers:
                if c.proc is not None and c.exit_code is None and c.proc.poll() is not None:
                    self.finish(c, c.proc.returncode)
                    changed = True
                    if policy == "Always" or (policy == "OnFailure" and c.exit_code != 0):
                        backoff[c.name] = time.time() + min(10 * 2 ** min(c.restarts, 5), 300)
                if c.name in backoff and time.time() >= backoff[c.name]:
                    del backoff[c.name]
                    c.last_state, c.restarts = c.state, c.restarts + 1
                    if not self.start_with_retry(c, vols):
                        return
                    changed = True
            if all(c.exit_code is not None for c in self.containers) and not backoff:
                self.phase = "Succeeded" if all(c.exit_code == 0 for c in self.containers) else "Failed"
                self.report()
                return
            if changed:
                self.report()
            self.stop_event.wait(0.5)

    def set_waiting(self, e):
        for c in self.inits + self.containers:
            if "running" not in c.state and "terminated" not in c.state:
                c.state = {"waiting": {"reason": e.reason, "message": str(e)}}
        self.k.event(self, "waiting", reason=e.reason, message=str(e))
        self.report()

    def start_with_retry(self, c, vols):
        while True:
            try:
                self.start_container(c, vols)
                if not c.init:
                    threading.Thread(target=self.probe_loop, args=(c, c.restarts), daemon=True).start()
                return True
            except ContainerError as e:
                c.state = {"waiting": {"reason": e.reason, "message": str(e)}}
                self.k.event(self, "waiting", container=c.name, reason=e.reason, message=str(e))
                self.report()
                if self.wait_or_stop(5):
                    return False

    def run_to_end(self, c, vols):
        if not self.start_with_retry(c, vols):
            return False
        self.report()
        while c.proc.poll() is None:
            if self.stop_event.wait(0.3):
                return False
        self.finish(c, c.proc.returncode)
        self.report()
        return True

    def write_hosts(self):
        """The pod's hosts file: like cluster DNS, it follows the Services (rewritten in place when they change, so
        the containers' bind mounts see it)."""
        if self.finished.is_set() or not self.ip:
            return
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 "%s\t%s" % (self.ip, self.hostname())] + self.k.proxy.hosts_lines(self.ns)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            f.write("# Kubernetes-managed hosts file (runtime kubelet): Services' DNS names -> ClusterIPs\n" + "\n".join(lines) + "\n")

    def stop(self, grace):
        """The pod was deleted: stop its containers (grace period) and let the worker end."""
        self.grace = grace
        self.stop_event.set()
        for c in self.containers + self.inits:
            self.kill_container(c, grace)


class Kubelet:
    def __init__(self, args):
        self.state = os.path.abspath(args.state)
        self.root = os.path.abspath(args.root)
        self.node = args.node
        self.api = Api(args.kubeconfig)
        self.pods = {}
        self.events = open(os.path.join(self.state, "events.jsonl"), "a")
        self.events_lock = threading.Lock()
        self.network = Network(args.pod_cidr, args.service_cidr)
        self.host_ip = "127.0.0.1"
        svc_net = ipaddress.ip_network(args.service_cidr)
        self.dns_ip = str(list(svc_net.hosts())[9])  # x.x.x.10 as kubeadm's cluster DNS; nothing answers on it
        self.proxy = ServiceProxy(self.api, (self.api.host, self.api.port))
        self.proxy.on_change = lambda: [w.write_hosts() for w in list(self.pods.values())]
        self.proxy.on_connect = self.record_connection
        self.connections = open(os.path.join(self.state, "connections.jsonl"), "a")
        self.direct_seen = set()
        self.peaks = {}
        self.stopping = False

    def event(self, pod, what, **kw):
        with self.events_lock:
            self.events.write(json.dumps({"t": time.time(), "pod": "%s/%s" % (pod.ns, pod.name), "event": what, **kw}) + "\n")
            self.events.flush()

    def pod_at(self, ip):
        """The pod with this IP (namespace, name, labels), or None (the node, the API server, outside)."""
        for w in list(self.pods.values()):
            if w.ip == ip:
                return {"namespace": w.ns, "name": w.name, "labels": w.obj["metadata"].get("labels") or {}}
        return None

    def record_connection(self, client, service, backend, via="service"):
        """One line of connections.jsonl per connection a pod (or the node) opened: through a Service (the proxy
        sees each one) or directly to an address outside the Service CIDR (seen by sampling the pods' sockets);
        for the NetworkPolicy check of the runtime stage (test/runtime/network-policies.runtime.test.ts)."""
        rec = {"t": time.time(), "via": via, "source": {"ip": client[0], "pod": self.pod_at(client[0])},
               "destination": {"ip": backend[0], "port": backend[1], "protocol": "TCP", "pod": self.pod_at(backend[0])}}
        if service:
            ns, name = self.proxy.names.get(service, (None, None))
            rec["service"] = {"namespace": ns, "name": name, "ip": service[0], "port": service[1]}
        with self.events_lock:
            self.connections.write(json.dumps(rec) + "\n")
            self.connections.flush()

    def sample_direct_connections(self):
        """The pods' outgoing TCP connections that do not go through the Service proxy (to a pod IP, to outside):
        /proc/PID/net/tcp of a process in each pod lists the sockets of the pod's network namespace."""
        svc = ipaddress.ip_network(self.network.service_cidr)
        for w in list(self.pods.values()):
            c = next((c for c in w.inits + w.containers if c.proc and c.proc.poll() is None), None)
            if not c or not w.ip:
                continue
            rows = []
            for f in ("tcp", "tcp6"):
                try:
                    with open("/proc/%d/net/%s" % (c.proc.pid, f)) as fh:
                        rows += [line.split() for line in fh.readlines()[1:]]
                except OSError:
                    pass
            listening = {r[1].rsplit(":", 1)[1] for r in rows if r[3] == "0A"}
            for r in rows:
                if r[3] not in ("01", "02"):  # ESTABLISHED, SYN_SENT
                    continue
                lport, (rhex, rport) = r[1].rsplit(":", 1)[1], r[2].rsplit(":", 1)
                if lport in listening:
                    continue  # a connection to the pod (the node's probes), not from it
                raw = bytes.fromhex(rhex)
                ip = ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))
                if getattr(ip, "ipv4_mapped", None):
                    ip = ip.ipv4_mapped
                if ip.is_loopback or ip.is_unspecified or ip in svc:
                    continue
                key = (w.ip, str(ip), int(rport, 16), r[1])
                if key not in self.direct_seen:
                    self.direct_seen.add(key)
                    self.record_connection((w.ip, 0), None, (str(ip), int(rport, 16)), via="direct")

    def service_env(self, namespace):
        """KUBERNETES_SERVICE_* and the Docker-link variables of every Service in the namespace (enableServiceLinks)."""
        env = {}
        for s in self.proxy.services:
            m, spec = s["metadata"], s["spec"]
            ip = spec.get("clusterIP")
            if not ip or ip == "None" or not spec.get("ports"):
                continue
            if (m["namespace"], m["name"]) == ("default", "kubernetes"):
                p = spec["ports"][0]["port"]
                env.update({"KUBERNETES_SERVICE_HOST": ip, "KUBERNETES_SERVICE_PORT": str(p),
                            "KUBERNETES_SERVICE_PORT_HTTPS": str(p), "KUBERNETES_PORT": "tcp://%s:%d" % (ip, p),
                            "KUBERNETES_PORT_%d_TCP" % p: "tcp://%s:%d" % (ip, p)})
                continue
            if m["namespace"] != namespace:
                continue
            n = m["name"].upper().replace("-", "_")
            first = spec["ports"][0]
            env["%s_SERVICE_HOST" % n] = ip
            env["%s_SERVICE_PORT" % n] = str(first["port"])
            env["%s_PORT" % n] = "%s://%s:%d" % (first.get("protocol", "TCP").lower(), ip, first["port"])
            for p in spec["ports"]:
                proto = p.get("protocol", "TCP")
                if p.get("name"):
                    env["%s_SERVICE_PORT_%s" % (n, p["name"].upper().replace("-", "_"))] = str(p["port"])
                pre = "%s_PORT_%d_%s" % (n, p["port"], proto)
                env.update({pre: "%s://%s:%d" % (proto.lower(), ip, p["port"]), pre + "_PROTO": proto.lower(),
                            pre + "_PORT": str(p["port"]), pre + "_ADDR": ip})
        return env

    def sync(self):
        pods = self.api.get("/api/v1/pods?fieldSelector=" + urllib.parse.quote("spec.nodeName=" + self.node))["items"]
        seen = set()
        for obj in pods:
            uid = obj["metadata"]["uid"]
            seen.add(uid)
            worker = self.pods.get(uid)
            deleting = obj["metadata"].get("deletionTimestamp")
            if worker is None:
                if deleting or obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                    if deleting:
                        self.confirm_delete(obj)
                    continue
                worker = Pod(self, obj)
                self.pods[uid] = worker
                worker.start()
                log("running pod %s/%s (%s)" % (worker.ns, worker.name, uid))
            elif deleting and not getattr(worker, "deleting", False):
                worker.deleting = True
                grace = obj["metadata"].get("deletionGracePeriodSeconds", 30)
                log("pod %s/%s deleted: stopping its containers (grace %ss)" % (worker.ns, worker.name, grace))
                threading.Thread(target=self.stop_and_confirm, args=(worker, obj, grace), daemon=True).start()
        for uid, worker in list(self.pods.items()):
            if uid not in seen and not getattr(worker, "deleting", False):
                worker.deleting = True
                log("pod %s/%s is gone from the API server: killing its containers" % (worker.ns, worker.name))
                threading.Thread(target=worker.stop, args=(0,), daemon=True).start()

    def stop_and_confirm(self, worker, obj, grace):
        worker.stop(grace)
        worker.finished.wait(grace + 30)
        self.confirm_delete(obj)

    def confirm_delete(self, obj):
        m = obj["metadata"]
        try:
            self.api.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (m["namespace"], m["name"]),
                             {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                              "preconditions": {"uid": m["uid"]}})
        except RuntimeError as e:
            if "HTTP 404" not in str(e) and "HTTP 409" not in str(e):
                log("could not confirm the deletion of %s/%s: %s" % (m["namespace"], m["name"], e))

    def write_stats(self):
        out = {}
        by_ns = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    by_ns.setdefault(os.stat("/proc/%s/ns/mnt" % d).st_ino, []).append(int(d))
                except OSError:
                    pass
        for w in list(self.pods.values()):
            for c in w.inits + w.containers:
                if not c.proc or c.proc.poll() is not None or not c.mntns:
                    continue
                pids = by_ns.get(c.mntns, [])
                rss, pss, cmds = memory_of(pids)
                key = "%s/%s/%s" % (w.ns, w.name, c.name)
                meta = {"namespace": w.ns, "pod": w.name, "container": c.name, "init": c.init,
                        "component": (w.obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component"),
                        "labels": w.obj["metadata"].get("labels") or {}, "resources": c.spec.get("resources") or {}}
                peak = self.peaks.get(key, {"rssKiB": 0, "pssKiB": 0, "processes": 0})
                if rss > peak["rssKiB"]:  # the sample with the largest RSS, with its PSS and processes
                    peak = {**meta, "rssKiB": rss, "pssKiB": pss, "processes": len(pids), "commands": cmds[:12]}
                    self.peaks[key] = peak
                out[key] = {**meta, "restart": c.restarts, "processes": len(pids), "rssKiB": rss, "pssKiB": pss,
                            "peak": {"rssKiB": peak["rssKiB"], "pssKiB": peak["pssKiB"]}, "commands": cmds[:12]}
        tmp = os.path.join(self.state, "stats.json.tmp")
        with open(tmp, "w") as f:
            # containers: running now; peaks: the largest sample of every container this kubelet ever ran
            json.dump({"time": time.time(), "containers": out, "peaks": self.peaks}, f)
        os.replace(tmp, os.path.join(self.state, "stats.json"))

    def serve(self):
        Network.down()
        self.network.up()
        self.proxy.sync()
        self.proxy.start()
        last_stats = 0
        while not self.stopping:
            try:
                self.sync()
            except Exception as e:
                log("sync failed:", e)
            if time.time() - last_stats >= 1:
                try:
                    self.write_stats()
                    self.sample_direct_connections()
                except Exception as e:
                    log("stats failed:", e)
                last_stats = time.time()
            time.sleep(0.7)

    def shutdown(self):
        self.stopping = True
        self.proxy.stopping = True
        threads = []
        for w in list(self.pods.values()):
            t = threading.Thread(target=w.stop, args=(5,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(30)
        for w in list(self.pods.values()):
            w.finished.wait(10)
        Network.down()
        Network.down_routes(self.network.service_cidr)


# ------------------------------------------------------------------------------------------------ in the namespace
def container_main(spec_file):
    """Runs inside fresh mount/UTS/IPC namespaces (unshare) in the pod's network namespace: builds the container's
    root file system and execs its command as its user."""
    spec = json.load(open(spec_file))
    d, root, rootfs = spec["dir"], spec["root"], os.path.join(spec["dir"], "rootfs")

    def mount(*args):
        r = subprocess.run(["mount", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.stderr.write("runtime kubelet: mount %s failed: %s\n" % (" ".join(args), r.stdout))
            sys.exit(128)

    # The image's layers (build-layer.sh) above the root, the container's writable layer above both.
    lower = ":".join(spec.get("layers", []) + [root])
    mount("-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (lower, d, d), rootfs)
    mount("-t", "proc", "proc", rootfs + "/proc")
    mount("--rbind", "/sys", rootfs + "/sys")
    mount("-o", "remount,bind,ro", rootfs + "/sys")
    mount("--rbind", "/dev", rootfs + "/dev")
    os.makedirs(rootfs + "/dev/shm", exist_ok=True)
    mount("-t", "tmpfs", "-o", "mode=1777,size=64m", "shm", rootfs + "/dev/shm")
    for f in ("hosts", "hostname", "resolv.conf"):
        target = secure_join(rootfs, "/etc/" + f)
        if not os.path.exists(target):
            open(target, "w").close()
        mount("--bind", os.path.join(spec["podDir"], f), target)
    for m in spec["mounts"]:
        target = secure_join(rootfs, m["target"])
        if os.path.isdir(m["source"]):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.exists(target):
                open(target, "w").close()
        mount("--bind", m["source"], target)
        if m["readOnly"]:
            mount("-o", "remount,bind,ro", target)
    if spec["readOnlyRootFilesystem"]:
        mount("-o", "remount,ro", rootfs)
    socket.sethostname(spec["hostname"])
    with open(os.path.join(d, "started.tmp"), "w") as f:
        f.write(str(os.stat("/proc/self/ns/mnt").st_ino))
    os.replace(os.path.join(d, "started.tmp"), os.path.join(d, "started"))
    os.chroot(rootfs)
    wd = spec["workdir"] or "/"
    try:
        os.chdir(wd)
    except OSError:
        os.makedirs(wd, exist_ok=True)
        os.chdir(wd)
    os.execve("/usr/bin/setpriv", setpriv_args(spec) + ["--"] + spec["argv"], spec["env"])


def setpriv_args(rec):
    a = ["setpriv", "--reuid=%d" % rec["uid"], "--regid=%d" % rec["gid"]]
    a.append("--groups=" + ",".join(str(g) for g in rec["groups"]) if rec["groups"] else "--clear-groups")
    if rec["caps"] == ["all"]:
        a.append("--bounding-set=+all")
    else:
        a.append("--bounding-set=" + ",".join(["-all"] + ["+" + c for c in rec["caps"]]))
    a.append("--inh-caps=-all")
    if rec["noNewPrivs"]:
        a.append("--no-new-privs")
    return a


def exec_in(rec, argv, timeout=None, capture=False):
    """Runs argv in a running container (its mount, UTS, IPC and network namespaces, root, user and env)."""
    pid = rec["pid"]
    if mntns_of(pid) != rec["mntns"]:
        raise RuntimeError("container %s/%s/%s is not running (pid %s)" % (rec["namespace"], rec["pod"], rec["container"], pid))
    cmd = ["nsenter", "-t", str(pid), "--mount", "--uts", "--ipc", "--net", "--root", "--wd"] + \
        ["/usr/bin/setpriv"] + setpriv_args(rec)[1:] + ["--"] + list(argv)
    return subprocess.run(cmd, env=rec["env"], timeout=timeout, text=True,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)


def find_record(state, namespace, pod, container):
    base = os.path.join(state, "pods")
    cands = [d for d in os.listdir(base) if d.startswith("%s_%s_" % (namespace, pod))] if os.path.isdir(base) else []
    for d in sorted(cands, key=lambda x: os.path.getmtime(os.path.join(base, x)), reverse=True):
        f = os.path.join(base, d, "containers", container + ".json")
        if os.path.exists(f):
            return json.load(open(f))
    raise SystemExit("no container %s in pod %s/%s on this node" % (container, namespace, pod))


def cleanup(state):
    """What a crashed agent may have left: container processes, the network. Never touches anything else."""
    base = os.path.join(state, "pods")
    if os.path.isdir(base):
        for d in os.listdir(base):
            cdir = os.path.join(base, d, "containers")
            for f in os.listdir(cdir) if os.path.isdir(cdir) else []:
                if f.endswith(".json"):
                    try:
                        rec = json.load(open(os.path.join(cdir, f)))
                    except ValueError:
                        continue
                    # The namespace is the container's only while its recorded process is in it: the kernel
                    # reuses a gone namespace's inode number (a real-node container's, when the real node runs
                    # beside this stage, had one of an ended init container's and was killed).
                    if not rec.get("mntns") or mntns_of(rec.get("pid") or 0) != rec["mntns"]:
                        continue
                    for p in pids_in_mntns(rec["mntns"]):
                        try:
                            os.kill(p, signal.SIGKILL)
                        except OSError:
                            pass
    Network.down()


def alive(pid):
    """Whether process `pid` still runs. A kubelet that has ended is a zombie until its parent reaps it, and its
    parent (the test file's Node process) cannot while it waits in spawnSync for this very `stop`: signal 0 still
    reaches a zombie, so the state in /proc decides (a zombie waited for here cost every runtime file 60 s)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--state", required=True)
    r.add_argument("--root", required=True)
    r.add_argument("--node", required=True)
    r.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    r.add_argument("--pod-cidr", default=os.environ.get("AIRFLOW_CDK8S_RUNTIME_POD_CIDR", "10.244.0.0/24"))
    r.add_argument("--service-cidr", default="10.0.0.0/24")
    for name in ("stop", "cleanup", "stats"):
        s = sub.add_parser(name)
        s.add_argument("--state", required=True)
    e = sub.add_parser("exec")
    e.add_argument("--state", required=True)
    e.add_argument("--timeout", type=float, default=None)
    e.add_argument("namespace")
    e.add_argument("pod")
    e.add_argument("container")
    e.add_argument("argv", nargs=argparse.REMAINDER)
    c = sub.add_parser("_container")
    c.add_argument("spec")
    a = ap.parse_args()

    if a.cmd == "_container":
        container_main(a.spec)
    elif a.cmd == "run":
        os.makedirs(a.state, exist_ok=True)
        os.chmod(a.state, 0o700)
        if not os.path.exists(os.path.join(a.root, "usr/bin/setpriv")):
            raise SystemExit("%s is not a runtime root (no /usr/bin/setpriv): scripts/runtime/build-root.sh" % a.root)
        k = Kubelet(a)
        with open(os.path.join(a.state, "kubelet.pid"), "w") as f:
            f.write(str(os.getpid()))

        def on_term(*_):
            k.stopping = True
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        log("node %s: root %s, state %s, pods %s, services %s" % (a.node, a.root, a.state, a.pod_cidr, a.service_cidr))
        try:
            k.serve()
        finally:
            k.shutdown()
            os.unlink(os.path.join(a.state, "kubelet.pid"))
            log("stopped")
    elif a.cmd == "stop":
        pidf = os.path.join(a.state, "kubelet.pid")
        if os.path.exists(pidf):
            pid = int(open(pidf).read())
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(600):
                    if not alive(pid):
                        break
                    time.sleep(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        cleanup(a.state)
    elif a.cmd == "cleanup":
        cleanup(a.state)
    elif a.cmd == "stats":
        print(open(os.path.join(a.state, "stats.json")).read())
    elif a.cmd == "exec":
        argv = a.argv[1:] if a.argv and a.argv[0] == "--" else a.argv
        rec = find_record(a.state, a.namespace, a.pod, a.container)
        try:
            sys.exit(exec_in(rec, argv, timeout=a.timeout).returncode)
        except subprocess.TimeoutExpired:
            sys.stderr.write("timed out after %ss\n" % a.timeout)
            sys.exit(124)


if __name__ == "__main__":
    main()
