"""Restarts under load, as the team that runs taskql would do them.

1. A rolling restart: three instances on one PostgreSQL database behind
   HAProxy (health checks on /readyz every 500 ms, no retries, no
   redispatch), 16 clients sending pages and createTask throughout; each
   instance is stopped with SIGTERM (TASKQL_SHUTDOWN_DRAIN=2s) and started
   again in turn. No answer may fail, and every acknowledged write must be
   stored.
2. PostgreSQL itself restarted under load: answers during the outage are
   SERVICE_UNAVAILABLE and nothing else fails; every answer after it is
   whole again; no acknowledged write is lost.

    python3 tests/ops/rolling_restart.py --binary target/debug/taskql --postgres postgres://postgres@127.0.0.1:5432/postgres

Needs haproxy (Debian's package) and the right to restart the local
PostgreSQL cluster (pg_ctlcluster).
"""

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import free_port, wait_ready  # noqa: E402

PASSWORD = "restarts lose nothing 2026"
CLIENTS = 16
PAGE = "{ tasks(first: 5) { edges { node { id title } } } }"
CREATE = "mutation($t: String!) { createTask(input: { title: $t }) { id } }"


class Instance:
    def __init__(self, binary, database_url, workdir, name):
        self.binary, self.database_url, self.workdir, self.name = binary, database_url, workdir, name
        self.port = free_port()
        self.process = None

    def start(self):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TASKQL_DATABASE_URL": self.database_url,
            "TASKQL_LISTEN": f"127.0.0.1:{self.port}",
            "TASKQL_JWT_SECRET": "restart-check-secret-of-at-least-32-bytes",
            "TASKQL_ARGON2_M_KIB": "1024",
            "TASKQL_ARGON2_T": "1",
            "TASKQL_AUTH_RATE_LIMIT": "off",
            "TASKQL_SHUTDOWN_DRAIN": "2s",
            "TASKQL_LOG": "warn",
        }
        log = open(os.path.join(self.workdir, f"{self.name}.log"), "a")
        self.process = subprocess.Popen([self.binary, "serve"], env=env, stderr=log, cwd=self.workdir)
        wait_ready(f"http://127.0.0.1:{self.port}/readyz", f"instance {self.name}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


class Client(threading.Thread):
    """Pages and createTask, one after the other, over one kept-alive
    connection to the balancer; every answer is checked."""

    def __init__(self, port, token, index, allowed):
        super().__init__(daemon=True)
        self.port, self.token, self.index, self.allowed = port, token, index, allowed
        self.stop, self.answers, self.failures, self.acknowledged = threading.Event(), 0, [], []
        self.unavailable = 0
        # When each answer came (monotonic), to see that the load overlapped
        # what was done during it; and whether the loop ran to its end.
        self.answered_at, self.finished = [], False

    def request(self, connection, query, variables):
        body = json.dumps({"query": query, "variables": variables})
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.token}"}
        connection.request("POST", "/graphql", body, headers)
        response = connection.getresponse()
        return response.status, response.read()

    def run(self):
        try:
            self.load()
        except Exception as error:  # a thread that dies says why, and the check fails
            self.failures.append(f"the client died: {type(error).__name__}: {error}")
            raise
        self.finished = True

    def load(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        while not self.stop.is_set():
            n += 1
            title = f"client {self.index} task {n}"
            for query, variables in ((CREATE, {"t": title}), (PAGE, {})):
                try:
                    status, body = self.request(connection, query, variables)
                except (OSError, http.client.HTTPException) as error:
                    self.failures.append(f"{type(error).__name__}: {error}")
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    continue
                self.answers += 1
                self.answered_at.append(time.monotonic())
                answer = json.loads(body) if body.startswith(b"{") else None
                if status == 200 and answer and not answer.get("errors"):
                    if query is CREATE:
                        self.acknowledged.append(title)
                    continue
                codes = [e.get("extensions", {}).get("code") for e in (answer or {}).get("errors", [])]
                if self.allowed is not None and codes and all(code in self.allowed for code in codes):
                    self.unavailable += 1
                    continue
                self.failures.append(f"{status} {body[:200]!r}")


def graphql(port, query, variables=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def register(port, email):
    credentials = {"email": email, "password": PASSWORD}
    graphql(port, "mutation($i: SignupInput!) { signup(input: $i) { id } }", {"i": credentials})
    login = graphql(port, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {"i": credentials})
    return login["data"]["login"]["accessToken"]


def stored_titles(admin_url, database):
    url = re.sub(r"/[^/]*$", f"/{database}", admin_url)
    out = subprocess.run(["psql", url, "-Atc", "SELECT title FROM tasks"], capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines())


def run_clients(port, tokens, allowed, during):
    """Runs the clients around `during`; returns them and when `during`
    began and ended."""
    clients = [Client(port, token, index, allowed) for index, token in enumerate(tokens)]
    for client in clients:
        client.start()
    time.sleep(1)
    began = time.monotonic()
    during()
    ended = time.monotonic()
    time.sleep(1)
    for client in clients:
        client.stop.set()
    for client in clients:
        client.join(timeout=60)
    return clients, (began, ended)


def check(name, run, stored):
    clients, (began, ended) = run
    answers = sum(client.answers for client in clients)
    failures = [failure for client in clients for failure in client.failures]
    for client in clients:
        if client.is_alive() or not client.finished:
            failures.append(f"client {client.index} did not run to its end")
        # Answered before, during and after what was done: the load overlapped it.
        times = client.answered_at
        if not any(t < began for t in times) or not any(t > ended for t in times):
            failures.append(f"client {client.index}: no answers on both sides of it ({len(times)} answers)")
        if not any(began <= t <= ended for t in times):
            failures.append(f"client {client.index}: no answer while it happened")
    unavailable = sum(client.unavailable for client in clients)
    acknowledged = [title for client in clients for title in client.acknowledged]
    lost = [title for title in acknowledged if title not in stored]
    print(f"{name}: {answers} answers, {len(failures)} failed, {unavailable} SERVICE_UNAVAILABLE, "
          f"{len(acknowledged)} writes acknowledged, {len(lost)} of them lost")
    if failures or lost:
        raise SystemExit(f"{name}: failures {failures[:5]}, lost {lost[:5]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/debug/taskql")
    parser.add_argument("--postgres", required=True, help="admin URL; a fresh database is created")
    parser.add_argument("--cluster", help="the PostgreSQL cluster to restart, as 'version name' (default: the first)")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="taskql-restarts-")
    database = f"taskql_test_restarts_{int(time.time())}"
    subprocess.run(["psql", args.postgres, "-qc", f'CREATE DATABASE "{database}"'], check=True)
    database_url = re.sub(r"/[^/]*$", f"/{database}", args.postgres)

    instances = [Instance(binary, database_url, workdir, name) for name in ("a", "b", "c")]
    for instance in instances:
        instance.start()
    balancer_port = free_port()
    with open(os.path.join(workdir, "haproxy.cfg"), "w") as config:
        config.write(f"""global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 0
frontend web
    bind 127.0.0.1:{balancer_port}
    default_backend taskql
backend taskql
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 1 rise 2
""" + "".join(f"    server {i.name} 127.0.0.1:{i.port} check\n" for i in instances))
    balancer = subprocess.Popen(["haproxy", "-f", os.path.join(workdir, "haproxy.cfg")],
                                stderr=open(os.path.join(workdir, "haproxy.log"), "w"))
    try:
        wait_ready(f"http://127.0.0.1:{balancer_port}/readyz", "HAProxy")
        time.sleep(1.5)  # every server up
        tokens = [register(balancer_port, f"client{n}@example.com") for n in range(CLIENTS)]

        def roll():
            for instance in instances:
                instance.stop()
                instance.start()
                # Up again for the balancer: two good checks, 500 ms apart.
                time.sleep(1.5)

        rolled = run_clients(balancer_port, tokens, None, roll)
        check("rolling restart behind HAProxy", rolled, stored_titles(args.postgres, database))

        cluster = args.cluster.split() if args.cluster else [sorted(os.listdir("/etc/postgresql"))[0], "main"]

        def restart_postgres():
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True)
            for _ in range(100):
                if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0:
                    break
                time.sleep(0.1)

        restarted = run_clients(instances[0].port, tokens, {"SERVICE_UNAVAILABLE"}, restart_postgres)
        # After the outage, every answer is whole again.
        after = run_clients(instances[0].port, tokens, None, lambda: time.sleep(1))
        stored = stored_titles(args.postgres, database)
        check("PostgreSQL restarted under load", restarted, stored)
        check("after the restart", after, stored)
    finally:
        balancer.terminate()
        for instance in instances:
            if instance.process and instance.process.poll() is None:
                instance.process.kill()
        subprocess.run(["psql", args.postgres, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'])
    print("restarts: every check passed")


if __name__ == "__main__":
    sys.exit(main())
