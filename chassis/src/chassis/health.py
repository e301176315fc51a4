"""/healthz, /readyz and /metrics, the same in every process.

They are served on the process's operations port (`chassis.process`), which only
Prometheus and the kubelet may reach: /metrics names tenants and their volumes. What
/readyz answers names the failed checks and a generic reason; the exceptions behind them
go to the log, never to the caller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chassis.errors import problem_response

Check = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "chorus_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "chorus_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class NotReady(Exception):
    """What a check raises for a state of its own (a cache still loading): its text is
    written for the caller and goes into /readyz's answer as it is."""


class Readiness:
    """Named dependency checks, run concurrently with a timeout each."""

    def __init__(self, timeout: float = 4.0) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout = timeout
        # Set once the process has been told to stop: it is never ready again.
        self.draining = False

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def failures(self) -> dict[str, str]:
        async def run(name: str, check: Check) -> str | None:
            try:
                await asyncio.wait_for(check(), self._timeout)
            except TimeoutError:
                return f"no answer within {self._timeout:g} s"
            except NotReady as exc:
                return str(exc)
            except Exception:
                # An exception's text can carry hosts, user names and paths: logged here,
                # only a generic reason in the answer.
                log.warning("readiness check failed", exc_info=True, extra={"check": name})
                return "check failed, see the process's log"
            return None

        names = list(self._checks)
        results = await asyncio.gather(*(run(name, self._checks[name]) for name in names))
        return {name: result for name, result in zip(names, results, strict=True) if result}


def liveness() -> APIRouter:
    """/healthz alone: the process is alive."""
    routes = APIRouter(tags=["operations"])

    @routes.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return routes


def router(main: FastAPI | None = None) -> APIRouter:
    """/healthz, /readyz and /metrics; /readyz reports the readiness of `main`, the app
    that serves the process's traffic, when that is not the app serving these routes."""
    routes = liveness()

    @routes.get("/readyz", summary="Kafka and MongoDB are reachable", response_model=None)
    async def readyz(request: Request) -> JSONResponse:
        state = (main or request.app).state
        readiness: Readiness | None = getattr(state, "readiness", None)
        if readiness is None:
            return problem_response(503, "Not ready", "starting up", checks={})
        if readiness.draining:
            return problem_response(503, "Not ready", "shutting down", checks={})
        failed = await readiness.failures()
        if failed:
            detail = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
            return problem_response(503, "Not ready", detail, checks=failed)
        return JSONResponse({"status": "ready"})

    @routes.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return routes


class CloseWhileDraining:
    """ASGI middleware: once the process is shutting down (`Readiness.draining`), every
    answer says `connection: close`. A client's kept-alive connection ends with its next
    answer instead of being cut when the server stops, and its next request opens a
    connection to a process that is ready. `owner` is the app whose state holds the
    readiness (set in its lifespan)."""

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        readiness: Readiness | None = getattr(self.owner.state, "readiness", None)
        if scope["type"] != "http" or readiness is None or not readiness.draining:
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, closing)


class RequestMetrics:
    """ASGI middleware: count and time requests per route template, never per raw path."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The router leaves the matched route in the scope it was given.
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
