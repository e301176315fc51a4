"""One trace, seen in a real Jaeger, from a share request to rewards' points and metrics'
figures: the share api's request, its publish to Kafka, and every worker's handling."""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.base import ToolMissing
from stack.probes import jaeger_services
from stack.servers import JaegerServer
from stack.toolchain import ensure_jaeger_binary
from support import (
    ServiceProcess,
    eventually,
    free_port,
    read_topic,
    ref,
    start_group_at_end,
    token,
)

POST_SHARED = "chorus.post-shared.v1"
POINTS_AWARDED = "chorus.points-awarded.v1"


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JaegerServer]:
    # Built with Go on first use (minutes on two cores), then reused from the cache.
    ensure_jaeger_binary()
    server = JaegerServer(
        port=free_port(),
        otlp_port=free_port(),
        grpc_port=free_port(),
        data_dir=tmp_path_factory.mktemp("jaeger"),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_without_go_building_jaeger_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("CHORUS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ToolMissing) as caught:
        ensure_jaeger_binary()
    assert "\n" not in str(caught.value) and "Jaeger" in str(caught.value)
    with pytest.raises(OSError):
        jaeger_services(f"http://127.0.0.1:{free_port()}", timeout=1)


def _spans(trace: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, operation, span) for every span of a Jaeger trace."""
    services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    return [(services[s["processID"]], s["operationName"], s) for s in trace["spans"]]


def _parents(span: dict[str, Any]) -> set[str]:
    return {r["spanID"] for r in span.get("references", ()) if r["refType"] == "CHILD_OF"}


def _handled(
    spans: list[tuple[str, str, dict[str, Any]]], service: str, topic: str
) -> list[dict[str, Any]]:
    return [s for sv, op, s in spans if (sv, op) == (service, f"{topic} handle")]


def _complete(spans: list[tuple[str, str, dict[str, Any]]], wanted: set[tuple[str, str]]) -> bool:
    return wanted <= {(s, o) for s, o, _ in spans}


@pytest.mark.infra
@pytest.mark.builds
# The first run builds Jaeger: minutes before the test proper starts.
@pytest.mark.timeout(3600)
async def test_a_share_is_one_trace_through_rewards_and_metrics(
    jaeger: JaegerServer, tmp_path: Path
) -> None:
    suffix = ref("")
    links_port = free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
        # Spans leave every 200 ms rather than every 5 s.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{links_port}",
    }
    for service in ("share", "rewards", "metrics"):
        group = f"{service}-tracing-{suffix}"
        env[f"{service.upper()}_DATABASE"] = f"chorus_{service}_tracing_{suffix}"
        env[f"{service.upper()}_CONSUMER_GROUP"] = group
        if service != "share":
            # From now on: the topics' history is not this test's.
            consumes = importlib.import_module(f"{service}.bootstrap").DEFINITION.consumes
            await start_group_at_end(group, consumes)
    processes = [
        ServiceProcess("share", "api", env=env, links_port=links_port),
        ServiceProcess("share", "worker", env=env),
        ServiceProcess("rewards", "worker", env=env),
        ServiceProcess("metrics", "worker", env=env),
    ]
    try:
        for process in processes:
            process.start(tmp_path)
        for process in processes:
            await asyncio.to_thread(process.wait_healthy, 90)
        share_api = processes[0]

        tenant = ref("acme")
        me = token(tenant, "e1")
        trace_id = secrets.token_hex(16)
        async with httpx.AsyncClient(base_url=share_api.url, timeout=30) as http:
            joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert joined.status_code == 201, joined.text
            # The caller's trace: the share api continues it, so we know which to look for.
            shared = await http.post(
                "/api/v1/shares",
                headers={**me, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
                json={
                    "network": "linkedin",
                    "url": "https://www.linkedin.com/pulse/post",
                    "text": "Mine",
                },
            )
            assert shared.status_code == 201, shared.text

        wanted = {
            ("chorus-share", "POST /api/v1/shares"),
            ("chorus-share", f"{POST_SHARED} publish"),
            ("chorus-rewards", f"{POST_SHARED} handle"),
            ("chorus-metrics", f"{POST_SHARED} handle"),
            ("chorus-metrics", f"{POINTS_AWARDED} handle"),
        }
        async with httpx.AsyncClient(base_url=jaeger.url, timeout=10) as query:

            async def trace() -> list[tuple[str, str, dict[str, Any]]]:
                found = await query.get(f"/api/traces/{trace_id}")
                if found.status_code == 404:
                    return []
                found.raise_for_status()
                return _spans(found.json()["data"][0])

            spans = await eventually(trace, lambda got: _complete(got, wanted), timeout=90)
        print("\n".join(sorted(f"{service}: {operation}" for service, operation, _ in spans)))

        def one(service: str, operation: str) -> dict[str, Any]:
            (span,) = [s for sv, op, s in spans if (sv, op) == (service, operation)]
            return span

        request = one("chorus-share", "POST /api/v1/shares")
        rewarded = one("chorus-rewards", f"{POST_SHARED} handle")
        # Both workers handle the PostShared as a child of the request that created it...
        assert _parents(rewarded) == {request["spanID"]}
        assert _parents(one("chorus-metrics", f"{POST_SHARED} handle")) == {request["spanID"]}
        # ...the points rewards derived from it continue under rewards' handling...
        tags = {t["key"]: t["value"] for t in rewarded["tags"]}
        source = tags["messaging.message.id"]
        continued = f"00-{trace_id}-{rewarded['spanID']}-01"

        def award(value: bytes) -> tuple[Any, Any]:
            try:
                found = json.loads(value)
                return found["data"].get("source_event_id"), found.get("traceparent")
            except (ValueError, TypeError, KeyError, AttributeError):
                return None, None  # another test's record that is not an award

        def ours(records: list[Any]) -> bool:
            return (source, continued) in {award(r.value) for r in records}

        assert ours(await read_topic(POINTS_AWARDED, ours, timeout=60))
        # ...and metrics handles that award in the same trace (the span is in the trace
        # Jaeger returned). Other rewards workers on the same Kafka (the other tests'
        # platforms) score the share too and send the same award, under the same id, in
        # the same trace: metrics handles whichever copy comes first and leaves out the
        # other (chassis.consumer.RecentEvents), so its span's parent may be theirs.
        assert all(_parents(s) for s in _handled(spans, "chorus-metrics", POINTS_AWARDED))
        # The operations endpoints, polled all along, are not traced.
        assert not [op for _, op, _ in spans if op.endswith(("/healthz", "/readyz"))]
    finally:
        for process in processes:
            process.stop()
