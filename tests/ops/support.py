"""What the operations checks share: free ports and waiting for a server."""

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
