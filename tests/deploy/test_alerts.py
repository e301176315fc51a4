"""deploy/k8s/components/alerts: the SLO rules and alerts, checked and unit-tested.

promtool (Debian's `prometheus` package; `make test` installs it) checks the rules and runs
the unit tests of `components/alerts/tests/` against them. promtool reads plain rule files,
so the `spec` of the PrometheusRule is written to a temporary `rules.yaml` beside copies
of the test files (by `plain_rules`, which also writes it for the Prometheus of `make run
RUN_ARGS=--observability`). Beyond promtool: every alert carries a summary, a description
and a runbook that exists in docs/runbooks.md, has a firing and a quiet test case, and
reads only metrics the code exports or a short list of external ones.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from promql import EXTERNAL_METRICS, exported_metrics, metric_names, run

from contracts.catalogue import SUBSCRIPTIONS
from observability import plain_rules

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTS_DIR = REPO_ROOT / "deploy" / "k8s" / "components" / "alerts"
RULES = ALERTS_DIR / "rules.yaml"
TESTS_DIR = ALERTS_DIR / "tests"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks.md"

ANNOTATIONS = ("summary", "description", "runbook_url")


def prometheus_rule() -> dict[str, Any]:
    document = yaml.safe_load(RULES.read_text())
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert document["kind"] == "PrometheusRule"
    return document


def rules() -> list[dict[str, Any]]:
    return [rule for group in prometheus_rule()["spec"]["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown document."""
    anchors = set()
    for line in markdown.splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def test_every_alert_is_annotated_with_an_existing_runbook() -> None:
    anchors = github_anchors(RUNBOOKS.read_text())
    assert alerts()
    for alert in alerts():
        annotations = alert.get("annotations") or {}
        for name in ANNOTATIONS:
            assert (annotations.get(name) or "").strip(), f"{alert['alert']}: no {name}"
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page.endswith("docs/runbooks.md"), f"{alert['alert']}: {page}"
        assert anchor in anchors, f"{alert['alert']}: no section #{anchor} in docs/runbooks.md"
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]


def test_expressions_read_only_exported_or_external_metrics() -> None:
    exported = exported_metrics()
    assert {"chorus_http_requests_total", "chorus_dead_letters_total"} <= exported
    assert "chorus_metrics_event_visible_seconds_bucket" in exported
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        where = rule.get("alert") or rule.get("record")
        names = metric_names(rule["expr"])
        assert names, f"{where}: no metric found in {rule['expr']!r}"
        unknown = names - exported - EXTERNAL_METRICS - recorded
        assert not unknown, f"{where}: {sorted(unknown)} are neither exported nor external"
        # A recorded name is chorus:<what>:<how>, and only ever read, never invented.
        for name in names & recorded:
            assert name.startswith("chorus:"), name


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in sorted(TESTS_DIR.glob("*.test.yaml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test") or []:
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - firing == set(), "alerts never seen firing"
    assert names - quiet == set(), "alerts never seen quiet"
    assert firing | quiet <= names, f"tests of unknown alerts: {sorted((firing | quiet) - names)}"


@pytest.fixture
def rule_workdir(tmp_path: Path) -> Path:
    """rules.yaml (the PrometheusRule's spec, as promtool reads rules) and the test files."""
    (tmp_path / "rules.yaml").write_text(plain_rules(RULES))
    for test_file in TESTS_DIR.glob("*.test.yaml"):
        shutil.copy(test_file, tmp_path / test_file.name)
    return tmp_path


def test_promtool_checks_the_rules(promtool: str, rule_workdir: Path) -> None:
    run([promtool, "check", "rules", "rules.yaml"], rule_workdir)


def test_promtool_unit_tests_pass(promtool: str, rule_workdir: Path) -> None:
    test_files = sorted(p.name for p in rule_workdir.glob("*.test.yaml"))
    assert test_files, f"no promtool tests in {TESTS_DIR}"
    run([promtool, "test", "rules", *test_files], rule_workdir)


def test_the_lag_objective_covers_every_consumer_group() -> None:
    """Every group a worker reads in (contracts.catalogue) is summed into the lag SLI, and
    nothing else of Kafka's."""
    (rule,) = [r for r in rules() if r.get("record") == "chorus:consumer_lag:sum"]
    (pattern,) = re.findall(r'consumergroup=~"([^"]+)"', rule["expr"])
    groups = {s.group for s in SUBSCRIPTIONS}
    assert {g for g in groups if not re.fullmatch(pattern, g)} == set(), pattern
    assert not re.fullmatch(pattern, "someone-else")
