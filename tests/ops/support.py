"""What the operations checks share: free ports, waiting for a server, and
running an operation that must succeed."""

import json
import socket
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, what, patience=60):
    """Returns once `url` answers 200; stops the check after `patience` s."""
    deadline = time.time() + patience
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not come up at {url}")


def graphql(base, query, variables=None, token=None):
    """The data of an operation on the server at `base`; its errors stop
    the check."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{base}/graphql", body, headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = json.load(answer)
    if data.get("errors"):
        raise SystemExit(f"{query.split('(')[0]}: {data['errors']}")
    return data["data"]
