"""The container image, built and run with Debian's buildah and podman and
no image registry.

A Debian rootfs made here (`mmdebstrap`) is imported as the runtime base;
the runtime stage of the Dockerfile is built around a taskql binary built
beforehand (`BINARY_FROM`). The container then runs on a volume and on the
host's PostgreSQL: sign up, log in, create a task, restart the container,
and the data is still there; its HEALTHCHECK reports healthy, and the
server runs as a non-root user.

    python3 tests/ops/image.py --binary target/debug/taskql \\
        --postgres postgres://postgres@127.0.0.1:5432/postgres

Needs buildah, podman, runc and mmdebstrap (Debian's packages), as root.
Storage is vfs under a temporary directory, removed at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import free_port, graphql, wait_ready  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "an image secret of more than thirty-two bytes"
PASSWORD = "containers keep their data 7"


def run(*command, **kwargs):
    kwargs.setdefault("check", True)
    return subprocess.run(command, text=True, capture_output=True, **kwargs)


def login(base, email):
    return graphql(base, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                   {"i": {"email": email, "password": PASSWORD}})["login"]["accessToken"]


def health(name):
    """Runs the container's HEALTHCHECK now; its status as podman has it."""
    run("podman", "healthcheck", "run", name, check=False)
    return run("podman", "inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()


def until_healthy(name, patience=60):
    deadline = time.time() + patience
    while time.time() < deadline:
        if health(name) == "healthy":
            return
        time.sleep(1)
    logs = run("podman", "logs", name, check=False)
    raise SystemExit(f"{name} is not healthy: {health(name)}\n{logs.stdout}{logs.stderr}")


def exercise(image, what, database_url, volume=None):
    port = free_port()
    name = f"taskql-check-{uuid.uuid4().hex[:8]}"
    command = ["podman", "run", "-d", "--name", name, "--network", "host",
               "-e", f"TASKQL_LISTEN=0.0.0.0:{port}", "-e", f"TASKQL_JWT_SECRET={SECRET}",
               "-e", "TASKQL_ARGON2_M_KIB=1024", "-e", "TASKQL_ARGON2_T=1"]
    if database_url:
        command += ["-e", f"TASKQL_DATABASE_URL={database_url}"]
    if volume:
        command += ["-v", f"{volume}:/data"]
    run(*command, image)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz", f"the container ({what})")
        until_healthy(name)
        print(f"ok: {what}: HEALTHCHECK reports healthy")
        user = run("podman", "exec", name, "id", "-u").stdout.strip()
        top = run("podman", "top", name, "user", "comm").stdout.split()
        if user == "0" or "root" in top:
            raise SystemExit(f"{what}: runs as root ({user}; {top})")
        print(f"ok: {what}: the server runs as uid {user} ({' '.join(top[-2:])})")

        email = f"{uuid.uuid4().hex[:10]}@example.com"
        graphql(base, "mutation($i: SignupInput!) { signup(input: $i) { id } }",
                {"i": {"email": email, "password": PASSWORD}})
        token = login(base, email)
        graphql(base, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {"i": {"title": "Survive a restart"}}, token)

        run("podman", "restart", "--time", "10", name)
        wait_ready(f"{base}/readyz", f"the restarted container ({what})")
        token = login(base, email)
        tasks = graphql(base, "{ tasks { edges { node { title } } } }", token=token)["tasks"]["edges"]
        if [edge["node"]["title"] for edge in tasks] != ["Survive a restart"]:
            raise SystemExit(f"{what}: after a restart the tasks are {tasks}")
        until_healthy(name)
        print(f"ok: {what}: the account and its task are still there after a restart")
    finally:
        run("podman", "rm", "-f", "--time", "10", name, check=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--postgres", required=True, help="an admin URL to make a database on")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="taskql-image-")
    with open(os.path.join(work, "storage.conf"), "w") as f:
        f.write(f'[storage]\ndriver = "vfs"\nrunroot = "{work}/run"\ngraphroot = "{work}/graph"\n')
    with open(os.path.join(work, "containers.conf"), "w") as f:
        f.write('[containers]\ndefault_ulimits = []\n'
                '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    os.environ["CONTAINERS_STORAGE_CONF"] = os.path.join(work, "storage.conf")
    os.environ["CONTAINERS_CONF"] = os.path.join(work, "containers.conf")
    try:
        started = time.time()
        # What debian:bookworm-slim is: the essential packages, apt and
        # passwd, without documentation.
        rootfs = os.path.join(work, "rootfs.tar")
        run("mmdebstrap", "--variant=minbase", "--include=passwd", "--quiet",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*", "--aptopt=APT::Install-Recommends false",
            "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*",
            "bookworm", rootfs)
        run("podman", "import", rootfs, "localhost/debian:bookworm-slim")
        print(f"ok: a Debian base made here and imported ({time.time() - started:.0f} s)")

        container = run("buildah", "from", "scratch").stdout.strip()
        run("buildah", "copy", container, os.path.abspath(args.binary), "/out/taskql")
        run("buildah", "commit", "--quiet", container, "localhost/taskql-binary")
        run("buildah", "rm", container)
        # The docker format: OCI images have no HEALTHCHECK.
        built = run("buildah", "bud", "--isolation", "chroot", "--layers=false", "--format", "docker",
                    "--build-arg", "RUNTIME_IMAGE=localhost/debian:bookworm-slim",
                    "--build-arg", "BINARY_FROM=localhost/taskql-binary",
                    "-t", "localhost/taskql:check", "-f", "Dockerfile", ".", cwd=ROOT, check=False)
        if built.returncode != 0:
            raise SystemExit(f"the image does not build:\n{built.stdout}{built.stderr}")
        size = run("podman", "image", "inspect", "--format", "{{.Size}}", "localhost/taskql:check").stdout.strip()
        config = json.loads(run("podman", "image", "inspect", "localhost/taskql:check").stdout)[0]["Config"]
        assert config["User"] == "10001:10001", config["User"]
        assert "8000/tcp" in config["ExposedPorts"], config
        assert "/data" in config["Volumes"], config
        print(f"ok: the runtime stage builds ({int(size) / 1e6:.0f} MB with this binary)")

        run("podman", "volume", "create", "taskql-check-data")
        exercise("localhost/taskql:check", "SQLite on the volume /data", None, volume="taskql-check-data")

        admin = urllib.parse.urlsplit(args.postgres)
        name = f"taskql_test_{uuid.uuid4().hex}"
        user = admin.username or "postgres"
        run("psql", "-h", admin.hostname, "-p", str(admin.port or 5432), "-U", user, "-d", "postgres",
            "-qc", f'CREATE DATABASE "{name}"')
        try:
            url = urllib.parse.urlunsplit((admin.scheme, admin.netloc, f"/{name}", "", ""))
            exercise("localhost/taskql:check", "the host's PostgreSQL", url)
        finally:
            run("psql", "-h", admin.hostname, "-p", str(admin.port or 5432), "-U", user, "-d", "postgres",
                "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
    finally:
        run("podman", "rm", "-af", check=False)
        run("podman", "volume", "rm", "-af", check=False)
        run("buildah", "rm", "--all", check=False)
        run("podman", "system", "reset", "--force", check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
