"""A running taskql's calendar feed read by a real iCalendar parser
(Python's `icalendar`), its VTODOs compared with the tasks made through the
API, and a recurring task's occurrences in the feed expanded by
python-dateutil compared with the server's `occurrences`. Then the ETag is
asked for again (`304`) and the log is searched for the feed's token.

    python tests/ops/calendar_feed.py --binary target/debug/taskql

Needs the `icalendar` and `python-dateutil` packages.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from datetime import date, datetime, timezone

from dateutil.rrule import rrulestr
from icalendar import Calendar

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import free_port, graphql, wait_ready  # noqa: E402

PASSWORD = "calendars are a joy 2026"

TASKS = [
    {"title": "Stand-up", "dueAt": "2027-03-22T08:00:00Z", "timeZone": "Europe/Berlin",
     "recurrence": "FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20270501", "priority": "URGENT", "labels": ["Team"]},
    {"title": "Rent", "dueOn": "2027-01-31", "recurrence": "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=6",
     "priority": "HIGH", "labels": ["Home", "Money"]},
    {"title": "Call; then, write \\ back", "dueAt": "2027-11-07T14:30:00Z", "timeZone": "America/New_York",
     "description": "Line one\nLine two, with a comma", "priority": "LOW", "labels": []},
    {"title": "Christmas", "dueOn": "2026-12-24", "priority": "NONE", "labels": []},
]
PRIORITIES = {"URGENT": 1, "HIGH": 3, "MEDIUM": 5, "LOW": 9}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/debug/taskql")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="taskql-calendar-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TASKQL_DATABASE_URL": f"sqlite://{workdir}/taskql.db?mode=rwc",
        "TASKQL_LISTEN": f"127.0.0.1:{port}",
        "TASKQL_ARGON2_M_KIB": "1024",
        "TASKQL_ARGON2_T": "1",
        "TASKQL_LOG": "debug",
    }
    log = open(f"{workdir}/server.log", "w")
    server = subprocess.Popen([os.path.abspath(args.binary), "serve"], env=env, cwd=workdir,
                              stdout=log, stderr=log)
    try:
        wait_ready(f"{base}/readyz", "taskql")
        url = check(base)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    with open(f"{workdir}/server.log") as text:
        if token in text.read():
            raise SystemExit("the feed's token is in the log")
    print("ok: the token is in no log line")


def check(base):
    email = f"ada-{datetime.now().timestamp()}@example.com"
    account = {"email": email, "password": PASSWORD}
    graphql(base, "mutation($i: SignupInput!) { signup(input: $i) { id } }", {"i": account})
    token = graphql(base, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                    {"i": account})["login"]["accessToken"]
    list_id = graphql(base, 'mutation { createList(input: { name: "Home, sweet; home" }) { id } }',
                      token=token)["createList"]["id"]
    label_ids = {}
    made = {}
    for task in TASKS:
        for name in task["labels"]:
            if name not in label_ids:
                label_ids[name] = graphql(
                    base, "mutation($i: CreateLabelInput!) { createLabel(input: $i) { id } }",
                    {"i": {"listId": list_id, "name": name, "color": "#336699"}}, token)["createLabel"]["id"]
        given = {key: value for key, value in task.items() if key != "labels"}
        given["listId"] = list_id
        given["labelIds"] = [label_ids[name] for name in task["labels"]]
        made[graphql(base, "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                     {"i": given}, token)["createTask"]["id"]] = task
    url = graphql(base, "mutation($l: ID!) { createCalendarFeed(listId: $l) }", {"l": list_id},
                  token)["createCalendarFeed"]
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["content-type"] == "text/calendar; charset=utf-8", answer.headers
        etag = answer.headers["etag"]
        calendar = Calendar.from_ical(answer.read())
    todos = {str(todo["UID"]): todo for todo in calendar.walk("VTODO")}
    assert set(todos) == set(made), (set(todos), set(made))
    zones = {str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")}
    assert zones == {"Europe/Berlin", "America/New_York"}, zones
    for uid, task in made.items():
        todo = todos[uid]
        assert str(todo["SUMMARY"]) == task["title"], (todo["SUMMARY"], task["title"])
        assert str(todo.get("DESCRIPTION", "")) == task.get("description", ""), todo.get("DESCRIPTION")
        due = todo.decoded("DUE")
        if "dueOn" in task:
            assert due == date.fromisoformat(task["dueOn"]), due
        else:
            assert due.astimezone(timezone.utc) == datetime.fromisoformat(task["dueAt"].replace("Z", "+00:00")), due
            assert str(due.tzinfo) == task["timeZone"] or todo["DUE"].params["TZID"] == task["timeZone"]
        if task["priority"] in PRIORITIES:
            assert int(todo["PRIORITY"]) == PRIORITIES[task["priority"]], todo.get("PRIORITY")
        else:
            assert "PRIORITY" not in todo
        categories = sorted(str(c) for cats in ([todo["CATEGORIES"]] if "CATEGORIES" in todo else [])
                            for c in cats.cats)
        assert categories == sorted(task["labels"]), (categories, task["labels"])
        if "recurrence" in task:
            compare_occurrences(base, token, list_id, uid, todo)
    print(f"ok: {len(todos)} VTODOs read by icalendar match the tasks")
    request = urllib.request.Request(url, headers={"if-none-match": etag})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise SystemExit("If-None-Match with the feed's ETag was answered 200")
    except urllib.error.HTTPError as answer:
        assert answer.code == 304, answer.code
    print("ok: If-None-Match answers 304")
    return url


def compare_occurrences(base, token, list_id, uid, todo):
    """The series the feed gives a calendar app (DTSTART, RRULE), expanded by
    dateutil, against the server's own occurrences in the same window."""
    start = todo.decoded("DTSTART")
    rule = todo["RRULE"].to_ical().decode()
    timed = isinstance(start, datetime)
    window_start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    window_end = datetime(2027, 11, 1, tzinfo=timezone.utc)
    if timed:
        expanded = [at.astimezone(timezone.utc) for at in rrulestr(rule, dtstart=start)
                    if window_start <= at < window_end]
        feed = [at.strftime("%Y-%m-%dT%H:%M:%SZ") for at in expanded]
    else:
        dtstart = datetime(start.year, start.month, start.day)
        feed = [at.date().isoformat() for at in rrulestr(rule, dtstart=dtstart)
                if window_start.replace(tzinfo=None) <= at < window_end.replace(tzinfo=None)]
    found = graphql(
        base,
        "query($f: DateTime!, $t: DateTime!, $l: ID) { occurrences(from: $f, to: $t, listId: $l) "
        "{ task { id } dueAt dueOn } }",
        {"f": window_start.isoformat(), "t": window_end.isoformat(), "l": list_id}, token)["occurrences"]
    server = [o["dueAt"] or o["dueOn"] for o in found if o["task"]["id"] == uid]
    assert server == feed, (uid, server, feed)
    print(f"ok: {len(feed)} occurrences of {todo['SUMMARY']} as dateutil expands the feed's rule")


if __name__ == "__main__":
    main()
