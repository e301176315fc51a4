"""What the Prometheus rules and the Grafana dashboards may read, and promtool.

The metrics the code exports are read from its source: every prometheus-client `Counter`,
`Gauge`, `Histogram` and `Summary` defined under chassis/src and services/*/src, with the
series names each type exposes and its label names, plus what prometheus-client's default
registry adds in every process (process_*, python_*). Expressions are checked against
them, and parsed by promtool from a rule file, one recording rule per expression.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = [REPO_ROOT / "chassis" / "src", *sorted((REPO_ROOT / "services").glob("*/src"))]
# The PrometheusRule whose recording rules dashboards read (chorus:<what>:<how>).
RULES = REPO_ROOT / "deploy" / "k8s" / "components" / "alerts" / "rules.yaml"

# Metrics the rules and dashboards read that Chorus does not export (docs/operations.md
# says where from).
EXTERNAL_METRICS = {
    "up",  # Prometheus, per scraped target
    "kafka_consumergroup_lag",  # a Kafka exporter (Strimzi's Kafka Exporter)
    "nginx_ingress_controller_requests",  # the ingress-nginx controller
    "nginx_ingress_controller_request_duration_seconds_bucket",
    "nginx_ingress_controller_request_duration_seconds_count",
}

# What prometheus-client exposes for a metric of each type.
SUFFIXES = {
    "Counter": ("_total",),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum"),
    "Summary": ("_count", "_sum"),
}

# PromQL words that look like names: keywords and modifiers.
KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "offset"}
KEYWORDS |= {"group_left", "group_right", "inf", "nan"}


def _definitions(tree: ast.AST) -> Iterable[tuple[str, str, tuple[str, ...]]]:
    """(type, name, label names) of every `Counter("name", "help", [labels])` and the like."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        kind = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        name = node.args[0]
        if kind not in SUFFIXES or not isinstance(name, ast.Constant):
            continue
        if not isinstance(name.value, str):
            continue
        label_node = node.args[2] if len(node.args) > 2 else None
        for keyword in node.keywords:
            if keyword.arg == "labelnames":
                label_node = keyword.value
        label_names: tuple[str, ...] = ()
        if isinstance(label_node, ast.List | ast.Tuple):
            label_names = tuple(
                element.value
                for element in label_node.elts
                if isinstance(element, ast.Constant) and isinstance(element.value, str)
            )
        yield kind, name.value, label_names


@cache
def exported_labels() -> dict[str, frozenset[str]]:
    """Every series name the processes expose, with the label names it carries (before
    the scrape adds the target's)."""
    series: dict[str, frozenset[str]] = {}
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for kind, name, label_names in _definitions(ast.parse(path.read_text())):
                base = name.removesuffix("_total") if kind == "Counter" else name
                for suffix in SUFFIXES[kind]:
                    extra = {"le"} if suffix == "_bucket" else set()
                    series[base + suffix] = frozenset(label_names) | extra
    series.update(_default_collectors())
    return series


def _default_collectors() -> dict[str, frozenset[str]]:
    """What prometheus-client's default registry exports beside our metrics, as it does in
    every process (`chassis.health` serves that registry)."""
    from prometheus_client import (
        CollectorRegistry,
        GCCollector,
        PlatformCollector,
        ProcessCollector,
    )

    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    return {
        sample.name: frozenset(sample.labels)
        for family in registry.collect()
        for sample in family.samples
    }


def exported_metrics() -> set[str]:
    """Every series name the code's prometheus-client metrics expose."""
    return set(exported_labels())


def recorded_series() -> set[str]:
    """The names the recording rules of the alerts component record."""
    spec = yaml.safe_load(RULES.read_text())["spec"]
    return {
        rule["record"] for group in spec["groups"] for rule in group["rules"] if "record" in rule
    }


def _without_label_values(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded) names an expression reads."""
    text = _without_label_values(expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    # Label lists of grouping and matching modifiers.
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.groups()
        if call is None and name.lower() not in KEYWORDS:
            names.add(name)
    return names


def matched_labels(expr: str) -> set[tuple[str, str]]:
    """(metric, label) of every label matcher written after a metric name."""
    found = set()
    for match in re.finditer(
        r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", _without_label_values(expr)
    ):
        metric, matchers = match.groups()
        for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers):
            found.add((metric, label))
    return found


def run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"


def check_expressions(promtool: str, expressions: dict[str, str], workdir: Path) -> None:
    """promtool parses every expression (where -> PromQL): each becomes a recording rule
    named after where it is, so promtool's message names the one that does not parse."""
    rules = [
        {"record": f"{re.sub(r'[^a-zA-Z0-9_]', '_', where)}_{index}", "expr": expr}
        for index, (where, expr) in enumerate(sorted(expressions.items()))
    ]
    assert rules, "no expressions to check"
    path = workdir / "expressions.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}))
    run([promtool, "check", "rules", path.name], workdir)
