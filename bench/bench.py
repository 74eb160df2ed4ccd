"""Measures the figures of SPEC §8 against a release taskql server.

Run through bench/run.sh, which builds the server and installs wrk. Every
figure comes from this one run; every response body is checked, so errors
cannot pass for throughput.
"""

import argparse
import concurrent.futures
import http.client
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import tempfile
import threading
import time

PASSWORD = "benchmarking is fun 2026"
SECRET = "benchmark-secret-of-at-least-32-bytes-long"


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/taskql")
    parser.add_argument("--postgres", metavar="URL", help="admin URL; a fresh database is created")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--big", type=int, default=100_000, help="tasks of the big user")
    parser.add_argument("--subscribers", type=int, default=10_000, help="idle subscribed WebSocket connections")
    parser.add_argument("--events", type=int, default=300, help="events timed in each delivery phase")
    parser.add_argument("--only-events", action="store_true", help="measure the subscription figures alone")
    parser.add_argument("--metrics", action="store_true", help="run every server with a metrics listener, scraped each second")
    parser.add_argument("--traces", choices=["collector", "silent"],
                        help="run every server exporting traces, to a collector that takes them or to one that never answers")
    parser.add_argument("--only-login", action="store_true", help="measure the login figures alone")
    parser.add_argument("--only-reset", action="store_true", help="measure requestPasswordReset alone")
    parser.add_argument("--only-nested", action="store_true",
                        help="the nested query field by field: what each nested field adds to a request")
    parser.add_argument("--only-postgraphile", action="store_true",
                        help="the nested query against PostGraphile v5 on the same PostgreSQL (needs --postgres)")
    parser.add_argument("--only-page", action="store_true", help="measure tasks(first: 20) and the floor alone")
    parser.add_argument("--only-sync", action="store_true", help="measure createTask and changes alone")
    parser.add_argument("--baseline", metavar="BINARY",
                        help="an earlier build: its createTask is measured beside this one's, on a fresh database each")
    return parser.parse_args()


class Server:
    # Set by --metrics: every server gets a metrics listener, scraped every
    # second while it runs, as Prometheus would.
    with_metrics = False
    # Set by --traces: the collector every server exports its spans to.
    otlp_endpoint = None

    def __init__(self, binary, database_url, port, workdir):
        self.port = port
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TASKQL_DATABASE_URL": database_url,
            "TASKQL_LISTEN": f"127.0.0.1:{port}",
            "TASKQL_JWT_SECRET": SECRET,
            "TASKQL_AUTH_RATE_LIMIT": "off",
            "TASKQL_LOGIN_MAX_FAILURES": "1000000000",
            "TASKQL_LOG": "warn",
        }
        if self.otlp_endpoint:
            env["TASKQL_OTLP_ENDPOINT"] = self.otlp_endpoint
        if self.with_metrics:
            env["TASKQL_METRICS_LISTEN"] = f"127.0.0.1:{port + 1000}"
        self.log = open(os.path.join(workdir, f"server-{port}.log"), "w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([os.path.abspath(binary), "serve"], env=env, cwd=workdir, stderr=self.log)
        self.ready_after = self.wait_ready()
        self.scraping = threading.Event()
        if "TASKQL_METRICS_LISTEN" in env:
            threading.Thread(target=self.scrape, args=(port + 1000,), daemon=True).start()

    def scrape(self, port):
        while not self.scraping.wait(1.0):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/metrics")
                connection.getresponse().read()
            except OSError:
                pass

    def wait_ready(self):
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}")
            time.sleep(0.001)

    def memory_kib(self):
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def cpu_seconds(self):
        """User plus system time the server has used so far."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.scraping.set()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


class Floor(Server):
    """The floor program (bench/floor) on the benchmark's database."""

    def __init__(self, database, port, workdir):
        self.port = port
        self.scraping = threading.Event()
        env = {"PATH": os.environ.get("PATH", ""), "FLOOR_DATABASE": database,
               "FLOOR_LISTEN": f"127.0.0.1:{port}", "FLOOR_JWT_SECRET": SECRET}
        self.log = open(os.path.join(workdir, f"floor-{port}.log"), "w")
        binary = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor/target/release/taskql-floor")
        self.process = subprocess.Popen([binary], env=env, cwd=workdir, stderr=self.log)
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("POST", "/graphql", "{}")
                if connection.getresponse().status == 401:
                    return
            except OSError:
                time.sleep(0.005)
            if self.process.poll() is not None:
                raise SystemExit(f"the floor exited with {self.process.returncode}")


def page_body(port, query, token):
    """The raw bytes of an answer, to compare the floor with taskql."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    connection.request("POST", "/graphql", json.dumps({"query": query}), headers)
    return connection.getresponse().read()


def graphql(port, query, variables=None, token=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    connection.request("POST", "/graphql", json.dumps({"query": query, "variables": variables or {}}), headers)
    body = json.loads(connection.getresponse().read())
    if body.get("errors"):
        raise SystemExit(f"GraphQL error: {body['errors']}")
    return body["data"]


def register(port, email):
    credentials = {"email": email, "password": PASSWORD}
    graphql(port, "mutation($i: SignupInput!) { signup(input: $i) { id } }", {"i": credentials})
    data = graphql(port, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {"i": credentials})
    return data["login"]["accessToken"]


def seed_tasks(port, token, count):
    """Creates `count` tasks, 50 per request (the alias limit)."""
    made = 0
    while made < count:
        batch = min(50, count - made)
        fields = " ".join(
            f'a{i}: createTask(input: {{ title: "Task {made + i}", dueAt: "2026-12-{1 + (made + i) % 28:02d}T09:00:00Z" }}) {{ id }}'
            for i in range(batch)
        )
        graphql(port, f"mutation {{ {fields} }}", token=token)
        made += batch


LUA = r"""
wrk.method = "{method}"
wrk.headers["Content-Type"] = "application/json"
{auth}
local body = [==[{body}]==]
local expected = [==[{expected}]==]
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; counter = 0 end
function request()
  counter = counter + 1
  local text = string.gsub(body, "__N__", tostring(counter) .. "-" .. tostring(math.random(1, 1000000000)))
  if wrk.method == "GET" then return wrk.format(nil, wrk.path) end
  return wrk.format(nil, wrk.path, nil, text)
end
function response(status, headers, text)
  if status ~= 200 or string.find(text, expected, 1, true) == nil or string.find(text, '"errors"', 1, true) ~= nil then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("RESULT %d %.6f %d %d %d %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))
end
"""


def load(server, workdir, name, *, path="/graphql", method="POST", query=None, variables=None, token=None,
         expected='"data"', connections=32, duration=10, threads=2):
    """Runs wrk and returns requests per second, p50 and p99 in ms, and the
    server's CPU time per request in µs, all from checked bodies."""
    port = server.port
    body = json.dumps({"query": query, "variables": variables or {}}) if query else ""
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script = os.path.join(workdir, f"{name}.lua")
    with open(script, "w") as lua:
        lua.write(LUA.format(method=method, auth=auth, body=body, expected=expected))
    cpu_before = server.cpu_seconds()
    output = subprocess.run(
        ["wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{duration}s",
         "--latency", "-s", script, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    cpu = server.cpu_seconds() - cpu_before
    match = re.search(r"RESULT (\d+) ([\d.]+) (\d+) (\d+) (\d+) (\d+)", output)
    requests, seconds, p50, p99, bad, errors = match.groups()
    if int(bad) or int(errors):
        raise SystemExit(f"{name}: {bad} bad responses and {errors} socket or status errors of {requests}")
    return {"rps": int(requests) / float(seconds), "p50": int(p50) / 1000, "p99": int(p99) / 1000,
            "cpu_us": cpu / int(requests) * 1e6}


class HealthProbe(threading.Thread):
    """GET /healthz every 10 ms on one kept-alive connection."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.latencies = port, threading.Event(), []

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        while not self.stop.is_set():
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            if response.status != 200 or response.read() != b"ok":
                raise SystemExit("/healthz failed during the flood")
            self.latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, 0.010 - (time.perf_counter() - started)))

    def finish(self):
        self.stop.set()
        self.join()
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


PAGE = "{ tasks(first: 20) { edges { node { id title } } } }"
# SPEC §10's nested query: every list with its members and its first 20
# tasks with their people, labels and comment count (§11): 7 statements
# (tests/api/traces.rs asserts that a query of these loaders runs as many
# for 50 lists as for 2).
NESTED = ("{ lists { members { person { displayName } } tasks(first: 20) { edges { node { "
          "assignee { displayName } createdBy { displayName } labels { name } commentCount } } } } }")


def seed_lists(port, token, lists, per_list):
    """Makes `lists` lists in all (the inbox among them), `per_list` tasks each."""
    ids = [graphql(port, "{ lists { id } }", token=token)["lists"][0]["id"]]
    for n in range(1, lists):
        made = graphql(port, "mutation($n: String!) { createList(input: { name: $n }) { id } }", {"n": f"List {n}"}, token)
        ids.append(made["createList"]["id"])
    for list_id in ids:
        fields = " ".join(
            f'a{i}: createTask(input: {{ title: "Task {i}", listId: "{list_id}" }}) {{ id }}' for i in range(per_list)
        )
        graphql(port, f"mutation {{ {fields} }}", token=token)


# The nested query of SPEC §10 grown by §11 (labels, comment count, parent,
# subtasks), and the same asked of PostGraphile in its names.
NESTED_FULL = ("{ lists { name labels { name } members { person { displayName } role } tasks(first: 20) { "
               "totalCount edges { node { title assignee { displayName } createdBy { displayName } labels { name } "
               "commentCount parent { title } subtasks(first: 5) { totalCount edges { node { title } } } } } } } }")
POSTGRAPHILE_NESTED = ("{ allTaskLists { nodes { name labelsByListId { nodes { name } } "
                       "listMembersByListId { nodes { userByUserId { displayName } role } } "
                       "tasksByListId(first: 20) { totalCount nodes { title userByAssigneeId { displayName } "
                       "userByCreatedBy { displayName } taskLabelsByTaskId { nodes { labelByLabelId { name } } } "
                       "commentsByTaskId { totalCount } taskByParentId { title } "
                       "tasksByParentId(first: 5) { totalCount nodes { title } } } } } } }")


class PostGraphile(Server):
    """PostGraphile v5 (bench/postgraphile) on the benchmark's PostgreSQL
    database, its rows limited by row-level security as taskql's rule
    limits them."""

    def __init__(self, database_url, port, workdir):
        self.port = port
        self.scraping = threading.Event()
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "postgraphile")
        if not os.path.isdir(os.path.join(here, "node_modules")):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=here, check=True)
        subprocess.run(["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-f", os.path.join(here, "rls.sql")],
                       check=True, capture_output=True)
        env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": database_url, "TASKQL_JWT_SECRET": SECRET,
               "PORT": str(port), "NODE_ENV": "production", "GRAPHILE_ENV": "production"}
        self.log = open(os.path.join(workdir, f"postgraphile-{port}.log"), "w")
        self.process = subprocess.Popen(["node", "--import", "./shim.mjs", "server.mjs"], env=env, cwd=here,
                                        stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("POST", "/graphql", '{"query":"{ __typename }"}',
                                   {"content-type": "application/json"})
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.1)
            if self.process.poll() is not None or time.time() > deadline:
                raise SystemExit("PostGraphile did not start: see postgraphile-*.log in " + workdir)


def nested_answer(lists):
    """The nested query's answer, in one shape for both servers: lists by
    name, tasks by title, every name and count."""
    shaped = []
    for name, labels, members, total, tasks in lists:
        shaped.append({
            "name": name, "labels": sorted(labels), "members": sorted(members), "total": total,
            "tasks": sorted(tasks, key=lambda task: task["title"]),
        })
    return sorted(shaped, key=lambda one: one["name"])


def taskql_nested(data):
    lists = []
    for one in data["lists"]:
        tasks = [{
            "title": node["title"],
            "assignee": (node["assignee"] or {}).get("displayName"),
            "createdBy": (node["createdBy"] or {}).get("displayName"),
            "labels": sorted(label["name"] for label in node["labels"]),
            "comments": node["commentCount"],
            "parent": (node["parent"] or {}).get("title"),
            "subtasks": (node["subtasks"]["totalCount"],
                         sorted(edge["node"]["title"] for edge in node["subtasks"]["edges"])),
        } for node in (edge["node"] for edge in one["tasks"]["edges"])]
        lists.append((one["name"], [label["name"] for label in one["labels"]],
                      [(member["person"]["displayName"], member["role"].lower()) for member in one["members"]],
                      one["tasks"]["totalCount"], tasks))
    return nested_answer(lists)


def postgraphile_nested(data):
    lists = []
    for one in data["allTaskLists"]["nodes"]:
        tasks = [{
            "title": node["title"],
            "assignee": (node["userByAssigneeId"] or {}).get("displayName"),
            "createdBy": (node["userByCreatedBy"] or {}).get("displayName"),
            "labels": sorted(link["labelByLabelId"]["name"] for link in node["taskLabelsByTaskId"]["nodes"]),
            "comments": node["commentsByTaskId"]["totalCount"],
            "parent": (node["taskByParentId"] or {}).get("title"),
            "subtasks": (node["tasksByParentId"]["totalCount"],
                         sorted(sub["title"] for sub in node["tasksByParentId"]["nodes"])),
        } for node in one["tasksByListId"]["nodes"]]
        lists.append((one["name"], [label["name"] for label in one["labelsByListId"]["nodes"]],
                      [(member["userByUserId"]["displayName"], member["role"].lower())
                       for member in one["listMembersByListId"]["nodes"]],
                      one["tasksByListId"]["totalCount"], tasks))
    return nested_answer(lists)


def seed_nested(port, token):
    """10 lists × 20 tasks of a named owner, a second member, a label on
    each list, and on each list's first task that label, a comment and the
    owner as assignee."""
    graphql(port, 'mutation { updateProfile(input: { displayName: "Ada" }) { id } }', token=token)
    seed_lists(port, token, 10, 20)
    lists = graphql(port, "{ lists { id tasks(first: 1) { edges { node { id } } } } }", token=token)["lists"]
    me = graphql(port, "{ me { id } }", token=token)["me"]["id"]
    for one in lists:
        label = graphql(port, 'mutation($l: ID!) { createLabel(input: { listId: $l, name: "urgent", color: "#d00000" }) { id } }',
                        {"l": one["id"]}, token)["createLabel"]["id"]
        task = one["tasks"]["edges"][0]["node"]["id"]
        graphql(port, "mutation($t: ID!, $l: [ID!]!) { updateTask(id: $t, input: { labelIds: $l }) { id } }",
                {"t": task, "l": [label]}, token)
        graphql(port, 'mutation($t: ID!) { addComment(input: { taskId: $t, body: "Noted" }) { id } }',
                {"t": task}, token)
        graphql(port, "mutation($t: ID!, $p: ID) { assignTask(id: $t, personId: $p) { id } }",
                {"t": task, "p": me}, token)


def analyze(database_url):
    """Statistics for PostgreSQL's planner on the rows just seeded, as
    autovacuum would take them a minute later: without them it plans for
    the empty tables it saw first."""
    if database_url.startswith("postgres"):
        subprocess.run(["psql", database_url, "-qc", "ANALYZE"], check=True)


def measure_postgraphile(args, database_url, workdir):
    """The nested query, taskql against PostGraphile v5 on the same
    PostgreSQL database for the same viewer, each answer checked to be the
    other's before both are loaded by the same wrk script."""
    if not args.postgres:
        raise SystemExit("--only-postgraphile needs --postgres")
    c, d = args.connections, args.duration
    server = Server(args.binary, database_url, 18100, workdir)
    try:
        token = register(server.port, "nested@example.com")
        seed_nested(server.port, token)
        analyze(database_url)
        ours = taskql_nested(graphql(server.port, NESTED_FULL, token=token))
        pgl = PostGraphile(database_url, 18130, workdir)
        try:
            theirs = postgraphile_nested(graphql(pgl.port, POSTGRAPHILE_NESTED, token=token))
            if ours != theirs:
                raise SystemExit(f"PostGraphile's answer differs from taskql's:\n{theirs}\n{ours}")
            figures = {
                "taskql": load(server, workdir, "nested-taskql", query=NESTED_FULL, token=token,
                               expected='"lists"', connections=c, duration=d),
                "postgraphile": load(pgl, workdir, "nested-postgraphile", query=POSTGRAPHILE_NESTED, token=token,
                                     expected='"allTaskLists"', connections=c, duration=d),
            }
        finally:
            pgl.stop()
    finally:
        server.stop()
    return figures


# The nested query grown a field at a time, to see what each costs.
NESTED_STEPS = {
    "lists and their pages of 20 task titles": "{ lists { name tasks(first: 20) { totalCount edges { node { title } } } } }",
    "+ each task's parent": "{ lists { name tasks(first: 20) { totalCount edges { node { title parent { title } } } } } }",
    "+ each task's subtasks(first: 5)": ("{ lists { name tasks(first: 20) { totalCount edges { node { title "
                                         "subtasks(first: 5) { totalCount edges { node { title } } } } } } } }"),
    "§10's nested query (members, people, labels, commentCount)": NESTED,
    "all of it (the PostGraphile comparison's)": NESTED_FULL,
}


def measure_nested(args, database_url, workdir):
    """Each step of NESTED_STEPS for the viewer of seed_nested."""
    server = Server(args.binary, database_url, 18100, workdir)
    try:
        token = register(server.port, "nested@example.com")
        seed_nested(server.port, token)
        analyze(database_url)
        return {step: load(server, workdir, f"nested-{n}", query=query, token=token, expected='"lists"',
                           connections=args.connections, duration=args.duration)
                for n, (step, query) in enumerate(NESTED_STEPS.items())}
    finally:
        server.stop()


def nested_rows(figures):
    return [(f"{step}, 10 lists × 20 tasks: req/s (µs of server CPU)",
             f"{f['rps']:.0f} ({f['cpu_us']:.0f})", "-", None) for step, f in figures.items()]


def postgraphile_rows(figures):
    ours, theirs = figures["taskql"], figures["postgraphile"]
    ratio = ours["rps"] / theirs["rps"]
    return [
        ("nested query (§10 + labels, commentCount, parent, subtasks), 10 lists × 20 tasks: taskql req/s",
         f"{ours['rps']:.0f} (p50 {ours['p50']:.2f} ms, {ours['cpu_us']:.0f} µs CPU)", "-", None),
        ("the same for PostGraphile v5 with row-level security, req/s",
         f"{theirs['rps']:.0f} (p50 {theirs['p50']:.2f} ms, {theirs['cpu_us']:.0f} µs CPU)", "baseline", None),
        ("nested query vs PostGraphile on the same PostgreSQL", f"{ratio:.1f}x", ">= 6x", ratio >= 6),
    ]


def page_figures(server, args, workdir, database_url, token):
    """`{ __typename }`, the page, and the floor serving the same page."""
    port, d, c = server.port, args.duration, args.connections
    figures = {}
    figures["typename"] = load(server, workdir, "typename", query="{ __typename }", expected='"Query"', connections=c, duration=d)
    figures["tasks"] = load(server, workdir, "tasks", query=PAGE, token=token, expected='"edges"', connections=c, duration=d)
    floor_database = database_url if args.postgres else os.path.join(workdir, "taskql.db")
    floor = Floor(floor_database, 18110, workdir)
    try:
        if page_body(floor.port, PAGE, token) != page_body(port, PAGE, token):
            raise SystemExit("the floor's page differs from taskql's")
        figures["floor"] = load(floor, workdir, "floor", query=PAGE, token=token, expected='"edges"',
                                connections=c, duration=d)
    finally:
        floor.stop()
    many = register(port, "lists@example.com")
    seed_lists(port, many, 10, 20)
    figures["nested"] = load(server, workdir, "nested", query=NESTED, token=many, expected='"lists"',
                             connections=c, duration=d)
    return figures


def measure_page(server, args, workdir, database_url):
    small = register(server.port, "small@example.com")
    seed_tasks(server.port, small, 100)
    return page_figures(server, args, workdir, database_url, small)


def page_share_target(args):
    """The page's share of its floor to reach: 75% on SQLite, 50% on
    PostgreSQL, where the floor pipelines prepared statements."""
    return 0.5 if args.postgres else 0.75


def page_share_row(args, figures):
    share = figures["tasks"]["rps"] / figures["floor"]["rps"]
    target = page_share_target(args)
    return ("tasks(first: 20), share of the floor", f"{share:.0%}", f">= {target:.0%}", share >= target)


def page_rows(args, figures):
    return [
        ("{ __typename } req/s", f"{figures['typename']['rps']:.0f}", "-", None),
        ("tasks(first: 20) req/s", f"{figures['tasks']['rps']:.0f}", "-", None),
        ("the floor: the same page, minimal program, req/s", f"{figures['floor']['rps']:.0f}", "baseline", None),
        page_share_row(args, figures),
        ("server CPU per request, typename / tasks / floor, µs",
         " / ".join(f"{figures[name]['cpu_us']:.0f}" for name in ("typename", "tasks", "floor")), "-", None),
        ("nested query of §10 with labels and commentCount, 10 lists × 20 tasks, req/s (7 statements each)",
         f"{figures['nested']['rps']:.0f} ({figures['nested']['cpu_us']:.0f} µs CPU)", "-", None),
    ]


def measure_logins(server, args, workdir):
    """Logins one at a time (the ceiling), one per worker, and a flood with
    /healthz probed alongside; the user small@example.com must exist."""
    d = args.duration
    # One login at a time: the time of one verification (plus a request's
    # small overhead, so the ceiling below is if anything underestimated).
    login = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
    variables = {"i": {"email": "small@example.com", "password": PASSWORD}}
    single = load(server, workdir, "login-single", query=login, variables=variables, expected='"accessToken"',
                  connections=1, duration=max(3, d // 2), threads=1)
    verify_ms = single["p50"]
    workers = os.cpu_count()
    ceiling = workers / (verify_ms / 1000)
    # One connection per worker: every worker hashing at once with nothing
    # queued, which is the most the machine delivers when all its cores run
    # Argon2 side by side (they share the last-level cache and memory).
    pair = load(server, workdir, "login-pair", query=login, variables=variables, expected='"accessToken"',
                connections=workers, duration=max(3, d // 2))

    # The flood, with /healthz probed alongside it the way a load balancer
    # would: a request every 10 ms, not a second flood.
    probe = HealthProbe(server.port)
    probe.start()
    flood = load(server, workdir, "login-flood", query=login, variables=variables, expected='"accessToken"',
                 connections=2 * workers * 4, duration=d)
    health_p99 = probe.finish()

    return {"verify_ms": verify_ms, "ceiling": ceiling, "pair": pair, "flood": flood,
            "health_p99": health_p99, "workers": workers}


def login_rows(logins):
    ceiling, pair, flood = logins["ceiling"], logins["pair"], logins["flood"]
    return [
        ("one login (verify), ms", f"{logins['verify_ms']:.1f}", "-", None),
        ("login req/s, one connection per worker", f"{pair['rps']:.1f} ({pair['rps'] / ceiling:.0%} of ceiling)", "-", None),
        ("login req/s under flood", f"{flood['rps']:.1f} ({flood['rps'] / ceiling:.0%} of {ceiling:.1f} ceiling)",
         ">= 90% of workers / verify", flood["rps"] >= 0.9 * ceiling),
        ("server CPU per login under flood, ms", f"{flood['cpu_us'] / 1000:.1f}", "-", None),
        ("/healthz p99 during the flood, ms", f"{logins['health_p99']:.2f}", "< 10", logins["health_p99"] < 10),
    ]


def measure(server, args, workdir, database_url):
    """Every load figure, from one running server."""
    port, d, c = server.port, args.duration, args.connections
    idle_rss, _ = server.memory_kib()
    small = register(port, "small@example.com")
    big = register(port, "big@example.com")
    seed_tasks(port, small, 100)
    seed_tasks(port, big, args.big)

    figures = page_figures(server, args, workdir, database_url, small)
    page = PAGE
    figures["me"] = load(server, workdir, "me", query="{ me { id email } }", token=small, expected='"me"', connections=c, duration=d)
    create = 'mutation { createTask(input: { title: "Load __N__" }) { id } }'
    figures["createTask"] = load(server, workdir, "create", query=create, token=small, expected='"createTask"', connections=c, duration=d)
    _, loaded_hwm = server.memory_kib()

    logins = measure_logins(server, args, workdir)
    figures["login"] = logins.pop("flood")
    _, flood_hwm = server.memory_kib()

    # Latency of one page for a user with 100 and with many tasks.
    small_page = load(server, workdir, "page-small", query=page, token=small, expected='"edges"', connections=1, duration=max(3, d // 2), threads=1)
    big_page = load(server, workdir, "page-big", query=page, token=big, expected='"edges"', connections=1, duration=max(3, d // 2), threads=1)

    reset = measure_reset(port)

    return {"figures": figures, "reset": reset, "idle_kib": idle_rss, "loaded_kib": max(loaded_hwm, flood_hwm),
            **logins, "small_page": small_page, "big_page": big_page}


CREATE = 'mutation { createTask(input: { title: "Load __N__" }) { id } }'
CHANGES = ("query($since: String) { changes(since: $since, first: 500) { "
           "tasks { id title version } removedTaskIds cursor hasMore } }")


def measure_create(binary, database_url, port, args, workdir, name):
    """createTask req/s of `binary` on a database of its own (a user with 100 tasks)."""
    server = Server(binary, database_url, port, workdir)
    try:
        token = register(server.port, "create@example.com")
        seed_tasks(server.port, token, 100)
        return load(server, workdir, name, query=CREATE, token=token, expected='"createTask"',
                    connections=args.connections, duration=args.duration)
    finally:
        server.stop()


def measure_sync(server, args, workdir, tasks=10_000, changed=100):
    """`changes` for a user with `tasks` tasks, since a cursor `changed` changes back."""
    port = server.port
    token = register(port, "sync@example.com")
    seed_tasks(port, token, tasks)
    cursor = None
    while True:
        page = graphql(port, CHANGES.replace("first: 500", "first: 1000"), {"since": cursor}, token)["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    ids = [edge["node"]["id"] for edge in
           graphql(port, f"{{ tasks(first: {changed}) {{ edges {{ node {{ id }} }} }} }}", token=token)["tasks"]["edges"]]
    for start in range(0, len(ids), 50):
        fields = " ".join(
            f'u{i}: updateTask(id: "{id}", input: {{ title: "Changed {i}" }}) {{ id }}'
            for i, id in enumerate(ids[start:start + 50], start))
        graphql(port, f"mutation {{ {fields} }}", token=token)
    answer = graphql(port, CHANGES, {"since": cursor}, token)["changes"]
    if len(answer["tasks"]) != changed or answer["hasMore"]:
        raise SystemExit(f"changes since the cursor: {len(answer['tasks'])} tasks, not {changed}")
    return load(server, workdir, "changes", query=CHANGES, variables={"since": cursor}, token=token,
                expected='"changes"', connections=1, duration=max(3, args.duration // 2), threads=1)


def sync_rows(args, sync, create, baseline):
    rows = []
    if baseline:
        cost = baseline["rps"] / create["rps"] - 1
        rows.append(("createTask req/s, with the change log vs the baseline build",
                     f"{create['rps']:.0f} vs {baseline['rps']:.0f} ({cost:+.1%} cost)", "<= +10%", cost <= 0.10))
    else:
        rows.append(("createTask req/s", f"{create['rps']:.0f}", "-", None))
    target = None if args.postgres else 5
    rows.append(("changes since a cursor 100 changes back, 10,000 tasks, p50 / p99, ms",
                 f"{sync['p50']:.2f} / {sync['p99']:.2f}", "p50 < 5" if target else "-",
                 sync["p50"] < target if target else None))
    return rows


def measure_reset(port, accounts=100):
    """How long requestPasswordReset takes for an email with and without an
    account: one connection, requests alternating between the two, each email
    asked for three times (the most an hour lets through to the queue)."""
    known = [f"reset{i}@example.com" for i in range(accounts)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        list(pool.map(lambda email: graphql(port, "mutation($i: SignupInput!) { signup(input: $i) { id } }",
                                            {"i": {"email": email, "password": PASSWORD}}), known))
    unknown = [f"nobody{i}@example.com" for i in range(accounts)]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    query = "mutation($e: String!) { requestPasswordReset(email: $e) }"
    timings = {"with": [], "without": []}
    for _ in range(3):
        for with_account, without_account in zip(known, unknown):
            for kind, email in (("with", with_account), ("without", without_account)):
                body = json.dumps({"query": query, "variables": {"e": email}})
                started = time.perf_counter()
                connection.request("POST", "/graphql", body, {"content-type": "application/json"})
                answer = connection.getresponse().read()
                timings[kind].append((time.perf_counter() - started) * 1000)
                if b'"requestPasswordReset":true' not in answer:
                    raise SystemExit(f"requestPasswordReset: {answer!r}")
    summary = {}
    for kind, values in timings.items():
        values.sort()
        summary[kind] = {"p50": statistics.median(values), "p99": values[int(len(values) * 0.99) - 1],
                         "mean": statistics.fmean(values), "count": len(values)}
    return summary


def reset_rows(reset):
    with_account, without_account = reset["with"], reset["without"]
    return [
        ("requestPasswordReset p50 / p99 / mean, email with an account, ms",
         f"{with_account['p50']:.2f} / {with_account['p99']:.2f} / {with_account['mean']:.2f}", "-", None),
        ("requestPasswordReset p50 / p99 / mean, email without an account, ms",
         f"{without_account['p50']:.2f} / {without_account['p99']:.2f} / {without_account['mean']:.2f}",
         "same as with", None),
    ]


def measure_events(args, database_url, workdir):
    """Event delivery (one instance on SQLite, two on PostgreSQL: the
    mutation on one, the subscriber on the other), then memory and delivery
    with `--subscribers` idle subscribed connections open."""
    writer = Server(args.binary, database_url, 18300, workdir)
    listener = Server(args.binary, database_url, 18301, workdir) if args.postgres else writer
    try:
        node = subprocess.Popen(
            ["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "events.mjs"),
             "--write", f"http://127.0.0.1:{writer.port}", "--listen", f"http://127.0.0.1:{listener.port}",
             "--connections", str(args.subscribers), "--events", str(args.events)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        phases = {}
        before_kib = None
        for line in node.stdout:
            phase = json.loads(line)
            phases[phase["phase"]] = phase
            if phase["phase"] == "latency":
                before_kib, _ = listener.memory_kib()
            if phase["phase"] == "open":
                phases["open"]["kib"], _ = listener.memory_kib()
                node.stdin.write("measure\n")
                node.stdin.flush()
        if node.wait() != 0 or "loaded" not in phases:
            raise SystemExit("the event benchmark failed")
        phases["before_kib"] = before_kib
        return phases
    finally:
        if listener is not writer:
            listener.stop()
        writer.stop()


class Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that takes every batch and keeps none."""

    protocol_version = "HTTP/1.1"
    spans_bytes = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Collector.spans_bytes += len(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


def start_collector(kind):
    """The base URL of a collector: one that takes spans, or one that accepts
    connections and never answers them."""
    if kind == "collector":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1024)
    held = []

    def hold():
        while True:
            held.append(silent.accept()[0])

    threading.Thread(target=hold, daemon=True).start()
    return f"http://127.0.0.1:{silent.getsockname()[1]}"


def main():
    args = parse_args()
    Server.with_metrics = args.metrics
    if args.traces:
        Server.otlp_endpoint = start_collector(args.traces)
    workdir = tempfile.mkdtemp(prefix="taskql-bench-")
    if args.postgres:
        name = f"taskql_bench_{int(time.time())}"
        subprocess.run(["psql", args.postgres, "-qc", f'CREATE DATABASE "{name}"'], check=True)
        database_url = re.sub(r"/[^/]*$", f"/{name}", args.postgres)
    else:
        database_url = f"sqlite://{workdir}/taskql.db?mode=rwc"

    if args.only_events:
        events = measure_events(args, database_url, workdir)
        print_rows(args, event_rows(args, events))
        return
    if args.only_page:
        server = Server(args.binary, database_url, 18100, workdir)
        try:
            print_rows(args, page_rows(args, measure_page(server, args, workdir, database_url)))
        finally:
            server.stop()
        return
    if args.only_login:
        server = Server(args.binary, database_url, 18100, workdir)
        try:
            register(server.port, "small@example.com")
            print_rows(args, login_rows(measure_logins(server, args, workdir)))
        finally:
            server.stop()
        return
    if args.only_sync:
        sync, create, baseline = measure_sync_figures(args, database_url, workdir)
        print_rows(args, sync_rows(args, sync, create, baseline))
        return
    if args.only_nested:
        print_rows(args, nested_rows(measure_nested(args, database_url, workdir)))
        return
    if args.only_postgraphile:
        print_rows(args, postgraphile_rows(measure_postgraphile(args, database_url, workdir)))
        return
    if args.only_reset:
        server = Server(args.binary, database_url, 18100, workdir)
        try:
            print_rows(args, reset_rows(measure_reset(server.port)))
        finally:
            server.stop()
        return

    # Start to ready on an empty database: a fresh SQLite file each time.
    starts = []
    for attempt in range(5):
        url = database_url if args.postgres else f"sqlite://{workdir}/start-{attempt}.db?mode=rwc"
        server = Server(args.binary, url, 18200 + attempt, workdir)
        starts.append(server.ready_after * 1000)
        server.stop()
        if args.postgres:
            break

    server = Server(args.binary, database_url, 18100, workdir)
    try:
        m = measure(server, args, workdir, database_url)
    finally:
        server.stop()
    events = measure_events(args, database_url, workdir)
    figures = m["figures"]
    idle_rss, small_page, big_page = m["idle_kib"], m["small_page"], m["big_page"]
    workers, d, c = m["workers"], args.duration, args.connections

    start = statistics.median(starts)
    loaded_mib = m["loaded_kib"] / 1024
    rows = [
        ("{ __typename } req/s", f"{figures['typename']['rps']:.0f}", "-", None),
        ("tasks(first: 20) req/s", f"{figures['tasks']['rps']:.0f} ({figures['tasks']['rps'] / figures['typename']['rps']:.0%} of typename)", "-", None),
    ]
    if "floor" in figures:
        rows += [
            ("the floor: the same page, minimal program, req/s", f"{figures['floor']['rps']:.0f}", "baseline", None),
            page_share_row(args, figures),
        ]
    rows += [
        ("me req/s", f"{figures['me']['rps']:.0f}", "-", None),
        ("createTask req/s", f"{figures['createTask']['rps']:.0f}", "-", None),
    ]
    rows += login_rows({**m, "flood": figures["login"]})
    rows += [
        ("resident memory idle, MiB", f"{idle_rss / 1024:.1f}", "< 20", idle_rss / 1024 < 20),
        ("resident memory under load (peak), MiB", f"{loaded_mib:.1f}", "< 100", loaded_mib < 100),
        ("start to ready, empty database, ms", f"{start:.0f}", "< 200", start < 200),
        (f"page latency p50, 100 vs {args.big} tasks, ms",
         f"{small_page['p50']:.2f} vs {big_page['p50']:.2f} ({big_page['p50'] / small_page['p50']:.2f}x)",
         "<= 2x", big_page["p50"] <= 2 * small_page["p50"]),
    ]
    rows += reset_rows(m["reset"])
    rows += event_rows(args, events)
    rows += sync_rows(args, *measure_sync_figures(args, database_url, workdir))
    if args.postgres:
        # On a database of its own, as alone: PostGraphile's row-level
        # security reads slower beside the other phases' 30,000 tasks, and
        # its requests timed out in wrk.
        postgraphile = measure_postgraphile(args, fresh_database(args, workdir, "postgraphile"), workdir)
        rows += postgraphile_rows(postgraphile)
    print(f"\ntaskql on {'PostgreSQL' if args.postgres else 'SQLite'}, {workers} cores, wrk {c} connections, {d}s per phase")
    print_rows(args, rows)
    print("\nlatency p50 / p99, ms: " + ", ".join(
        f"{name} {f['p50']:.2f} / {f['p99']:.2f}" for name, f in figures.items()))
    print("server CPU time per request, µs: " + ", ".join(
        f"{name} {f['cpu_us']:.0f}" for name, f in figures.items()))


def fresh_database(args, workdir, name):
    """A database of its own for one phase: a SQLite file, or on PostgreSQL
    a database beside the first."""
    if not args.postgres:
        return f"sqlite://{workdir}/{name}.db?mode=rwc"
    database = f"taskql_bench_{name}_{int(time.time())}"
    subprocess.run(["psql", args.postgres, "-qc", f'CREATE DATABASE "{database}"'], check=True)
    return re.sub(r"/[^/]*$", f"/{database}", args.postgres)


def measure_sync_figures(args, database_url, workdir):
    """`changes`, and createTask of this build and of the baseline, each on a
    fresh database (on PostgreSQL, fresh databases beside the first)."""
    def fresh(name):
        return fresh_database(args, workdir, name)

    server = Server(args.binary, fresh("sync"), 18120, workdir)
    try:
        sync = measure_sync(server, args, workdir)
    finally:
        server.stop()
    create = measure_create(args.binary, fresh("create"), 18121, args, workdir, "create-log")
    baseline = None
    if args.baseline:
        baseline = measure_create(args.baseline, fresh("create_baseline"), 18122, args, workdir, "create-baseline")
    return sync, create, baseline


def event_rows(args, events):
    delivery, loaded, opened = events["latency"], events["loaded"], events["open"]
    delivery_target = 25 if args.postgres else 10
    where = "across two instances" if args.postgres else "one instance"
    all_mib = opened["kib"] / 1024
    per_kib = (opened["kib"] - events["before_kib"]) / opened["connections"]
    return [
        (f"event delivery p50 / p99, {where}, ms", f"{delivery['p50']:.2f} / {delivery['p99']:.2f}",
         f"p99 < {delivery_target}", delivery["p99"] < delivery_target),
        (f"{opened['connections']} subscribed connections: resident memory, MiB (per connection, KiB)",
         f"{all_mib:.1f} ({per_kib:.1f})", "< 250", all_mib < 250),
        (f"event delivery p50 / p99 with them open, {where}, ms", f"{loaded['p50']:.2f} / {loaded['p99']:.2f}",
         "p99 < 25", loaded["p99"] < 25),
    ]


def print_rows(args, rows):
    if Collector.spans_bytes:
        print(f"the collector received {Collector.spans_bytes / 1e6:.1f} MB of spans")
    print("| figure | measured | target | holds |")
    print("|---|---|---|---|")
    for figure, measured, target, holds in rows:
        verdict = "" if holds is None else ("yes" if holds else "**no**")
        print(f"| {figure} | {measured} | {target} | {verdict} |")


if __name__ == "__main__":
    main()
