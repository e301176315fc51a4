"""The operations endpoints are on the operations app only, and /readyz tells no secrets."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import ClassVar

import pytest
import uvicorn
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic_settings import SettingsConfigDict

from chassis.health import HTTP_REQUESTS, NotReady, Readiness
from chassis.process import ServiceDefinition, _DrainingServer, create_app, create_ops_app
from chassis.settings import ServiceSettings


class _Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMPLE_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "sample"
    default_api_port: ClassVar[int] = 8081
    default_worker_port: ClassVar[int] = 9081


async def _no_setup(runtime: object) -> None:
    return None


def _definition(name: str = "sample") -> ServiceDefinition:
    routes = APIRouter()

    @routes.get("/api/v1/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        """One thing."""
        return {"thing": thing}

    return ServiceDefinition(
        name=name, settings_class=_Settings, setup=_no_setup, routers=lambda: [routes]
    )


OPERATIONS = ("/readyz", "/metrics", "/docs", "/openapi.json")


@pytest.mark.parametrize("path", OPERATIONS)
def test_the_api_port_does_not_answer_the_operations_endpoints(path: str) -> None:
    api = TestClient(create_app(_definition(), "api", _Settings()))
    answer = api.get(path)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_api_port_keeps_its_liveness_and_its_routes() -> None:
    api = TestClient(create_app(_definition(), "api", _Settings()))
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/api/v1/things/7").json() == {"thing": "7"}


def test_the_operations_app_serves_health_metrics_and_the_apis_document() -> None:
    definition = _definition("sample-ops")
    app = create_app(definition, "api", _Settings())
    ops = TestClient(create_ops_app(app, definition))
    assert ops.get("/healthz").json() == {"status": "ok"}
    # The api app's lifespan (not run here) sets its readiness; until then, not ready.
    assert ops.get("/readyz").status_code == 503
    app.state.readiness = Readiness()
    assert ops.get("/readyz").json() == {"status": "ready"}
    assert "chorus_http_requests_total" in ops.get("/metrics").text
    assert "/api/v1/things/{thing}" in ops.get("/openapi.json").json()["paths"]
    docs = ops.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert ops.get("/api/v1/things/7").status_code == 404
    # Not the api's traffic: left out of the requests its SLOs count.
    counted = [
        s.labels for m in HTTP_REQUESTS.collect() for s in m.samples if s.name.endswith("_total")
    ]
    assert not [labels for labels in counted if labels["service"] == "sample-ops"]


def test_the_worker_port_is_its_operations_port() -> None:
    worker = TestClient(create_app(_definition(), "worker", _Settings()))
    assert worker.get("/healthz").status_code == 200
    assert worker.get("/readyz").status_code == 503  # no lifespan here: starting up
    assert worker.get("/metrics").status_code == 200
    assert worker.get("/docs").status_code == 404


def test_default_operations_ports_are_apart_from_every_other_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("SAMPLE_API_PORT", "SAMPLE_API_OPS_PORT", "SAMPLE_WORKER_PORT"):
        monkeypatch.delenv(variable, raising=False)
    settings = _Settings()
    assert (settings.api_port, settings.api_ops_port, settings.worker_port) == (8081, 7081, 9081)
    monkeypatch.setenv("SAMPLE_API_OPS_PORT", "7999")
    assert _Settings().api_ops_port == 7999


def test_readyz_names_the_failed_check_and_logs_the_exception(
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "mongodb://chorus:hunter2@db-7.internal:27017"

    async def failing() -> None:
        raise ConnectionError(f"cannot reach {secret}")

    async def loading() -> None:
        raise NotReady("loading the leaderboards")

    async def fine() -> None:
        return None

    readiness = Readiness()
    readiness.add("mongodb", failing)
    readiness.add("leaderboards", loading)
    readiness.add("kafka", fine)
    definition = _definition()
    app = create_app(definition, "api", _Settings())
    app.state.readiness = readiness
    answer = TestClient(create_ops_app(app, definition)).get("/readyz")

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert set(problem["checks"]) == {"mongodb", "leaderboards"}
    assert problem["checks"]["leaderboards"] == "loading the leaderboards"
    assert "mongodb" in problem["detail"]
    assert "hunter2" not in answer.text and "ConnectionError" not in answer.text
    # The exception is in the log instead, under the check's name.
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [record] = [r for r in logged if r.get("check") == "mongodb"]
    assert record["message"] == "readiness check failed" and secret in record["exception"]


async def test_sigterm_first_says_not_ready_then_stops_after_the_delay() -> None:
    async def fine() -> None:
        return None

    definition = _definition()
    app = create_app(definition, "api", _Settings())
    app.state.readiness = Readiness()
    app.state.readiness.add("kafka", fine)
    ops = TestClient(create_ops_app(app, definition))
    api = TestClient(app)
    assert ops.get("/readyz").status_code == 200
    assert "connection" not in api.get("/api/v1/things/a").headers
    server = _DrainingServer(uvicorn.Config(app), app, delay=0.2)
    server.started = True

    server.handle_exit(signal.SIGTERM, None)

    answer = ops.get("/readyz")
    assert answer.status_code == 503 and answer.json()["detail"] == "shutting down"
    # Still served, but no connection is kept for another request.
    served = api.get("/api/v1/things/a")
    assert served.status_code == 200 and served.headers["connection"] == "close"
    assert not server.should_exit and not await server.on_tick(0)
    await asyncio.sleep(0.25)
    assert await server.on_tick(1) and server.should_exit
    # Without a delay (or on a second signal) it stops at once, as uvicorn does.
    now = _DrainingServer(uvicorn.Config(app), app, delay=0)
    now.started = True
    now.handle_exit(signal.SIGTERM, None)
    assert now.should_exit
