"""One call of Airflow's REST API from the real node's network namespace (test/runtime/support/real-node-bench.ts
airflowRest; `scripts/runtime/real-node.sh exec python3 airflow-rest.py ...`), where the pods' IPs are routed:

    python3 airflow-rest.py BASE USERNAME METHOD PATH [JSON_BODY]   (the password on stdin)

Logs in (POST BASE/auth/token), then stamps the machine's clock (ms) just before the call itself and prints
{"t": ms, "status": HTTP status, "body": the answer}: a DAG run's trigger time, taken by the caller's own clock.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

base, username, method, path = sys.argv[1:5]
body = sys.argv[5] if len(sys.argv) > 5 else None
password = sys.stdin.read().strip()


def call(method: str, url: str, data: str | None, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, method=method, data=None if data is None else data.encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


status, text = call("POST", f"{base}/auth/token", json.dumps({"username": username, "password": password}))
if status not in (200, 201):
    print(json.dumps({"t": time.time() * 1000, "status": status, "body": text[:500], "login": False}))
    sys.exit(0)
token = json.loads(text)["access_token"]
t = time.time() * 1000
status, text = call(method, f"{base}/api/v2{path}", body, token)
try:
    answer = json.loads(text)
except ValueError:
    answer = text[:500]
print(json.dumps({"t": t, "status": status, "body": answer}))
