"""The deployment of compose.yaml, checked without running it (its images
come from a registry this machine does not reach):

- `podman-compose config` reads compose.yaml (with env files made from the
  checked-in examples) and the stack is what docs/deploy.md says: two taskql
  replicas of one image on one env file, waiting for a healthy PostgreSQL,
  with their metrics listener on; HAProxy published, at the address the
  replicas trust for X-Forwarded-For;
- `haproxy -c` accepts deploy/haproxy.cfg, whose backend health-checks
  /readyz on exactly the replicas compose.yaml has;
- `promtool check config` accepts deploy/prometheus.yml, which scrapes
  exactly those replicas' metrics listeners.

    venv/bin/python tests/ops/deploy.py     (PyYAML and podman-compose)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(message):
    raise SystemExit(f"deployment: {message}")


def main():
    with tempfile.TemporaryDirectory() as work:
        shutil.copy(os.path.join(ROOT, "compose.yaml"), work)
        shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(work, "deploy"))
        for name in ("taskql", "postgres"):
            shutil.copy(os.path.join(work, "deploy", f"{name}.env.example"),
                        os.path.join(work, "deploy", f"{name}.env"))
        compose = [os.path.join(os.path.dirname(sys.executable), "podman-compose"), "-f", "compose.yaml"]
        printed = subprocess.run(compose + ["config"], cwd=work, capture_output=True, text=True)
        if printed.returncode != 0:
            fail(f"podman-compose config refuses compose.yaml:\n{printed.stdout}{printed.stderr}")
        config = yaml.safe_load(printed.stdout)
        monitoring = subprocess.run(compose + ["--profile", "monitoring", "config"], cwd=work,
                                    capture_output=True, text=True, check=True)
        with_monitoring = yaml.safe_load(monitoring.stdout)
    print("ok: podman-compose reads compose.yaml")

    services = config["services"]
    replicas = sorted(name for name in services if name.startswith("taskql-"))
    if len(replicas) != 2:
        fail(f"two taskql replicas expected, found {replicas}")
    first, second = (services[name] for name in replicas)
    for key in ("image", "env_file", "environment", "build"):
        if first.get(key) != second.get(key):
            fail(f"the replicas differ in {key}: {first.get(key)} / {second.get(key)}")
    if first["depends_on"].get("postgres", {}).get("condition") != "service_healthy":
        fail("the replicas do not wait for a healthy PostgreSQL")
    if "healthcheck" not in services["postgres"]:
        fail("PostgreSQL has no health check")
    environment = first["environment"]
    metrics_port = environment["TASKQL_METRICS_LISTEN"].rsplit(":", 1)[1]
    proxy = services["haproxy"]["networks"]["internal"]["ipv4_address"]
    if environment.get("TASKQL_TRUSTED_PROXIES") != proxy:
        fail(f"the replicas trust {environment.get('TASKQL_TRUSTED_PROXIES')}, HAProxy is at {proxy}")
    if not services["haproxy"].get("ports"):
        fail("HAProxy is not published")
    if any(service.get("ports") for name, service in services.items() if name != "haproxy"):
        fail("only the balancer is published")
    with open(os.path.join(ROOT, "deploy", "taskql.env.example")) as f:
        example = f.read()
    if not re.search(r"^TASKQL_JWT_SECRET=$", example, re.M):
        fail("the env example must leave TASKQL_JWT_SECRET for the operator to set")
    if "prometheus" in services or "prometheus" not in with_monitoring["services"]:
        fail("Prometheus runs with the monitoring profile only")
    print(f"ok: {', '.join(replicas)} share one image and env file, wait for PostgreSQL, "
          f"trust HAProxy at {proxy}, expose metrics on :{metrics_port}")

    haproxy_cfg = os.path.join(ROOT, "deploy", "haproxy.cfg")
    checked = subprocess.run(["haproxy", "-c", "-f", haproxy_cfg], capture_output=True, text=True)
    if checked.returncode != 0:
        fail(f"haproxy -c refuses deploy/haproxy.cfg:\n{checked.stdout}{checked.stderr}")
    with open(haproxy_cfg) as f:
        text = f.read()
    servers = sorted(re.findall(r"^\s*server\s+\S+\s+([\w-]+):8000", text, re.M))
    if servers != replicas:
        fail(f"HAProxy balances {servers}, compose.yaml has {replicas}")
    if not re.search(r"^\s*option httpchk GET /readyz", text, re.M):
        fail("HAProxy does not health-check /readyz")
    print("ok: haproxy -c accepts deploy/haproxy.cfg, which checks /readyz on both replicas")

    prometheus_yml = os.path.join(ROOT, "deploy", "prometheus.yml")
    subprocess.run(["promtool", "check", "config", prometheus_yml], check=True, capture_output=True)
    with open(prometheus_yml) as f:
        targets = sorted(t for job in yaml.safe_load(f)["scrape_configs"]
                         for static in job["static_configs"] for t in static["targets"])
    if targets != [f"{name}:{metrics_port}" for name in replicas]:
        fail(f"Prometheus scrapes {targets}")
    print("ok: promtool accepts deploy/prometheus.yml, which scrapes both metrics listeners")


if __name__ == "__main__":
    main()
