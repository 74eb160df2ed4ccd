"""A real Prometheus scrapes a running taskql's metrics listener while this
script drives the server; then Prometheus' HTTP API is asked for series
whose values must match what was done, and `promtool check metrics` reads
the scraped text.

    python3 tests/ops/metrics.py --binary target/debug/taskql

Needs `prometheus` and `promtool` (Debian's `prometheus` package).
"""

import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import free_port, wait_ready  # noqa: E402

PASSWORD = "metrics are a joy 2026"


def graphql(base, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{base}/graphql", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def websocket(port, token):
    """An open graphql-transport-ws connection, initialised with `token`."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    connection.sendall((
        "GET /graphql/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += connection.recv(1024)
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"no WebSocket: {head!r}")
    payload = json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}).encode()
    mask = os.urandom(4)
    frame = bytes([0x81, 0xFE]) + len(payload).to_bytes(2, "big") + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    connection.sendall(frame)
    return connection


def query_prometheus(base, expression):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as answer:
        result = json.load(answer)["data"]["result"]
    return None if not result else float(result[0]["value"][1])


def until(prometheus, expression, holds, wanted, patience=30):
    """Asks Prometheus for `expression` until its value `holds`."""
    deadline = time.time() + patience
    while True:
        value = query_prometheus(prometheus, expression)
        if value is not None and holds(value):
            print(f"ok: {expression} = {value:g} ({wanted})")
            return
        if time.time() > deadline:
            raise SystemExit(f"{expression}: Prometheus has {value}, expected {wanted}")
        time.sleep(0.5)


def expect(prometheus, expression, wanted):
    until(prometheus, expression, lambda value: value == wanted, f"{wanted:g}")


def at_least(prometheus, expression, minimum):
    until(prometheus, expression, lambda value: value >= minimum, f"at least {minimum:g}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/debug/taskql")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="taskql-metrics-")
    port, metrics_port, prometheus_port, closed_port = free_port(), free_port(), free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TASKQL_DATABASE_URL": f"sqlite://{workdir}/taskql.db?mode=rwc",
        "TASKQL_LISTEN": f"127.0.0.1:{port}",
        "TASKQL_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        "TASKQL_ARGON2_M_KIB": "1024",
        "TASKQL_ARGON2_T": "1",
        "TASKQL_LOG": "error",
        # A mail server that is not there: every mail stays queued.
        "TASKQL_SMTP_URL": f"smtp://127.0.0.1:{closed_port}",
    }
    server = subprocess.Popen([os.path.abspath(args.binary), "serve"], env=env, cwd=workdir)
    with open(f"{workdir}/prometheus.yml", "w") as config:
        config.write(
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n  - job_name: taskql\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{metrics_port}']\n")
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={workdir}/prometheus.yml", f"--storage.tsdb.path={workdir}/tsdb",
         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        stdout=subprocess.DEVNULL, stderr=open(f"{workdir}/prometheus.log", "w"))
    base = f"http://127.0.0.1:{port}"
    prom = f"http://127.0.0.1:{prometheus_port}"
    try:
        wait_ready(f"{base}/readyz", "taskql")
        wait_ready(f"http://127.0.0.1:{metrics_port}/readyz", "the metrics listener")
        wait_ready(f"{prom}/-/ready", "Prometheus")

        for _ in range(7):
            assert graphql(base, "query MetricsProbe { __typename }")["data"]["__typename"] == "Query"
        for _ in range(2):
            errors = graphql(base, "query MetricsBroken { nope }")["errors"]
            assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
        signup = "mutation($i: SignupInput!) { signup(input: $i) { id } }"
        login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
        for n in range(3):
            graphql(base, signup, {"i": {"email": f"user{n}@example.com", "password": PASSWORD}})
        for _ in range(4):
            answer = graphql(base, login, {"i": {"email": "user0@example.com", "password": "not the password"}})
            assert answer["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS", answer
        answer = graphql(base, login, {"i": {"email": "user1@example.com", "password": PASSWORD}})
        token = answer["data"]["login"]["accessToken"]
        sockets = [websocket(port, token), websocket(port, token)]
        for connection in sockets:
            acknowledged = connection.recv(1024)
            assert b"connection_ack" in acknowledged, acknowledged

        q = 'taskql_graphql_operations_total{operation="MetricsProbe",kind="query",outcome="ok"}'
        expect(prom, q, 7)
        expect(prom, 'taskql_graphql_operation_duration_seconds_count{operation="MetricsProbe",kind="query"}', 7)
        expect(prom, 'taskql_graphql_operation_duration_seconds_bucket{operation="MetricsProbe",kind="query",le="+Inf"}', 7)
        expect(prom, 'sum(taskql_graphql_operations_total{operation="MetricsBroken",outcome="BAD_USER_INPUT"})', 2)
        expect(prom, 'taskql_logins_total{outcome="INVALID_CREDENTIALS"}', 4)
        expect(prom, 'taskql_logins_total{outcome="ok"}', 1)
        expect(prom, 'taskql_websocket_connections', 2)
        expect(prom, 'taskql_mail_queue_depth', 3)
        at_least(prom, 'taskql_mail_oldest_queued_seconds', 0.001)
        # 7 + 2 + 3 + 5 operations, each one request.
        at_least(prom, 'sum(taskql_http_requests_total{route="/graphql",status="200"})', 17)
        # 3 signups and 5 logins hash once each.
        at_least(prom, 'taskql_password_hash_seconds_count', 8)
        at_least(prom, 'sum(taskql_db_connections)', 1)
        at_least(prom, 'process_resident_memory_bytes', 1e6)
        at_least(prom, 'process_open_fds', 3)
        for connection in sockets:
            connection.close()
        expect(prom, 'taskql_websocket_connections', 0)

        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as answer:
            text = answer.read()
        checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
        if checked.returncode != 0:
            raise SystemExit(f"promtool check metrics:\n{checked.stdout.decode()}{checked.stderr.decode()}")
        print("ok: promtool check metrics")
        # The public listener does not serve the metrics.
        try:
            urllib.request.urlopen(f"{base}/metrics", timeout=5)
            raise SystemExit("/metrics is served on the public listener")
        except urllib.error.HTTPError as error:
            assert error.code == 404, error
        print("metrics: every check passed")
    finally:
        prometheus.terminate()
        server.terminate()
        prometheus.wait(timeout=30)
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
