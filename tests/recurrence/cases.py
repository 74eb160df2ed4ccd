"""Occurrences of recurrence rules as python-dateutil expands them, the
independent expander the server's expansion (src/dates/recurrence.rs) is
compared with in CI:

    python cases.py > cases.json
    TASKQL_RECURRENCE_CASES=cases.json cargo test --lib dates::recurrence -- --include-ignored

Each case: the rule as the server takes it, the series' start (a day, or a
wall-clock time in the zone), the zone, and the first occurrences (at most
N), written as the server writes them: a day, or an RFC 3339 time with the
zone's offset. A start whose time the zone does not have is left out, as
the two expanders treat it differently by design.
"""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

N = 40

RULES = [
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=WEEKLY;BYDAY=MO,TH",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,FR",
    "FREQ=MONTHLY",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=MONTHLY;BYDAY=2TU",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15",
    "FREQ=YEARLY",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU",
    "FREQ=DAILY;COUNT=5",
    "FREQ=WEEKLY;BYDAY=SA,SU;COUNT=7",
    "FREQ=MONTHLY;BYDAY=1MO;COUNT=4",
]

STARTS = [
    # Across the spring and autumn changes in both zones.
    ("2027-03-20T09:00:00", "Europe/Berlin"),
    ("2027-10-25T09:00:00", "Europe/Berlin"),
    ("2027-03-10T09:00:00", "America/New_York"),
    ("2026-10-30T18:30:00", "America/New_York"),
    ("2027-01-31T07:15:00", "Asia/Tokyo"),
    ("2027-01-31", "Europe/Berlin"),
    ("2028-02-29", "UTC"),
]

UNTILS = [
    # (rule, start, zone, UNTIL as the server takes it)
    ("FREQ=DAILY", "2027-03-25T09:00:00", "Europe/Berlin", "20270402T070000Z"),
    ("FREQ=WEEKLY;BYDAY=MO", "2027-03-01T09:00:00", "America/New_York", "20270405T130000Z"),
    ("FREQ=DAILY", "2027-01-01", "UTC", "20270110"),
    ("FREQ=MONTHLY;BYMONTHDAY=31", "2027-01-31", "UTC", "20271231"),
]


def expand(rule, start, zone):
    if "T" in start:
        dtstart = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone))
        if dtstart.astimezone(ZoneInfo("UTC")).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != datetime.fromisoformat(start):
            return None
        occurrences = rrulestr(rule, dtstart=dtstart)
        return [at.isoformat() for _, at in zip(range(N), occurrences)]
    day = date.fromisoformat(start)
    occurrences = rrulestr(rule, dtstart=datetime(day.year, day.month, day.day))
    return [at.date().isoformat() for _, at in zip(range(N), occurrences)]


def until_for_dateutil(rule, until):
    """dateutil wants UNTIL as an aware time for an aware start."""
    if until.endswith("Z"):
        return f"{rule};UNTIL={until}"
    return f"{rule};UNTIL={until}T235959"


cases = []
for rule in RULES:
    for start, zone in STARTS:
        found = expand(rule, start, zone)
        if found is not None:
            cases.append({"rule": rule, "start": start, "zone": zone, "occurrences": found})
for rule, start, zone, until in UNTILS:
    found = expand(until_for_dateutil(rule, until), start, zone)
    cases.append({"rule": f"{rule};UNTIL={until}", "start": start, "zone": zone, "occurrences": found})
print(json.dumps(cases, indent=1))
