#!/usr/bin/env python3
"""The Grafana dashboards of Chorus, written here and rendered into dashboards/*.json.

    python3 deploy/k8s/components/dashboards/generate.py          # write dashboards/*.json
    python3 deploy/k8s/components/dashboards/generate.py --check  # exit 1 if they differ

One overview and one dashboard per service. The panels every service has (requests per
route, events consumed, the outbox, its processes) are written once, below, and the
service dashboards differ only in what their service does besides. The JSON is what the
component ships; change this file and render it again rather than editing the JSON, or
export a dashboard changed in Grafana and carry the change over here.
tests/deploy/test_dashboards.py fails when the files are not what this renders, when an
expression does not parse (promtool) and when a panel reads a metric the code does not
export. Standard library only.

Every dashboard reads Prometheus through the `datasource` variable. Service level panels
read the recording rules of components/alerts (`chorus:<sli>:ratio_rate<window>`, in
production beside this component); business figures are per tenant (`tenant` variable).
Processes are told apart by their pod labels, which the scrape copies to every series
(`app_kubernetes_io_name`, `pod`: docs/operations.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# deploy/k8s, for its tools module.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools import write_or_check

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
SCHEMA_VERSION = 39

Panel = dict[str, Any]
Section = tuple[str, list[Panel]]

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
RANGE = "$__range"
TENANT = 'tenant=~"$tenant"'
# The operations routes, which every process serves and no SLO counts.
API_ROUTES = 'route!~"/healthz|/readyz|/metrics"'
CHORUS_PROCESSES = 'app_kubernetes_io_part_of="chorus", app_kubernetes_io_component=~"api|worker"'

# Objectives of docs/operations.md: target and the recorded share of bad events.
REDIRECT_AVAILABILITY = 0.999
REDIRECT_LATENCY = 0.99
API_AVAILABILITY = 0.999
API_LATENCY = 0.99
EVENT_FRESHNESS = 0.99
CONSUMER_LAG = 0.995
LAG_TARGET = 1000
# Burn rates at which the alerts fire (fast: critical, slow: warning).
BURN_FAST = 14.4
BURN_SLOW = 6


# --- panels ------------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "expr": " ".join(expr.split()),
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }


def over_range(by: str, metric: str, matchers: str = "") -> dict[str, Any]:
    """`metric`'s increase over the dashboard's time range in the tenants chosen, summed
    by `by`: the instant value a bar shows."""
    selector = ", ".join(m for m in (TENANT, matchers) if m)
    return target(
        f"sum by ({by}) (increase({metric}{{{selector}}}[{RANGE}]))", f"{{{{{by}}}}}", instant=True
    )


def points_by_tenant() -> Panel:
    return bars(
        "Points awarded by tenant",
        "Over the time range.",
        over_range("tenant", "chorus_rewards_points_awarded_total"),
    )


def _panel(kind: str, title: str, description: str, targets: list[dict[str, Any]]) -> Panel:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": [{**t, "refId": chr(ord("A") + index)} for index, t in enumerate(targets)],
    }


def _thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def timeseries(
    title: str,
    description: str,
    *targets: dict[str, Any],
    unit: str = "short",
    width: int = 12,
    bars: bool = False,
    stack: bool = False,
    lines_at: tuple[tuple[str, float], ...] = (),
) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineWidth": 1,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if lines_at else "off"},
    }
    return {
        **_panel("timeseries", title, description, list(targets)),
        "gridPos": {"w": width, "h": 8},
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "min": 0,
                "custom": custom,
                "thresholds": _thresholds(("green", None), *lines_at),
            },
            "overrides": [],
        },
        "options": {
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str,
    description: str,
    *targets: dict[str, Any],
    unit: str,
    steps: tuple[tuple[str, float | None], ...],
    width: int = 6,
    decimals: int | None = None,
) -> Panel:
    defaults: dict[str, Any] = {"unit": unit, "thresholds": _thresholds(*steps)}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        **_panel("stat", title, description, list(targets)),
        "gridPos": {"w": width, "h": 4},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
    }


def bars(
    title: str, description: str, *targets: dict[str, Any], unit: str = "short", width: int = 12
) -> Panel:
    """Horizontal bars of instant values over the dashboard's time range."""
    return {
        **_panel("bargauge", title, description, list(targets)),
        "gridPos": {"w": width, "h": 8},
        "fieldConfig": {
            "defaults": {"unit": unit, "min": 0, "thresholds": _thresholds(("blue", None))},
            "overrides": [],
        },
        "options": {
            "orientation": "horizontal",
            "displayMode": "basic",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
    }


def percent(share: float) -> str:
    return f"{share * 100:g} %"


def slo(title: str, description: str, expr: str, objective: float, width: int = 6) -> Panel:
    """The share of good events over the last 5 minutes, red below the objective."""
    return stat(
        title,
        f"{description} Objective: {percent(objective)} over 30 days (docs/operations.md).",
        target(expr, instant=True),
        unit="percentunit",
        steps=(("red", None), ("green", objective)),
        width=width,
        decimals=2,
    )


# --- what every service has --------------------------------------------------------------


def consumer_groups(service: str) -> str:
    """A regular expression of the service's consumer groups: its name, and its name and a
    suffix (share's `share-engagement-counters`)."""
    return f"{service}(-.+)?"


def pods(service: str) -> str:
    return f'app_kubernetes_io_name=~"{service}-(api|worker)"'


def service_level(service: str) -> list[Panel]:
    return [
        slo(
            "Availability (5 min)",
            f"Share of the {service} api's requests answered without a 5xx.",
            f'1 - chorus:api_errors:ratio_rate5m{{service="{service}"}}',
            API_AVAILABILITY,
        ),
        slo(
            "Answered within 500 ms (5 min)",
            f"Share of the {service} api's requests answered within 500 ms.",
            f'1 - chorus:api_slow:ratio_rate5m{{service="{service}"}}',
            API_LATENCY,
        ),
        stat(
            "Error budget burn rate (1 h)",
            "How fast the availability objective's 30-day budget is spent: 1 spends it in "
            f"30 days; the alerts fire at {BURN_SLOW} (slow) and {BURN_FAST} (fast).",
            target(
                f'chorus:api_errors:ratio_rate1h{{service="{service}"}} / {1 - API_AVAILABILITY:g}',
                instant=True,
            ),
            unit="none",
            steps=(("green", None), ("orange", BURN_SLOW), ("red", BURN_FAST)),
            decimals=1,
        ),
        stat(
            "Processes up",
            "Processes Prometheus scrapes, per workload.",
            target(
                f"sum by (app_kubernetes_io_name) (up{{{pods(service)}}})",
                "{{app_kubernetes_io_name}}",
                instant=True,
            ),
            unit="none",
            steps=(("red", None), ("green", 1)),
        ),
    ]


def requests(service: str) -> list[Panel]:
    selector = f'service="{service}", {API_ROUTES}'
    return [
        timeseries(
            "Requests per second by route",
            "Rate: requests to the api per route template (the operations routes left out).",
            target(
                f"sum by (method, route) (rate(chorus_http_requests_total{{{selector}}}[{RATE}]))",
                "{{method}} {{route}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "Server errors (5xx) per second by route",
            "Errors: answers with a 5xx status per route template.",
            target(
                "sum by (method, route) (rate(chorus_http_requests_total"
                f'{{{selector}, status=~"5.."}}[{RATE}]))',
                "{{method}} {{route}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "Latency p99 by route",
            "Duration: the 99th percentile of the time to answer, per route template.",
            target(
                "histogram_quantile(0.99, sum by (method, route, le) "
                f"(rate(chorus_http_request_duration_seconds_bucket{{{selector}}}[{RATE}])))",
                "{{method}} {{route}}",
            ),
            unit="s",
        ),
        timeseries(
            "Answers per second by status",
            "Every answer of the api, by HTTP status.",
            target(
                f"sum by (status) (rate(chorus_http_requests_total{{{selector}}}[{RATE}]))",
                "{{status}}",
            ),
            unit="reqps",
            stack=True,
        ),
    ]


def consumers(service: str) -> list[Panel]:
    """The worker's consumer group, named after the service."""
    return [
        timeseries(
            "Events consumed per second by topic",
            "Events whose effect is durable (stored, or published on), per topic.",
            target(
                "sum by (topic) (rate(chorus_events_consumed_total"
                f'{{consumer="{service}"}}[{RATE}]))',
                "{{topic}}",
            ),
        ),
        timeseries(
            "Consumer lag by topic",
            f"Events of each topic the {service} groups have not consumed yet (Kafka "
            f"exporter). The objective: at most {LAG_TARGET:,} behind.",
            target(
                "sum by (topic) (kafka_consumergroup_lag"
                f'{{consumergroup=~"{consumer_groups(service)}"}})',
                "{{topic}}",
            ),
            stack=True,
            lines_at=(("red", LAG_TARGET),),
        ),
        timeseries(
            "Dead letters by topic",
            "Records sent to <topic>.dlq: they did not parse, or the handler failed on them "
            "on every attempt. Their effect is missing until they are replayed.",
            target(
                "sum by (topic) (increase(chorus_dead_letters_total"
                f'{{consumer="{service}"}}[{RATE}]))',
                "{{topic}}",
            ),
            bars=True,
        ),
        timeseries(
            "Batches failed, and records left out after a crash",
            "Handler calls of a whole batch that failed; the batch is tried again, split or "
            "delivered again. And records delivered again after a worker crashed that its "
            "groups' progress marks say were handled: left out, not written twice. And "
            "copies of events the worker handled lately, which a producer sent again after "
            "a crash of its own: left out too.",
            target(
                "sum(increase(chorus_consumer_batch_failures_total"
                f'{{consumer="{service}"}}[{RATE}]))',
                "failed batches",
            ),
            target(
                "sum(increase(chorus_consumer_records_left_out_total"
                f'{{consumer=~"{consumer_groups(service)}"}}[{RATE}]))',
                "records left out",
            ),
            target(
                "sum(increase(chorus_consumer_duplicates_left_out_total"
                f'{{consumer=~"{consumer_groups(service)}"}}[{RATE}]))',
                "copies left out",
            ),
            bars=True,
        ),
    ]


def outbox(service: str) -> list[Panel]:
    return [
        timeseries(
            "Documents with events to publish",
            "Per collection: documents whose events the outbox has not published yet. "
            "Lasting values mean Kafka is away or no worker runs the relay.",
            target(
                f"max by (collection) (chorus_outbox_pending_documents{{{pods(service)}}})",
                "{{collection}}",
            ),
        ),
        timeseries(
            "Outbox events published per second",
            "By collection and path: `direct` right after the write, `relay` by the worker "
            "for what was left behind.",
            target(
                "sum by (collection, path) (rate(chorus_outbox_published_total"
                f"{{{pods(service)}}}[{RATE}]))",
                "{{collection}} ({{path}})",
            ),
        ),
    ]


def processes(service: str) -> list[Panel]:
    return [
        timeseries(
            "CPU by pod",
            "CPU time used per second (cores).",
            target(
                f"sum by (pod) (rate(process_cpu_seconds_total{{{pods(service)}}}[{RATE}]))",
                "{{pod}}",
            ),
            unit="none",
        ),
        timeseries(
            "Resident memory by pod",
            "Memory the process holds.",
            target(f"sum by (pod) (process_resident_memory_bytes{{{pods(service)}}})", "{{pod}}"),
            unit="bytes",
        ),
    ]


# --- what some services have -------------------------------------------------------------


def click_funnel() -> Panel:
    def stage(expr: str, name: str) -> dict[str, Any]:
        return target(f"sum(increase({expr}[{RANGE}]))", name, instant=True)

    return bars(
        "Click funnel",
        "Over the time range: requests to short links; those that were a person's click; "
        "click events the share api published to Kafka (straight away or from its spool); "
        "clicks counted in the figures (every source, also networks' own reports).",
        stage("chorus_share_redirects_total", "short-link requests"),
        stage('chorus_share_redirects_total{outcome="click"}', "clicks"),
        stage("chorus_share_clicks_published_total", "click events published"),
        stage('chorus_metrics_engagements_total{kind="click"}', "clicks in the figures"),
    )


def short_links() -> list[Panel]:
    return [
        slo(
            "Short links answered without a 5xx (5 min)",
            "At the Ingress (ingress-nginx), requests to /l/<code>.",
            "1 - chorus:redirect_errors:ratio_rate5m",
            REDIRECT_AVAILABILITY,
            width=12,
        ),
        slo(
            "Short links answered within 250 ms (5 min)",
            "At the Ingress (ingress-nginx), requests to /l/<code>.",
            "1 - chorus:redirect_slow:ratio_rate5m",
            REDIRECT_LATENCY,
            width=12,
        ),
        timeseries(
            "Short-link requests per second by outcome",
            "Only `click` becomes an engagement event; bots, HEAD requests, the advocate's "
            "own visits and the like are answered but not counted.",
            target(f"sum by (outcome) (rate(chorus_share_redirects_total[{RATE}]))", "{{outcome}}"),
            unit="reqps",
            stack=True,
        ),
        click_funnel(),
        timeseries(
            "Clicks recorded without Kafka",
            "Clicks spooled to MongoDB because Kafka did not acknowledge them in time, and "
            "spooled click events left for a later publish.",
            target(f"sum(rate(chorus_share_clicks_spooled_total[{RATE}]))", "spooled"),
            target(
                f"sum(rate(chorus_share_click_publish_failures_total[{RATE}]))",
                "publish failed, retried",
            ),
        ),
        timeseries(
            "Clicks decided",
            "Clicks share's worker decided after the redirect answered: a visitor's first on "
            "the link within the hour (unique), or a repeat. Its consumer group's lag is how "
            "far the decisions run behind the clicks.",
            target(
                f"sum by (outcome) (rate(chorus_share_click_decisions_total[{RATE}]))",
                "{{outcome}}",
            ),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Click spool write time p99",
            "Time to make one batch of spooled clicks durable in MongoDB.",
            target(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(chorus_share_click_write_seconds_bucket[{RATE}])))",
                "write p99",
            ),
            unit="s",
        ),
        timeseries(
            "Clicks per spool write (p50)",
            "Clicks written to the spool per MongoDB round trip.",
            target(
                "histogram_quantile(0.5, sum by (le) "
                f"(rate(chorus_share_click_batch_size_bucket[{RATE}])))",
                "clicks per write",
            ),
        ),
        timeseries(
            "Connections ended by the links listener",
            "Per limit: too many connections, headers too large, headers too slow.",
            target(f"sum by (limit) (rate(chorus_share_links_refused_total[{RATE}]))", "{{limit}}"),
        ),
    ]


def event_freshness() -> list[Panel]:
    return [
        slo(
            "Events visible within 10 s (5 min)",
            "Share of events stored where every figure reads them within 10 s of creation.",
            "1 - chorus:event_visible_slow:ratio_rate5m",
            EVENT_FRESHNESS,
            width=12,
        ),
        timeseries(
            "Time to visible p99 by event",
            "From an event's creation to its fact being stored.",
            target(
                "histogram_quantile(0.99, sum by (event, le) "
                f"(rate(chorus_metrics_event_visible_seconds_bucket[{RATE}])))",
                "{{event}}",
            ),
            unit="s",
        ),
        timeseries(
            "Age of the newest event counted",
            "Per tenant: how old the newest event was when it was counted.",
            target(
                f"max by (tenant) (chorus_metrics_last_event_age_seconds{{{TENANT}}})",
                "{{tenant}}",
            ),
            unit="s",
        ),
        timeseries(
            "Facts held by the api",
            "Facts each api process holds in memory (the active generation).",
            target("sum by (pod) (chorus_metrics_api_facts)", "{{pod}}"),
        ),
        timeseries(
            "Loading a generation (mean)",
            "How long an api process took to load the active generation's facts.",
            target(
                f"sum by (pod) (increase(chorus_metrics_api_load_seconds_sum[{RANGE}])) / "
                f"sum by (pod) (increase(chorus_metrics_api_load_seconds_count[{RANGE}]))",
                "{{pod}}",
            ),
            unit="s",
        ),
    ]


def figures() -> list[Panel]:
    """The business figures of the metrics worker, per tenant."""
    return [
        timeseries(
            "Shares per second by tenant",
            "Posts shared by advocates.",
            target(
                f"sum by (tenant) (rate(chorus_metrics_shares_total{{{TENANT}}}[{RATE}]))",
                "{{tenant}}",
            ),
            stack=True,
        ),
        timeseries(
            "Engagements per second by kind",
            "Clicks, reactions, comments, reshares, impressions and conversions counted.",
            target(
                f"sum by (kind) (rate(chorus_metrics_engagements_total{{{TENANT}}}[{RATE}]))",
                "{{kind}}",
            ),
            stack=True,
        ),
        bars(
            "Shares by tenant",
            "Over the time range: posts shared by advocates.",
            over_range("tenant", "chorus_metrics_shares_total"),
        ),
        bars(
            "Potential reach by tenant",
            "Over the time range: the audiences of the shares, at share time.",
            over_range("tenant", "chorus_metrics_potential_reach_total"),
        ),
        timeseries(
            "Enrolled advocates by tenant",
            "Advocates enrolled now.",
            target(
                f"max by (tenant) (chorus_metrics_enrolled_advocates{{{TENANT}}})", "{{tenant}}"
            ),
        ),
        bars(
            "Engagements by network",
            "Over the time range, per social network.",
            over_range("network", "chorus_metrics_engagements_total"),
        ),
        bars(
            "Clicks in the figures by tenant",
            "Over the time range: clicks counted, every source.",
            over_range("tenant", "chorus_metrics_engagements_total", 'kind="click"'),
        ),
    ]


def rewards() -> list[Panel]:
    return [
        timeseries(
            "Points awarded per second by rule",
            "Points of the ledger entries written, per point rule.",
            target(
                f"sum by (rule) (rate(chorus_rewards_points_awarded_total{{{TENANT}}}[{RATE}]))",
                "{{rule}}",
            ),
            stack=True,
        ),
        points_by_tenant(),
        timeseries(
            "Ledger entries written per second",
            "Awards written to the ledger, per tenant.",
            target(
                f"sum by (tenant) (rate(chorus_rewards_awards_total{{{TENANT}}}[{RATE}]))",
                "{{tenant}}",
            ),
            stack=True,
        ),
        bars(
            "Redemptions by outcome",
            "Over the time range: redeemed, refused for too few points, out of stock.",
            over_range("outcome", "chorus_rewards_redemptions_total"),
        ),
    ]


def backends() -> list[Panel]:
    return [
        timeseries(
            "Calls to the services' apis per second",
            "Per api the web app calls and outcome (`unavailable`: no answer at all).",
            target(
                "sum by (backend, outcome) "
                f"(rate(chorus_web_backend_request_duration_seconds_count[{RATE}]))",
                "{{backend}} {{outcome}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "Wait for the services' apis p95",
            "How long the web app waited for one call, per api.",
            target(
                "histogram_quantile(0.95, sum by (backend, le) "
                f"(rate(chorus_web_backend_request_duration_seconds_bucket[{RATE}])))",
                "{{backend}}",
            ),
            unit="s",
        ),
    ]


# --- dashboards --------------------------------------------------------------------------


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def tenant_variable(metric: str) -> dict[str, Any]:
    query = f"label_values({metric}, tenant)"
    return {
        "name": "tenant",
        "label": "Tenant",
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "current": {},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,
        "regex": "",
        "sort": 1,
    }


def laid_out(sections: list[Section]) -> list[Panel]:
    """Rows and their panels, left to right, 24 columns wide, with ids and positions."""
    placed: list[Panel] = []
    y = 0
    for title, panels in sections:
        placed.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        y += 1
        x = row_height = 0
        for panel in panels:
            width, height = panel["gridPos"]["w"], panel["gridPos"]["h"]
            if x + width > 24:
                x, y, row_height = 0, y + row_height, 0
            placed.append({**panel, "gridPos": {"x": x, "y": y, "w": width, "h": height}})
            x += width
            row_height = max(row_height, height)
        y += row_height
    return [{"id": index, **panel} for index, panel in enumerate(placed, start=1)]


def dashboard(
    uid: str, title: str, description: str, variables: list[dict[str, Any]], sections: list[Section]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["chorus"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [
            {
                "title": "Chorus",
                "type": "dashboards",
                "tags": ["chorus"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "targetBlank": False,
            }
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": laid_out(sections),
    }


@dataclass(frozen=True)
class Service:
    name: str
    does: str  # what the service is for, one line
    consumes: bool  # its worker subscribes to topics (group = service name)
    outbox: bool  # it publishes events through the outbox
    tenant_metric: str | None = None  # where the `tenant` variable finds tenants
    extra: tuple[tuple[str, Callable[[], list[Panel]]], ...] = ()


SERVICES = (
    Service(
        "web",
        "the web app people use, and its calls to the services' apis",
        consumes=True,
        outbox=False,
        extra=(("Calls to the services", backends),),
    ),
    Service("content", "content, campaigns and guidelines", consumes=True, outbox=True),
    Service(
        "share",
        "sharing, short links and clicks",
        consumes=True,
        outbox=True,
        extra=(("Short links and the click funnel", short_links),),
    ),
    Service(
        "rewards",
        "points, badges and redemptions",
        consumes=True,
        outbox=True,
        tenant_metric="chorus_rewards_awards_total",
        extra=(("Rewards per tenant", rewards),),
    ),
    Service(
        "metrics",
        "the figures: facts of every event, per tenant",
        consumes=True,
        outbox=True,
        tenant_metric="chorus_metrics_enrolled_advocates",
        extra=(("Event freshness", event_freshness), ("Figures per tenant", figures)),
    ),
    Service("people", "the directory of people and their roles", consumes=False, outbox=True),
)


def service_dashboard(service: Service) -> dict[str, Any]:
    sections: list[Section] = [
        ("Service level", service_level(service.name)),
        ("Requests per route (rate, errors, duration)", requests(service.name)),
    ]
    if service.consumes:
        sections.append(("Events consumed", consumers(service.name)))
    if service.outbox:
        sections.append(("Outbox", outbox(service.name)))
    sections += [(title, panels()) for title, panels in service.extra]
    sections.append(("Processes", processes(service.name)))
    return dashboard(
        f"chorus-{service.name}",
        f"Chorus / {service.name}",
        f"The {service.name} service: {service.does}.",
        [tenant_variable(service.tenant_metric)] if service.tenant_metric else [],
        sections,
    )


def overview() -> dict[str, Any]:
    def burn(expr: str, objective: float, legend: str) -> dict[str, Any]:
        return target(f"{expr} / {1 - objective:g}", legend)

    objectives = [
        slo(
            "Short links without a 5xx",
            "Requests to /l/<code> at the Ingress, last 5 minutes.",
            "1 - chorus:redirect_errors:ratio_rate5m",
            REDIRECT_AVAILABILITY,
            width=4,
        ),
        slo(
            "Short links within 250 ms",
            "Requests to /l/<code> at the Ingress, last 5 minutes.",
            "1 - chorus:redirect_slow:ratio_rate5m",
            REDIRECT_LATENCY,
            width=4,
        ),
        slo(
            "Api requests without a 5xx",
            "The api furthest from its objective, last 5 minutes.",
            "min(1 - chorus:api_errors:ratio_rate5m)",
            API_AVAILABILITY,
            width=4,
        ),
        slo(
            "Api requests within 500 ms",
            "The api furthest from its objective, last 5 minutes.",
            "min(1 - chorus:api_slow:ratio_rate5m)",
            API_LATENCY,
            width=4,
        ),
        slo(
            "Events visible within 10 s",
            "Events stored where every figure reads them, last 5 minutes.",
            "1 - chorus:event_visible_slow:ratio_rate5m",
            EVENT_FRESHNESS,
            width=4,
        ),
        stat(
            "Consumer groups behind",
            f"Groups more than {LAG_TARGET:,} events behind now. Objective: at most that in "
            f"{percent(CONSUMER_LAG)} of minutes over 30 days.",
            target(f"count(chorus:consumer_lag:sum > {LAG_TARGET}) or vector(0)", instant=True),
            unit="none",
            steps=(("green", None), ("red", 1)),
            width=4,
        ),
        timeseries(
            "Error budget burn rate (1 h window)",
            "Per objective, how fast its 30-day error budget is spent: 1 spends it in 30 "
            f"days. The alerts fire at {BURN_SLOW} (6 h window) and {BURN_FAST} (1 h window), "
            "each confirmed over a shorter one.",
            burn("chorus:redirect_errors:ratio_rate1h", REDIRECT_AVAILABILITY, "short-link errors"),
            burn("chorus:redirect_slow:ratio_rate1h", REDIRECT_LATENCY, "short-link latency"),
            burn("chorus:api_errors:ratio_rate1h", API_AVAILABILITY, "{{service}} api errors"),
            burn("chorus:api_slow:ratio_rate1h", API_LATENCY, "{{service}} api latency"),
            burn("chorus:event_visible_slow:ratio_rate1h", EVENT_FRESHNESS, "event freshness"),
            burn("chorus:consumer_lag_over_target:ratio_1h", CONSUMER_LAG, "{{consumergroup}} lag"),
            unit="none",
            width=24,
            lines_at=(("orange", BURN_SLOW), ("red", BURN_FAST)),
        ),
    ]
    apis = [
        timeseries(
            "Api requests per second by service",
            "Requests to every api (the operations routes left out).",
            target(
                f"sum by (service) (rate(chorus_http_requests_total{{{API_ROUTES}}}[{RATE}]))",
                "{{service}}",
            ),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Api error ratio by service (5 min)",
            "Share of requests answered with a 5xx.",
            target("chorus:api_errors:ratio_rate5m", "{{service}}"),
            unit="percentunit",
        ),
        timeseries(
            "Api latency p99 by service",
            "The 99th percentile of the time to answer.",
            target(
                "histogram_quantile(0.99, sum by (service, le) "
                f"(rate(chorus_http_request_duration_seconds_bucket{{{API_ROUTES}}}[{RATE}])))",
                "{{service}}",
            ),
            unit="s",
        ),
        timeseries(
            "Short-link requests per second by outcome",
            "Answered by the share api's links listener; only `click` becomes an event.",
            target(f"sum by (outcome) (rate(chorus_share_redirects_total[{RATE}]))", "{{outcome}}"),
            unit="reqps",
            stack=True,
        ),
    ]
    events = [
        timeseries(
            "Events consumed per second by group",
            "Events whose effect is durable, per consumer group (the service names).",
            target(
                f"sum by (consumer) (rate(chorus_events_consumed_total[{RATE}]))", "{{consumer}}"
            ),
            stack=True,
        ),
        timeseries(
            "Consumer lag by group",
            f"Events each group has not consumed yet. The objective: at most {LAG_TARGET:,}.",
            target("chorus:consumer_lag:sum", "{{consumergroup}}"),
            lines_at=(("red", LAG_TARGET),),
        ),
        timeseries(
            "Dead letters",
            "Records sent to <topic>.dlq, per consumer group and topic: their effect is "
            "missing until they are replayed (docs/runbooks.md).",
            target(
                f"sum by (consumer, topic) (increase(chorus_dead_letters_total[{RATE}]))",
                "{{consumer}} {{topic}}",
            ),
            bars=True,
        ),
        timeseries(
            "Documents with events to publish",
            "Per workload and collection: documents whose events the outbox has not published yet.",
            target(
                "max by (app_kubernetes_io_name, collection) (chorus_outbox_pending_documents)",
                "{{app_kubernetes_io_name}} {{collection}}",
            ),
        ),
        timeseries(
            "Outbox events published per second",
            "Per workload and path: `direct` right after the write, `relay` for what was "
            "left behind.",
            target(
                "sum by (app_kubernetes_io_name, path) "
                f"(rate(chorus_outbox_published_total[{RATE}]))",
                "{{app_kubernetes_io_name}} ({{path}})",
            ),
            stack=True,
        ),
        timeseries(
            "Batches failed by group",
            "Batches whose effect failed and that are tried again.",
            target(
                f"sum by (consumer) (increase(chorus_consumer_batch_failures_total[{RATE}]))",
                "{{consumer}}",
            ),
            bars=True,
        ),
    ]
    running = [
        bars(
            "Processes up by workload",
            "Processes Prometheus scrapes now.",
            target(
                f"sum by (app_kubernetes_io_name) (up{{{CHORUS_PROCESSES}}})",
                "{{app_kubernetes_io_name}}",
                instant=True,
            ),
            width=24,
        ),
    ]
    business = [
        *figures(),
        points_by_tenant(),
    ]
    return dashboard(
        "chorus-overview",
        "Chorus / Overview",
        "Chorus at a glance: the objectives, the apis, the flow of events and the figures "
        "per tenant. Each service has a dashboard of its own (the Chorus links); the click "
        "funnel is on the share dashboard.",
        [tenant_variable("chorus_metrics_enrolled_advocates")],
        [
            ("Service level objectives", objectives),
            ("Apis", apis),
            ("Events", events),
            ("Processes", running),
            ("Figures per tenant", business),
        ],
    )


def rendered() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    boards = [overview(), *(service_dashboard(service) for service in SERVICES)]
    return {f"{board['uid']}.json": json.dumps(board, indent=2) + "\n" for board in boards}


def main(argv: list[str]) -> int:
    return write_or_check(
        OUT_DIR, rendered(), argv, Path(__file__).name, __doc__ or "", owned="*.json"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
