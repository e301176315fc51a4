"""Prometheus and Jaeger beside `make run` (`RUN_ARGS=--observability`): Prometheus scrapes
every process's /metrics and evaluates the rules production runs
(deploy/k8s/components/alerts/rules.yaml), and every process sends its traces to Jaeger.

The production rules are a PrometheusRule, the Prometheus Operator's wrapper; `plain_rules`
writes its `spec` as the rule file that Prometheus and promtool read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from stack.servers import JaegerServer, PrometheusServer

REPO = Path(__file__).resolve().parents[2]
ALERT_RULES = REPO / "deploy" / "k8s" / "components" / "alerts" / "rules.yaml"
RULES_FILE = "rules.yaml"  # beside prometheus.yml
PROMETHEUS_PORT = 9090
JAEGER_PORT = 16686  # query API and UI; OTLP over HTTP on 4318 (JaegerServer's default)
# More often than a cluster's 15-30 s: a process that has just started shows up at once.
SCRAPE_INTERVAL = "5s"

Process = tuple[str, str]  # (service, role)


def plain_rules(source: Path = ALERT_RULES) -> str:
    """The `spec` of the PrometheusRule in `source`, as a Prometheus rule file."""
    document = yaml.safe_load(source.read_text())
    if not isinstance(document, dict) or document.get("kind") != "PrometheusRule":
        raise ValueError(f"{source} holds no PrometheusRule")
    return yaml.safe_dump(document["spec"], sort_keys=False)


def prometheus_config(targets: Mapping[Process, int], rule_file: str = RULES_FILE) -> str:
    """One static target per process, (service, role) -> the port of its /metrics on
    127.0.0.1, and `rule_file`. Each target carries the labels that the cluster's scrape
    configuration copies from the pod (docs/operations.md), which the rules select and
    name processes by."""
    static_configs = [
        {
            "targets": [f"127.0.0.1:{port}"],
            "labels": {
                "app_kubernetes_io_part_of": "chorus",
                "app_kubernetes_io_name": f"{service}-{role}",
                "app_kubernetes_io_component": role,
                "pod": f"{service}-{role}",
            },
        }
        for (service, role), port in targets.items()
    ]
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "15s"},
        "rule_files": [rule_file],
        "scrape_configs": [{"job_name": "chorus", "static_configs": static_configs}],
    }
    return yaml.safe_dump(config, sort_keys=False)


class Observability:
    """Jaeger and Prometheus for the processes of `targets`, their data in `data_root`
    (`jaeger-<port>/`: its configuration and log, the traces being in memory;
    `prometheus-<port>/`: its configuration, rule file, storage and log)."""

    def __init__(self, data_root: Path, targets: Mapping[Process, int]) -> None:
        self.jaeger = JaegerServer(port=JAEGER_PORT, data_dir=data_root / f"jaeger-{JAEGER_PORT}")
        self.prometheus = PrometheusServer(
            PROMETHEUS_PORT,
            data_root / f"prometheus-{PROMETHEUS_PORT}",
            config=prometheus_config(targets),
            files={RULES_FILE: plain_rules()},
        )

    def start(self, fresh: bool = False) -> dict[str, str]:
        """Start both (Jaeger is built with Go on first use: minutes); `fresh` empties
        Prometheus's storage first. Returns the environment that sends every process's
        traces to Jaeger."""
        if fresh:
            self.prometheus.stop()
            self.prometheus.erase()
        self.jaeger.start()
        self.prometheus.start()
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.jaeger.otlp_endpoint}

    def stop(self) -> None:
        try:
            self.prometheus.stop()
        finally:
            self.jaeger.stop()
