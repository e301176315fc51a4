"""Every process's metrics follow Prometheus's naming conventions: ours are named
`chorus_...` in snake case, counters end in `_total` and nothing else does, times are in
seconds and sizes in bytes (base units), and no label holds a value per person, item,
request or raw path.

Scraped from every api and worker of the session's platform once traffic has been through
them: a request to every route with a path parameter, a path no route matches, and a share
through the events to rewards and metrics. `promtool check metrics` lints each scrape too.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import ref, token

# The process and runtime collectors of prometheus-client, named by the library.
CLIENT_COLLECTORS = ("process_", "python_")
NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
# Units that are not the base ones (seconds, bytes; ratios as 0-1), or not in the plural.
NOT_BASE_UNITS = {
    *("ms", "msec", "millis", "millisecond", "milliseconds", "us", "usec", "microseconds"),
    *("ns", "nanoseconds", "second", "minute", "minutes", "hour", "hours", "day", "days"),
    *("byte", "kb", "kib", "kilobytes", "mb", "mib", "megabytes", "gb", "gib", "gigabytes"),
    *("bit", "bits", "percent", "pct"),
}
# A metric whose name has one of these words measures time: its unit is seconds.
TIME_WORDS = {"duration", "latency", "time", "age", "elapsed", "delay", "wait", "timeout"}
# Label names that would take a value per person, item, request or link (any `*_id` too).
PER_ENTITY = {"id", "employee", "user", "sub", "subject", "email", "person", "session"}
PER_ENTITY |= {"url", "uri", "link", "code", "short_code", "ip", "host", "query", "trace"}
# Business metrics go down to the tenant and no further (docs/architecture.md): a value per
# organisation the deployment serves. Every test makes a tenant of its own, so the values
# of this label are not counted here.
TENANT = "tenant"
# Distinct values one label of one metric may take in a process: routes, topics,
# collections, outcomes... all fixed by the code.
MOST_VALUES = 100
# An id, a long number, an address: not a value a label should take.
ID_LIKE = re.compile(r"[0-9a-f]{12,}|\d{6,}|@|://", re.IGNORECASE)

Scrapes = dict[str, str]  # "<service> <role>" -> the text of its /metrics


def _traffic(platform: Any, marker: str) -> None:
    """A request to every route with a path parameter (`marker` in each), one to a path no
    route has, and a share by an employee named after `marker` through to the figures. The
    answers do not matter, only that the processes saw the requests."""
    with httpx.Client(timeout=30) as http:
        for (_service, role), process in platform.processes.items():
            if role != "api":
                continue
            document = http.get(f"{process.ops_url}/openapi.json")
            paths = document.json()["paths"] if document.status_code == 200 else {}
            for path, operations in paths.items():
                if "{" in path and "get" in operations:
                    http.get(process.url + re.sub(r"\{[^}]*\}", marker, path))
            http.get(f"{process.url}/no-such-route/{marker}")

        tenant = ref("acme")
        me = token(tenant, f"e-{marker}")
        share = platform.url("share")
        joined = http.post(f"{share}/api/v1/advocates/me", headers=me, json={"accept": True})
        assert joined.status_code == 201, joined.text
        shared = http.post(
            f"{share}/api/v1/shares",
            headers=me,
            json={
                "network": "linkedin",
                "url": f"https://www.linkedin.com/pulse/{marker}",
                "text": "Mine",
            },
        )
        assert shared.status_code == 201, shared.text
        links = platform.processes[("share", "api")].links_url
        http.get(f"{links}/l/{shared.json()['short_code']}")
        # Once metrics has counted the share, every worker on the way has handled it.
        metrics_worker = platform.processes[("metrics", "worker")].ops_url

        def counted() -> bool:
            scraped = http.get(f"{metrics_worker}/metrics").text.splitlines()
            return any(
                line.startswith("chorus_metrics_shares_total{") and f'tenant="{tenant}"' in line
                for line in scraped
            )

        deadline = time.monotonic() + 90
        while not counted():
            assert time.monotonic() < deadline, f"metrics never counted the share of {tenant}"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def marker() -> str:
    """In every path parameter, the employee's id and the shared URL: never in a label."""
    return secrets.token_hex(16)


@pytest.fixture(scope="module")
def scrapes(platform: Any, marker: str) -> Scrapes:
    _traffic(platform, marker)
    scraped = {}
    for (service, role), process in platform.processes.items():
        reply = httpx.get(f"{process.ops_url}/metrics", timeout=10)
        assert reply.status_code == 200, (service, role)
        # The platform's consumer groups are `<service>-<suffix>`, so that no other test's
        # workers share them; deployed, a group is the service's name.
        scraped[f"{service} {role}"] = reply.text.replace(f"-{platform.suffix}", "")
    assert len(scraped) == 12, sorted(scraped)  # five services and the web app, api and worker
    return scraped


def _declared(text: str) -> dict[str, str]:
    """Each metric's name as exposed, with its type; without the `_created` timestamps
    prometheus-client exposes beside counters and histograms, which are its own."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    timestamps = {
        f"{name.removesuffix('_total')}_created"
        for name, kind in types.items()
        if kind in ("counter", "histogram", "summary")
    }
    return {name: kind for name, kind in types.items() if name not in timestamps}


def _values(text: str) -> dict[tuple[str, str], set[str]]:
    """(metric, label) -> the values the label takes in the scrape."""
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label not in ("le", "quantile"):
                    values[(family.name, label)].add(value)
    return values


def test_our_metrics_are_named_chorus_in_snake_case(scrapes: Scrapes) -> None:
    for process, text in scrapes.items():
        for name in _declared(text):
            assert NAME.fullmatch(name), f"{process}: {name} is not in snake case"
            assert name.startswith(("chorus_", *CLIENT_COLLECTORS)), f"{process}: {name}"


def test_counters_and_only_counters_end_in_total(scrapes: Scrapes) -> None:
    for process, text in scrapes.items():
        for name, kind in _declared(text).items():
            assert name.endswith("_total") == (kind == "counter"), f"{process}: {name} ({kind})"


def test_times_are_in_seconds_and_sizes_in_bytes(scrapes: Scrapes) -> None:
    for process, text in scrapes.items():
        for name in _declared(text):
            words = set(name.split("_"))
            assert not words & NOT_BASE_UNITS, f"{process}: {name} is not in a base unit"
            if words & TIME_WORDS:
                assert "seconds" in words, f"{process}: {name} measures time, not in seconds"


def test_no_label_takes_a_value_per_person_item_request_or_path(
    scrapes: Scrapes, marker: str
) -> None:
    for process, text in scrapes.items():
        for (metric, label), values in _values(text).items():
            where = f"{process}: {metric}{{{label}}}"
            assert label not in PER_ENTITY and not label.endswith("_id"), where
            assert not [v for v in values if marker in v], f"{where} holds what was sent"
            if label == TENANT:
                continue
            assert len(values) <= MOST_VALUES, f"{where}: {len(values)} values"
            assert not [v for v in values if ID_LIKE.search(v)], f"{where}: {sorted(values)}"
            if label == "route":  # the route's template, never the path asked for
                assert all(v == "unmatched" or v.startswith("/") for v in values), values
            else:
                assert not [v for v in values if v.startswith("/")], f"{where}: a raw path"


def test_promtool_finds_nothing_to_lint(scrapes: Scrapes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not on PATH: `make promtool` installs Debian's prometheus package")
    for process, text in scrapes.items():
        linted = subprocess.run(
            [promtool, "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert linted.returncode == 0, f"{process}:\n{linted.stdout}{linted.stderr}"
