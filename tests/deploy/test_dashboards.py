"""deploy/k8s/components/dashboards: the Grafana dashboards, checked offline.

The JSON files are what the component's generate.py renders, and the component ships each
of them. Each is a Grafana dashboard reading Prometheus through its `datasource`
variable. Every PromQL expression of every panel and variable parses (promtool, each as a
recording rule, with Grafana's variables replaced by values of their kind) and reads only
metrics the code exports, the recording rules of components/alerts or the external
metrics of docs/operations.md; the labels a selector matches on are its metric's own or
the scrape's; where a dashboard has a `tenant` variable, every metric with a `tenant`
label follows it.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from promql import (
    EXTERNAL_METRICS,
    check_expressions,
    exported_labels,
    matched_labels,
    metric_names,
    recorded_series,
)

from contracts.catalogue import subscriptions_of
from support import load_file

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENT = REPO_ROOT / "deploy" / "k8s" / "components" / "dashboards"
FILES = COMPONENT / "dashboards"

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's own variables, replaced by values of their kind for promtool.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "6h"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
# Labels the scrape adds to every series: Prometheus' own and the pod's (the PodMonitors of
# components/monitoring, the pod annotations' job locally: docs/operations.md).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint"}
TARGET_LABELS |= {f"app_kubernetes_io_{name}" for name in ("name", "component", "part_of")}
# kubectl's client-side apply keeps a copy of each object in an annotation of this size.
MAX_CONFIGMAP_BYTES = 262_144

Board = dict[str, Any]


def _generator() -> Any:
    return load_file("chorus_dashboards", COMPONENT / "generate.py")


@cache
def dashboards() -> dict[str, Board]:
    boards = {path.name: json.loads(path.read_text()) for path in sorted(FILES.glob("*.json"))}
    assert boards, f"no dashboards in {FILES}"
    return boards


def panels(board: Board) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels") or []


def variables(board: Board) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in board["templating"]["list"]}


def _variable_selector(variable: dict[str, Any]) -> str | None:
    """The PromQL inside a Prometheus query variable (`label_values(<selector>, label)`,
    `query_result(<expr>)`), None for queries of label names alone."""
    query = variable.get("query")
    text = query.get("query", "") if isinstance(query, dict) else str(query or "")
    found = re.fullmatch(r"\s*label_values\((.+),\s*\w+\s*\)\s*", text)
    found = found or re.fullmatch(r"\s*query_result\((.+)\)\s*", text)
    return found.group(1) if found else None


def expressions(board: Board) -> dict[str, str]:
    """Where -> PromQL of every panel target and query variable of a dashboard."""
    found = {}
    for panel in panels(board):
        for query in panel.get("targets") or []:
            found[f"{board['uid']}/panel {panel['id']} {query['refId']}"] = query["expr"]
    for name, variable in variables(board).items():
        selector = _variable_selector(variable) if variable["type"] == "query" else None
        if selector:
            found[f"{board['uid']}/variable {name}"] = selector
    return found


def concrete(expr: str) -> str:
    """The expression with every variable replaced: Grafana's by a duration, the
    dashboard's (label values in matchers) by a value."""
    return VARIABLE.sub(lambda m: GRAFANA_VARIABLES.get(m.group(1) or m.group(2), "value"), expr)


def unknown_metrics(board: Board) -> dict[str, set[str]]:
    """Where -> names an expression reads that nothing exports or records."""
    known = set(exported_labels()) | EXTERNAL_METRICS | recorded_series()
    unknown = {}
    for where, expr in expressions(board).items():
        names = metric_names(concrete(expr))
        if not names:
            unknown[where] = {"<no metric at all>"}
        elif names - known:
            unknown[where] = names - known
    return unknown


# --- the files and the component ---------------------------------------------------------


def test_files_are_what_the_generator_renders() -> None:
    rendered = _generator().rendered()
    on_disk = {path.name: path.read_text() for path in FILES.glob("*.json")}
    command = "python3 deploy/k8s/components/dashboards/generate.py"
    assert set(on_disk) == set(rendered), f"run `{command}`"
    stale = sorted(name for name, text in rendered.items() if on_disk[name] != text)
    assert not stale, f"{stale} differ from what generate.py renders: run `{command}`"


def test_the_component_ships_every_dashboard_to_grafana() -> None:
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    options = kustomization["generatorOptions"]
    # Grafana's sidecar loads ConfigMaps by this label (its default).
    assert options["labels"] == {"grafana_dashboard": "1"}
    assert options["disableNameSuffixHash"] is True, "a new name per change leaves the old one"
    shipped = [
        file for generator in kustomization["configMapGenerator"] for file in generator["files"]
    ]
    assert sorted(shipped) == sorted(f"dashboards/{name}" for name in dashboards())
    for generator in kustomization["configMapGenerator"]:
        [file] = generator["files"]
        assert generator["name"] == "chorus-dashboard-" + Path(file).stem.removeprefix("chorus-")
        size = (COMPONENT / file).stat().st_size
        assert size < MAX_CONFIGMAP_BYTES / 2, f"{file}: {size} bytes, too big for kubectl apply"


def test_one_dashboard_per_service_and_an_overview(runtime) -> None:
    uids = {board["uid"] for board in dashboards().values()}
    assert uids == {"chorus-overview", *(f"chorus-{service}" for service in runtime)}
    for service in runtime:
        board = dashboards()[f"chorus-{service}.json"]
        text = " ".join(expressions(board).values())
        assert f'chorus_http_requests_total{{service="{service}"' in text, "requests per route"
        consumes = importlib.import_module(f"{service}.bootstrap").DEFINITION.consumes
        assert (f'consumer="{service}"' in text) == bool(consumes), (
            f"{service}: consumer panels if and only if its worker consumes"
        )
        # The lag panel sums every group the service reads in (share's counters have one).
        lag = re.findall(r'kafka_consumergroup_lag\{consumergroup=~"([^"]+)"', text)
        assert bool(lag) == bool(consumes), f"{service}: a lag panel if its worker consumes"
        for pattern in lag:
            groups = {s.group for s in subscriptions_of(service)}
            assert {g for g in groups if not re.fullmatch(pattern, g)} == set(), pattern


# --- Grafana -----------------------------------------------------------------------------


def test_dashboards_read_prometheus_through_the_datasource_variable() -> None:
    uids: set[str] = set()
    for name, board in dashboards().items():
        assert board["uid"] not in uids and len(board["uid"]) <= 40, name
        uids.add(board["uid"])
        assert Path(name).stem == board["uid"]
        assert board["title"] and board["schemaVersion"] >= 39, name
        defined = variables(board)
        datasource = defined["datasource"]
        assert datasource["type"] == "datasource" and datasource["query"] == "prometheus", name
        ids = [panel["id"] for panel in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(board):
            where = f"{name}: panel {panel['id']} {panel.get('title')!r}"
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, where
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == DATASOURCE, where
            targets = panel["targets"]
            assert targets, f"{where}: no query"
            assert len({t["refId"] for t in targets}) == len(targets), f"{where}: refIds repeat"
            for query in targets:
                assert query["datasource"] == DATASOURCE, where
        for where, expr in expressions(board).items():
            for match in VARIABLE.finditer(expr):
                variable = match.group(1) or match.group(2)
                assert variable in defined or variable in GRAFANA_VARIABLES, (
                    f"{where}: ${variable} is not a variable of the dashboard"
                )
        for variable in defined.values():
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE, f"{name}: {variable['name']}"


# --- PromQL ------------------------------------------------------------------------------


def test_every_expression_parses(promtool: str, tmp_path: Path) -> None:
    found = {
        where: concrete(expr)
        for board in dashboards().values()
        for where, expr in expressions(board).items()
    }
    check_expressions(promtool, found, tmp_path)


def test_panels_read_only_metrics_that_exist() -> None:
    for name, board in dashboards().items():
        unknown = unknown_metrics(board)
        assert not unknown, f"{name} reads metrics nothing exports or records: {unknown}"


def test_the_check_finds_a_metric_that_does_not_exist() -> None:
    board = copy.deepcopy(dashboards()["chorus-overview.json"])
    panel = next(p for p in panels(board) if p.get("targets"))
    panel["targets"][0]["expr"] = "sum(rate(chorus_no_such_thing_total[$__rate_interval]))"
    assert unknown_metrics(board) == {
        f"chorus-overview/panel {panel['id']} A": {"chorus_no_such_thing_total"}
    }


def test_selectors_match_labels_their_metrics_carry() -> None:
    exported = exported_labels()
    for board in dashboards().values():
        for where, expr in expressions(board).items():
            for metric, label in matched_labels(expr):
                if metric in exported:
                    assert label in exported[metric] | TARGET_LABELS, (
                        f"{where}: {metric} has no label {label}"
                    )


def test_figures_per_tenant_follow_the_tenant_variable() -> None:
    per_tenant = {name for name, labels in exported_labels().items() if "tenant" in labels}
    assert "chorus_metrics_shares_total" in per_tenant
    for board in dashboards().values():
        if "tenant" not in variables(board):
            continue
        for where, expr in expressions(board).items():
            if where.endswith("/variable tenant"):
                continue
            for selector in re.finditer(r"([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?", expr):
                metric, matchers = selector.groups()
                if metric in per_tenant:
                    assert 'tenant=~"$tenant"' in (matchers or ""), f"{where}: {metric}"
