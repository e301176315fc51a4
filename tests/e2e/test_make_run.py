"""`make run`: everything comes up with demo data, the web app first in what it prints, and
Ctrl-C leaves no process behind. It runs with `--observability`: Prometheus scrapes every
process with the production rules, and Jaeger receives the services' traces."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from observability import JAEGER_PORT, PROMETHEUS_PORT, RULES_FILE, plain_rules, prometheus_config
from run import scrape_targets
from stack.servers import PrometheusServer
from stack.toolchain import ensure_jaeger_binary
from support import REPO, token

pytestmark = pytest.mark.long

# Ports of its own for the infrastructure, so the servers the suite runs on stay untouched.
KAFKA_PORT, CONTROLLER_PORT, MONGO_PORT = 19092, 19093, 27018
WEB_PORTS = [8080, 9080]  # the web app's api and worker
SERVICE_PORTS = [*WEB_PORTS, 8081, 8082, 8083, 8084, 8085, 9081, 9082, 9083, 9084, 9085]
# Where /readyz and /metrics are: each api's operations port, and the workers' ports.
OPS_PORTS = [7080, 7081, 7082, 7083, 7084, 7085, 9080, 9081, 9082, 9083, 9084, 9085]
DOCS = "http://127.0.0.1:7081/docs"  # content's api document, on its operations port
LINKS_PORT = 8090  # the share api's short-link listener
SIGN_IN = "http://127.0.0.1:8080/signin"
STOP_SECONDS = 120  # what stopping may take at most, by the timeouts of run.py and devstack
PROMETHEUS = f"http://127.0.0.1:{PROMETHEUS_PORT}"
JAEGER = f"http://127.0.0.1:{JAEGER_PORT}"
# Prometheus, Jaeger's query API and UI, its OTLP receiver and its query gRPC API.
OBSERVABILITY_PORTS = [PROMETHEUS_PORT, JAEGER_PORT, 4318, 16685]


def _processes() -> dict[int, str]:
    """Live processes by pid (zombies, already dead and waiting to be reaped, are left out)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
            except OSError:
                continue
    return found


def _children(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(entry.parent.name))
    return children


def _ours(cmdlines: dict[int, str]) -> set[int]:
    """Kafka, the Mongo server, Prometheus and Jaeger started for this run (their data
    folders name the port)."""
    marks = (f"kafka-{KAFKA_PORT}", f"mongo-{MONGO_PORT}", f":{MONGO_PORT}")
    marks += (f"prometheus-{PROMETHEUS_PORT}", f"jaeger-{JAEGER_PORT}")
    return {pid for pid, cmd in cmdlines.items() if any(mark in cmd for mark in marks)}


def _demo_history_is_there() -> None:
    """A year of the demo's history: the company page grew 14 %, the advocates' own networks
    grew, the audience reads most on Tuesday mornings (Oslo time), and a win is drafted."""
    today = datetime.now(UTC).date()
    alice = token("demo", "alice", roles=("admin",))
    period = {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()}
    figures: dict[str, object] = {}
    best: list[dict[str, int]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = httpx.get(
            "http://127.0.0.1:8084/api/v1/figures", params=period, headers=alice, timeout=10
        )
        figures = reply.json().get("figures", {}) if reply.status_code == 200 else {}
        moments = httpx.get(
            "http://127.0.0.1:8084/api/v1/moments",
            params={"network": "linkedin", "weeks": 9},
            headers=alice,
            timeout=10,
        )
        best = moments.json()["networks"][0]["best"] if moments.status_code == 200 else []
        wins = httpx.get("http://127.0.0.1:8084/api/v1/wins", headers=alice, timeout=10)
        drafted = [d["milestone"] for d in wins.json()["drafts"]] if wins.status_code == 200 else []
        if figures.get("company_follower_growth") == 0.14 and best and drafted:
            break
        time.sleep(1)
    assert figures.get("company_follower_growth") == 0.14, figures
    assert (figures.get("advocate_network_growth") or 0) > 0.15, figures
    assert (best[0]["weekday"], best[0]["hour"]) == (1, 7), best
    # A win waits for the storyteller: the applications through the job post.
    assert "applications" in drafted, drafted


def _demo_onboarding_is_there() -> None:
    """A finished and an unfinished onboarding path, and areas with people but no content."""
    content = "http://127.0.0.1:8081/api/v1"
    carol = httpx.get(f"{content}/onboarding", headers=token("demo", "carol"), timeout=10).json()
    dave = httpx.get(f"{content}/onboarding", headers=token("demo", "dave"), timeout=10).json()
    assert (carol["done"], carol["total"], carol["complete"]) == (5, 5, True), carol
    assert (dave["done"], dave["total"], dave["complete"]) == (2, 5, False), dave
    bob = token("demo", "bob", roles=("curator",))
    areas = httpx.get(f"{content}/expertise", headers=bob, timeout=10).json()["areas"]
    assert {a["area"] for a in areas if a["uncovered"]} >= {"kubernetes", "data science"}, areas


def _demo_buddies_and_suggestions_are_there() -> None:
    """A pair of buddies with a draft that got feedback, and suggested rewards with votes."""
    carol = token("demo", "carol", groups=("sales",))
    mine = httpx.get("http://127.0.0.1:8082/api/v1/buddies/me", headers=carol, timeout=10).json()
    assert mine["pair"] is not None and mine["pair"]["status"] == "active", mine
    assert mine["buddy"]["employee_id"] == "dave", mine
    suggestions = httpx.get(
        "http://127.0.0.1:8083/api/v1/reward-suggestions", headers=carol, timeout=10
    ).json()["suggestions"]
    assert sum(s["votes"] for s in suggestions) >= 4, suggestions


def _demo_leader_post_is_there() -> None:
    """The leaders' group is named, and a leader's own post is in a colleague's feed."""
    share = "http://127.0.0.1:8082/api/v1"
    bob = token("demo", "bob", roles=("curator",))
    named = httpx.get(f"{share}/settings/leaders", headers=bob, timeout=10).json()
    assert named == {"leaders_group": "leadership"}, named
    carol = token("demo", "carol", groups=("sales",))
    deadline = time.monotonic() + 30
    while True:
        feed = httpx.get("http://127.0.0.1:8081/api/v1/feed", headers=carol, timeout=10).json()
        if any("leaders" in (item.get("topics") or []) for item in feed["items"]):
            return
        assert time.monotonic() < deadline, feed
        time.sleep(0.5)


def _prometheus_scrapes_every_process_with_the_rules() -> None:
    """Every process is a target and up, and the production rules are loaded."""
    expected = {f"127.0.0.1:{port}" for port in OPS_PORTS}
    targets: list[dict[str, object]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=10).json()
        targets = reply["data"]["activeTargets"]
        if {t["labels"]["instance"] for t in targets} == expected and all(
            t["health"] == "up" for t in targets
        ):
            break
        time.sleep(1)
    assert {t["labels"]["instance"] for t in targets} == expected, targets
    assert all(t["health"] == "up" for t in targets), targets
    loaded = httpx.get(f"{PROMETHEUS}/api/v1/rules", timeout=10).json()["data"]["groups"]
    production = yaml.safe_load(plain_rules())["groups"]
    assert sorted((g["name"], len(g["rules"])) for g in loaded) == sorted(
        (g["name"], len(g["rules"])) for g in production
    )


def _jaeger_has_the_services_traces() -> None:
    """Every service's api sent Jaeger the traces of the demo's requests."""
    wanted = {f"chorus-{name}" for name in ("content", "share", "rewards", "metrics", "people")}
    services: set[str] = set()
    deadline = time.monotonic() + 60
    while not wanted <= services and time.monotonic() < deadline:
        time.sleep(1)
        services = set(httpx.get(f"{JAEGER}/api/services", timeout=10).json()["data"] or ())
    assert wanted <= services, services
    found = httpx.get(
        f"{JAEGER}/api/traces", params={"service": "chorus-content", "limit": 1}, timeout=10
    ).json()["data"]
    assert found and found[0]["spans"], found


def test_the_local_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    """What `--observability` gives Prometheus: a target per process and the production
    rules, as `promtool check config` reads them."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not on PATH: `make promtool` installs Debian's prometheus package")
    targets = scrape_targets()
    assert sorted(targets.values()) == sorted(OPS_PORTS)
    server = PrometheusServer(
        PROMETHEUS_PORT,
        tmp_path,
        config=prometheus_config(targets),
        files={RULES_FILE: plain_rules()},
    )
    checked = subprocess.run(
        [promtool, "check", "config", str(server.write_config())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = sum(len(group["rules"]) for group in yaml.safe_load(plain_rules())["groups"])
    assert f"SUCCESS: {rules} rules found" in checked.stdout, checked.stdout


@pytest.mark.infra
@pytest.mark.builds
# The first run builds Jaeger: minutes before run.py starts.
@pytest.mark.timeout(3600)
def test_make_run_serves_everything_and_ctrl_c_stops_it_all() -> None:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not on PATH: `make prometheus` installs Debian's package")
    ensure_jaeger_binary()
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL")
    }
    run = subprocess.Popen(
        [
            sys.executable,
            "deploy/local/run.py",
            f"--kafka-port={KAFKA_PORT}",
            f"--kafka-controller-port={CONTROLLER_PORT}",
            f"--mongo-port={MONGO_PORT}",
            "--observability",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert run.stdout is not None
    output = b""
    services: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while b"Ctrl-C stops everything" not in output:
            assert run.poll() is None, output.decode(errors="replace")
            assert time.monotonic() < deadline, output.decode(errors="replace")
            if select.select([run.stdout], [], [], 1.0)[0]:
                output += os.read(run.stdout.fileno(), 65536)
        time.sleep(1)  # the banner's last lines
        if select.select([run.stdout], [], [], 0.5)[0]:
            output += os.read(run.stdout.fileno(), 65536)
        text = output.decode()
        assert DOCS in text and "Bearer" in text
        banner = text[text.index("Ctrl-C stops everything") :]
        # The web app and its development sign-in come first, before any api or token.
        assert SIGN_IN in banner
        first_other = min(banner.index(DOCS), banner.index("Bearer"))
        assert banner.index("http://127.0.0.1:8080/") < first_other
        assert banner.index(SIGN_IN) < first_other
        # Prometheus and Jaeger right after the web app.
        assert banner.index(SIGN_IN) < banner.index(f"{PROMETHEUS}/") < first_other
        assert banner.index(SIGN_IN) < banner.index(f"{JAEGER}/") < first_other
        for port in OPS_PORTS:
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
        assert httpx.get("http://127.0.0.1:8081/metrics", timeout=10).status_code == 404
        sign_in = httpx.get(SIGN_IN, timeout=10)
        assert sign_in.status_code == 200 and "text/html" in sign_in.headers["content-type"]
        assert "demo/carol" in sign_in.text, "the demo tenant's people are offered"
        htmx = httpx.get("http://127.0.0.1:8080/static/vendor/htmx.min.js", timeout=10)
        assert htmx.status_code == 200 and "htmx" in htmx.text, "npm's htmx.org is served"
        missing = httpx.get(f"http://127.0.0.1:{LINKS_PORT}/l/zzzzzzzz", timeout=10)
        assert missing.status_code == 404 and "Link not found" in missing.text
        _demo_history_is_there()
        _demo_onboarding_is_there()
        _demo_leader_post_is_there()
        _demo_buddies_and_suggestions_are_there()
        _prometheus_scrapes_every_process_with_the_rules()
        _jaeger_has_the_services_traces()

        # The services, and Prometheus and Jaeger.
        services = _children(run.pid)
        infra = _ours(_processes())
        assert len(services) == len(SERVICE_PORTS) + 2, services
        assert len(infra) >= 4, "Kafka, the Mongo server, Prometheus and Jaeger should run"

        os.kill(run.pid, signal.SIGINT)  # what Ctrl-C sends
        # The services get 15 s to stop, then Kafka and the Mongo server 30 s each before
        # SIGKILL and 10 s more: a loaded machine can need most of it, a hang needs more.
        # Its output is read meanwhile: a full pipe would stop it mid-print.
        rest, _ = run.communicate(timeout=STOP_SECONDS)
        assert run.returncode == 0, rest.decode(errors="replace")[-3000:]
        time.sleep(0.5)
        left = (services | infra) & set(_processes())
        assert not left, {pid: _processes().get(pid) for pid in left}
        for port in sorted({*SERVICE_PORTS, *OPS_PORTS, LINKS_PORT, *OBSERVABILITY_PORTS}):
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for pid in services | _ours(_processes()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
