"""`taskql import` from the databases real Python apps write.

1. The FastAPI app of the tutorials (`fastapi-app/app.py`: FastAPI, SQLModel,
   pwdlib's Argon2) runs under uvicorn on SQLite and on PostgreSQL; people
   sign up, add tasks and complete one through its REST API.
2. A database of the same shape whose hashes passlib wrote (`bcrypt` and
   `pbkdf2_sha256`), as older apps of this kind have.

Each is imported into a fresh taskql database (a dry run first); then a
taskql server runs on it and every person logs in over GraphQL with the
password they signed up with, twice (the second time against the Argon2id
hash the first login left), and finds exactly their tasks.

    venv/bin/python tests/ops/fastapi_import.py --binary target/debug/taskql \\
        --postgres postgres://postgres@127.0.0.1:5432/postgres

Run with a Python that has fastapi, uvicorn, sqlmodel, pwdlib[argon2],
pyjwt, pydantic-settings, python-multipart, passlib, bcrypt<4.1 (passlib's
own check breaks on later ones) and psycopg2-binary.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import free_port, graphql, wait_ready  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "fastapi-app")

PEOPLE = [
    ("Ann.Lee@example.com", "ann's long passphrase 1", ["Buy milk", "Call the bank"]),
    ("bob@example.com", "bob keeps it simple 22", ["Write the report"]),
    ("cy@example.com", "cy has no tasks at all 3", []),
]


def call(url, body=None, headers=None, form=False, method=None):
    headers = dict(headers or {})
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def fill_through_the_app(python, database_url, workdir):
    """Runs the FastAPI app on `database_url` and uses it as its users would;
    returns what each person has: email → (password, {title: completed})."""
    env = dict(os.environ, DATABASE_URL=database_url)
    subprocess.run([python, "-c", "import app; app.on_startup()"], cwd=APP, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=APP, env=env, stdout=open(os.path.join(workdir, "uvicorn.log"), "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/docs", "the FastAPI app")
        expected = {}
        for email, password, titles in PEOPLE:
            call(f"{base}/users/signup", {"email": email, "password": password})
            token = call(f"{base}/token", {"username": email, "password": password}, form=True)["access_token"]
            auth = {"authorization": f"Bearer {token}"}
            tasks = {}
            for title in titles:
                task = call(f"{base}/tasks", {"title": title, "description": f"about {title}"}, auth)
                tasks[title] = False
                if title == "Buy milk":
                    call(f"{base}/tasks/{task['id']}", {"completed": True}, auth, method="PATCH")
                    tasks[title] = True
            listed = {t["title"]: t["completed"] for t in call(f"{base}/tasks", headers=auth)}
            assert listed == tasks, (email, listed, tasks)
            expected[email.lower()] = (password, tasks)
        print(f"ok: the FastAPI app on {database_url.split(':')[0]} holds {len(expected)} people")
        return expected
    finally:
        server.terminate()
        server.wait()


def fill_with_passlib(python, database_url):
    """A database of the app's shape whose hashes passlib wrote."""
    script = """
import os, sys
from passlib.hash import bcrypt, pbkdf2_sha256
from sqlmodel import Session
import app
app.on_startup()
with Session(app.engine) as session:
    for email, password, scheme, titles in [
        ("dee@example.com", "dee's bcrypt password 4", bcrypt, ["Feed the cat"]),
        ("eve@example.com", "eve's pbkdf2 password 5", pbkdf2_sha256, ["Water plants", "Pay rent"]),
    ]:
        user = app.User(email=email, hashed_password=scheme.hash(password))
        session.add(user)
        session.commit()
        session.refresh(user)
        for title in titles:
            session.add(app.Task(title=title, owner_id=user.id))
        session.commit()
"""
    subprocess.run([python, "-c", script], cwd=APP, check=True,
                   env=dict(os.environ, DATABASE_URL=database_url))
    return {
        "dee@example.com": ("dee's bcrypt password 4", {"Feed the cat": False}),
        "eve@example.com": ("eve's pbkdf2 password 5", {"Water plants": False, "Pay rent": False}),
    }


def import_and_log_in(binary, source_url, taskql_url, expected, workdir, what):
    env = {"PATH": os.environ["PATH"], "TASKQL_DATABASE_URL": taskql_url, "TASKQL_LOG": "warn"}
    dry = subprocess.run([binary, "import", "--from", source_url, "--dry-run"], env=env,
                         capture_output=True, text=True, cwd=workdir)
    if dry.returncode != 0 or f"users: {len(expected)} would be imported" not in dry.stdout:
        raise SystemExit(f"{what}: the dry run said {dry.stdout}{dry.stderr}")
    done = subprocess.run([binary, "import", "--from", source_url], env=env,
                          capture_output=True, text=True, cwd=workdir)
    tasks = sum(len(t) for _, t in expected.values())
    if done.returncode != 0 or f"users: {len(expected)} imported" not in done.stdout \
            or f"tasks: {tasks} imported" not in done.stdout:
        raise SystemExit(f"{what}: the import said {done.stdout}{done.stderr}")
    print(f"ok: {what}: " + done.stdout.strip().replace("\n", ";"))

    port = free_port()
    server = subprocess.Popen(
        [binary, "serve"], cwd=workdir,
        env=dict(env, TASKQL_LISTEN=f"127.0.0.1:{port}", TASKQL_ARGON2_M_KIB="1024", TASKQL_ARGON2_T="1", TASKQL_LOG="error",
                 TASKQL_AUTH_RATE_LIMIT="off"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz", "taskql")
        login = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }"
        for email, (password, tasks) in expected.items():
            for attempt in ("first", "second"):
                token = graphql(base, login, {"input": {"email": email, "password": password}})["login"]["accessToken"]
                data = graphql(base, "{ me { email emailVerified } tasks(first: 100) { edges { node { title completed } } } }",
                               {}, token)
                found = {e["node"]["title"]: e["node"]["completed"] for e in data["tasks"]["edges"]}
                if data["me"] != {"email": email, "emailVerified": True} or found != tasks:
                    raise SystemExit(f"{what}: {email} ({attempt} login) sees {data}, expected {tasks}")
        wrong = call(f"{base}/graphql", {"query": login, "variables": {
            "input": {"email": next(iter(expected)), "password": "not the password 0"}}})
        assert wrong["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS", wrong
        print(f"ok: {what}: every person logs in to taskql with their old password and sees their tasks")
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--postgres", help="an admin URL of a PostgreSQL server to make databases on")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    python = sys.executable
    with tempfile.TemporaryDirectory() as workdir:
        app_db = os.path.join(workdir, "app.db")
        expected = fill_through_the_app(python, f"sqlite:///{app_db}", workdir)
        import_and_log_in(binary, f"sqlite://{app_db}", f"sqlite://{workdir}/taskql.db?mode=rwc",
                          expected, workdir, "the FastAPI app's SQLite file")

        passlib_db = os.path.join(workdir, "passlib.db")
        expected = fill_with_passlib(python, f"sqlite:///{passlib_db}")
        import_and_log_in(binary, f"sqlite://{passlib_db}", f"sqlite://{workdir}/passlib-taskql.db?mode=rwc",
                          expected, workdir, "passlib's bcrypt and pbkdf2_sha256 hashes")

        if args.postgres:
            import psycopg2
            admin_url = urllib.parse.urlsplit(args.postgres)
            names = [f"taskql_test_{uuid.uuid4().hex}" for _ in range(2)]
            admin = psycopg2.connect(args.postgres)
            admin.autocommit = True
            for name in names:
                admin.cursor().execute(f'CREATE DATABASE "{name}"')
            at = lambda name, scheme: urllib.parse.urlunsplit((scheme, admin_url.netloc, f"/{name}", "", ""))  # noqa: E731
            try:
                expected = fill_through_the_app(python, at(names[0], "postgresql+psycopg2"), workdir)
                # SQLAlchemy's URL as the app has it, driver and all.
                import_and_log_in(binary, at(names[0], "postgresql+psycopg2"), at(names[1], "postgres"),
                                  expected, workdir, "the FastAPI app's PostgreSQL database")
            finally:
                for name in names:
                    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
