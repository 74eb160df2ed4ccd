"""Writes link/symbol-order.txt: the functions the server runs to start, then
those a few requests run, in that order, for the linker to lay out first
and side by side (build.rs hands the file to the linker of release builds).

The kernel maps the 64 KiB around each page of the binary a process first
touches, so code that start-up runs, scattered over the text, kept more
than half of it resident at rest; laid out together it keeps a fraction
(bench/README.md, "Idle memory"). Run it again when start-up or the
request path changes much; a function the file names that no longer exists
is passed over, one it does not name is laid out after those it does.

    python3 bench/symbol_order.py [--binary target/release/taskql] [--out link/symbol-order.txt] [--postgres URL]

Needs valgrind (Debian's package): the server runs under callgrind on a
fresh SQLite file, then on a fresh PostgreSQL database (`--postgres URL`,
'' for none); the counters are written once it is ready (start-up), then
after the requests. Start-up on either comes first in the order.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import instructions  # noqa: E402

PORT = 18950

HEADER = """\
# The functions taskql runs to start, then those a few requests run: the
# linker lays them out first (build.rs), so that what start-up touches
# stays on few pages. Written by bench/symbol_order.py from a run of the
# release build; regenerate it when start-up or the request path changes.
"""


def functions(path, binary):
    """The functions of `binary` that a callgrind output file saw run, in
    the order it names them, without callgrind's recursion marks."""
    names, current = [], None
    with open(path, errors="replace") as out:
        for line in out:
            if line.startswith("ob="):
                current = line[3:].strip()
            elif line.startswith("fn=") and current and os.path.basename(current) == binary:
                name = re.sub(r"'\d+$", "", line[3:].strip())
                if not name.startswith("("):
                    names.append(name)
    return names


def run(binary, workdir, name, extra_env=None):
    """The functions a run of the server on one database saw: those of
    start-up, then those of a few requests (two callgrind parts)."""
    out = os.path.join(workdir, f"callgrind-{name}.out")
    options = ["--compress-strings=no", "--compress-pos=no", "--demangle=no", f"--callgrind-out-file={out}"]
    server = instructions.start_under_callgrind(binary, workdir, PORT, options, extra_env)
    try:
        time.sleep(1)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
        token = bench.register(PORT, "order@example.com")
        bench.seed_tasks(PORT, token, 30)
        # Twice each: a request validated before takes a path of its own.
        for query in (bench.PAGE, bench.NESTED, bench.NESTED_FULL, "{ me { id email } }") * 2:
            bench.graphql(PORT, query, token=token)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait(timeout=120)
    parts = sorted(glob.glob(f"{out}.*"), key=lambda path: int(path.rsplit(".", 1)[1]))
    return [functions(part, os.path.basename(binary)) for part in parts[:2]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/taskql")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "link", "symbol-order.txt"))
    parser.add_argument("--postgres", metavar="URL", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server to run on too, beside a fresh SQLite file ('' for none)")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    workdir = tempfile.mkdtemp(prefix="taskql-order-")
    binary = os.path.abspath(args.binary)
    runs = [run(binary, workdir, "sqlite")]
    if args.postgres:
        url = bench.fresh_database(argparse.Namespace(postgres=args.postgres), workdir, "order")
        runs.append(run(binary, workdir, "postgres", {"TASKQL_DATABASE_URL": url}))
    # Start-up on either database first, then the requests on either.
    order, seen = [], set()
    for part in range(2):
        for names in runs:
            for name in names[part]:
                if name not in seen:
                    seen.add(name)
                    order.append(name)
    with open(args.out, "w") as file:
        file.write(HEADER)
        file.write("\n".join(order) + "\n")
    print(f"{len(order)} functions written to {os.path.normpath(args.out)}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
