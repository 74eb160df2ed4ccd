"""Counts the instructions one `tasks(first: 20)` page costs the server.

Unlike requests per second, the count does not move with what else the
shared machine runs: the same binary and the same requests give the same
figure, so two builds can be compared in one go. The server runs under
valgrind's callgrind on a fresh SQLite file with the benchmark's user and
100 tasks; after 100 requests to warm it, the counters are zeroed, N pages
are asked for one at a time, and the counters are written out. Only the
server's own instructions are counted (not the kernel's).

    python3 bench/instructions.py [--requests 1000] [--binary target/release/taskql] [--keep DIR] [--metrics]
        [--traces collector|silent]

Needs valgrind (Debian's package). `callgrind_annotate DIR/callgrind.out.1`
shows where the instructions go.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

PORT = 18900


def pages(token, count):
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    body = json.dumps({"query": bench.PAGE, "variables": {}})
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    for _ in range(count):
        connection.request("POST", "/graphql", body, headers)
        answer = connection.getresponse().read()
        if b'"edges":[{' not in answer:
            raise SystemExit(f"unexpected answer: {answer[:200]!r}")


def start_under_callgrind(binary, workdir, port, options, extra_env=None):
    """The release server under valgrind's callgrind (with `options`) on a
    fresh SQLite file in `workdir`, once it answers `/readyz`; hashing
    made light, as a run under valgrind signs up and logs in."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TASKQL_DATABASE_URL": f"sqlite://{workdir}/taskql.db?mode=rwc",
        "TASKQL_LISTEN": f"127.0.0.1:{port}",
        "TASKQL_JWT_SECRET": bench.SECRET,
        "TASKQL_AUTH_RATE_LIMIT": "off",
        "TASKQL_LOG": "warn",
        "TASKQL_ARGON2_M_KIB": "1024",
        "TASKQL_ARGON2_T": "1",
        **(extra_env or {}),
    }
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", *options, os.path.abspath(binary), "serve"],
        env=env, cwd=workdir, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server under callgrind did not get ready")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/taskql")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--keep", metavar="DIR", help="keep the callgrind output here")
    parser.add_argument("--metrics", action="store_true", help="with a metrics listener (its series recorded)")
    parser.add_argument("--traces", choices=["collector", "silent"],
                        help="exporting traces, to a collector that takes them or to one that never answers")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    workdir = args.keep or tempfile.mkdtemp(prefix="taskql-instructions-")
    os.makedirs(workdir, exist_ok=True)
    extra_env = {}
    if args.metrics:
        extra_env["TASKQL_METRICS_LISTEN"] = f"127.0.0.1:{PORT + 1}"
    if args.traces:
        extra_env["TASKQL_OTLP_ENDPOINT"] = bench.start_collector(args.traces)
    out = os.path.join(workdir, "callgrind.out")
    server = start_under_callgrind(args.binary, workdir, PORT, [f"--callgrind-out-file={out}"], extra_env)
    try:
        token = bench.register(PORT, "small@example.com")
        bench.seed_tasks(PORT, token, 100)
        pages(token, 100)
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, capture_output=True)
        pages(token, args.requests)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait(timeout=120)
    summary = subprocess.run(["callgrind_annotate", f"{out}.1"], capture_output=True, text=True).stdout
    total = int(re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", summary).group(1).replace(",", ""))
    print(f"tasks(first: 20): {total / args.requests:,.0f} instructions per request ({args.requests} requests)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
