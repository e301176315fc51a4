"""One service, two roles: build the FastAPI app of an `api` or a `worker` process.

Both roles are FastAPI apps served by uvicorn, so /healthz, /readyz, /metrics and the
problem+json errors are one code path. The worker starts the FastStream broker (its
subscribers) and its background loops (outbox relay, schedulers) in the lifespan; the
api starts the broker as a producer only.

The operations endpoints (/readyz, /metrics, and the api's /docs and /openapi.json) are
never served where the public can reach them: /metrics names tenants and their volumes.
The api process serves them on an operations port of its own (`api_ops_port`), a second
uvicorn server in the same event loop that reads the api app's readiness; the worker's
port serves nothing else, so it is the worker's operations port. The api's own port
keeps /healthz: it says no more than "alive", and a load balancer can only check the
port it sends traffic to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal

import stamina
import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity
from opentelemetry import trace
from pydantic import ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from chassis import errors, health, limits, logs
from chassis import openapi as documents
from chassis.auth import TokenVerifier
from chassis.directory import PERSON_TOPICS, Directory, mongo_directory
from chassis.kafka import EventPublisher, KafkaProbe, ensure_topics, kafka_security, make_broker
from chassis.mongo import create_client, ping
from chassis.settings import ServiceSettings
from chassis.telemetry import LateTracerProvider, instrument_app, setup_tracing
from contracts import erasure

Role = Literal["api", "worker"]
log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a running process holds: settings, connections, and the service's own parts."""

    settings: ServiceSettings
    role: Role
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    broker: KafkaBroker
    publisher: EventPublisher
    services: Any = None
    # The service's copy of HR's directory, when its definition asks for one.
    directory: Directory | None = None
    # Run at shutdown, last registered first: for what a service opens in its setup.
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # What /readyz checks; a service adds its own (a cache to load before serving).
    readiness: health.Readiness = field(default_factory=health.Readiness)
    # For `chassis.telemetry.traced_batches` around a service's batch handlers.
    tracer_provider: trace.TracerProvider = field(default_factory=trace.NoOpTracerProvider)
    # How the process signs in to Kafka, for Kafka clients a service makes of its own.
    kafka_security: BaseSecurity | None = None


Loop = Callable[[], Awaitable[None]]


@dataclass
class ServiceDefinition:
    """How a service plugs into the chassis."""

    name: str
    settings_class: type[ServiceSettings]
    # Builds the service's handlers and repositories; both roles; may create indexes.
    setup: Callable[[Runtime], Awaitable[Any]]
    publishes: Sequence[str] = ()
    consumes: Sequence[str] = ()
    routers: Callable[[], Sequence[APIRouter]] = lambda: ()
    # Worker only: registers FastStream subscribers on runtime.broker before it starts.
    subscribe: Callable[[Runtime], None] | None = None
    # Worker only: loops run for the process's lifetime (relay, schedules); restarted on error.
    loops: Callable[[Runtime], Sequence[Loop]] = lambda runtime: ()
    description: str = ""
    # Api only: raw ASGI apps wrapped around the whole FastAPI app, outermost first, each
    # called with the app inside it; for a hot path that must not pay for the routing and
    # middleware stack. They find the app's state at `scope["app"]`.
    api_middleware: Sequence[Callable[..., Any]] = ()
    extra_openapi_tags: list[dict[str, str]] = field(default_factory=list)
    # Both roles: called with the app once the chassis has set it up (error handlers,
    # middleware and mounts of the service's own, e.g. the web app's HTML error pages).
    configure: Callable[[FastAPI, Role], None] | None = None
    # Both roles: keep a copy of HR's directory (chassis.directory) and take the caller's
    # groups, location and languages from it, refusing people it deactivated. The worker
    # consumes the person topics into it: list them in `consumes` and call
    # `chassis.directory.subscribe` from `subscribe`.
    directory: bool = False

    def __post_init__(self) -> None:
        missing = set(PERSON_TOPICS) - set(self.consumes)
        if self.directory and missing:
            raise ValueError(f"{self.name} keeps a directory but does not consume {missing}")


def periodic(every: float, step: Callable[[], Awaitable[object]]) -> Loop:
    """A background loop that runs `step`, then waits `every` seconds, for the process's
    lifetime (a failure restarts it after a pause, like every loop)."""

    async def loop() -> None:
        while True:
            await step()
            await asyncio.sleep(every)

    loop.__name__ = getattr(step, "__name__", "periodic")
    return loop


class _LoopFailed(Exception):
    """A background loop failed soon after it was (re)started."""


async def _supervise(
    name: str, loop: Loop, *, wait_initial: float = 1.0, wait_max: float = 60.0
) -> None:
    """Run `loop` for the process's lifetime, restarting it when it fails.

    Restarts after quick failures wait longer each time (exponential backoff with jitter,
    capped at `wait_max`); a loop that ran for longer than `wait_max` before it failed is
    restarted at once, and its waits start again from `wait_initial`.
    """
    while True:
        async for attempt in stamina.retry_context(
            on=_LoopFailed,
            attempts=None,
            timeout=None,
            wait_initial=wait_initial,
            wait_max=wait_max,
        ):
            with attempt:
                started = time.monotonic()
                try:
                    await loop()
                    return
                except Exception as exc:
                    log.exception("background loop failed; restarting", extra={"loop": name})
                    if time.monotonic() - started < wait_max:
                        raise _LoopFailed(name) from exc


def create_app(
    definition: ServiceDefinition, role: Role, settings: ServiceSettings | None = None
) -> FastAPI:
    settings = settings or definition.settings_class()
    logs.configure(definition.name, role, settings.log_level)
    # Before anything is served or consumed: every erased person this process looks up or
    # records is keyed under the installation's pseudonym key.
    erasure.use_pseudonym_key(settings.pseudonym_key)
    # Retries are logged and counted by the code that retries (the consumer's failures, the
    # relay's and the loops' logs); stamina's own counter would grow a label value for each
    # retry of an outage that lasts.
    stamina.instrumentation.set_on_retry_hooks([])
    tracing = LateTracerProvider()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracer_provider = setup_tracing(definition.name, role, settings.otlp_endpoint)
        tracing.provider = tracer_provider
        mongo = create_client(settings.mongodb_url, f"chorus-{definition.name}-{role}")
        security = kafka_security(settings)
        broker = make_broker(
            settings.kafka_bootstrap_servers, definition.name, tracer_provider, security
        )
        runtime = Runtime(
            settings=settings,
            role=role,
            mongo=mongo,
            db=mongo[settings.database],
            broker=broker,
            publisher=EventPublisher(broker),
            tracer_provider=tracer_provider,
            kafka_security=security,
        )
        probe = KafkaProbe(settings.kafka_bootstrap_servers, security=security)
        readiness = runtime.readiness
        readiness.add("mongodb", lambda: ping(runtime.db))
        readiness.add("kafka", probe.check)
        tasks: list[asyncio.Task[None]] = []
        try:
            topics = [*definition.publishes, *(definition.consumes if role == "worker" else ())]
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                topics,
                partitions=settings.topic_partitions,
                replication=settings.topic_replication,
                security=security,
            )
            if definition.directory:
                runtime.directory = await mongo_directory(runtime.db)
            runtime.services = await definition.setup(runtime)
            if role == "worker" and definition.subscribe is not None:
                definition.subscribe(runtime)
            await broker.start()
            if role == "worker":
                for index, loop in enumerate(definition.loops(runtime)):
                    name = getattr(loop, "__name__", f"loop-{index}")
                    tasks.append(asyncio.create_task(_supervise(name, loop), name=name))
            app.state.runtime = runtime
            app.state.services = runtime.services
            app.state.readiness = readiness
            if runtime.directory is not None:
                app.state.directory = runtime.directory
            # What startup built lives as long as the process: out of the collector's way,
            # so its full collections (pauses every request waits out) stay short.
            gc.collect()
            gc.freeze()
            log.info("started", extra={"port": _port(settings, role)})
            yield
        finally:
            # The consumers first: each finishes and commits its batch under way (up to
            # FastStream's graceful timeout) while what the batch needs is still open.
            await asyncio.gather(*(s.stop() for s in broker.subscribers), return_exceptions=True)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in reversed(runtime.on_close):
                try:
                    await close()
                except Exception:
                    log.exception("shutdown step failed", extra={"step": repr(close)})
            await broker.stop()
            await probe.close()
            await app.state.token_verifier.close()
            await mongo.close()
            tracing.provider = trace.NoOpTracerProvider()
            tracer_provider.shutdown()

    app = FastAPI(
        title=f"Chorus {definition.name} {role}",
        description=definition.description,
        version="1.0.0",
        lifespan=lifespan,
        # The api's document and its pages are on the operations port (create_ops_app).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.tracing = tracing
    app.state.token_verifier = TokenVerifier(
        secret=settings.development_secret, providers=settings.providers
    )
    errors.install(app)
    routers = definition.routers() if role == "api" else ()
    if role == "api":
        # Sizes and tokens are checked before a body is read (see chassis.limits); inside the
        # metrics, so what it refuses is counted too.
        app.add_middleware(
            limits.BodyLimits, routes=lambda: [r for router in routers for r in router.routes]
        )
    app.add_middleware(health.RequestMetrics, service=definition.name)
    if role == "api":
        app.add_middleware(health.CloseWhileDraining, owner=app)
    # The worker's port is its operations port; the api's serves only its liveness.
    app.include_router(health.router() if role == "worker" else health.liveness())
    for router in routers:
        app.include_router(router, dependencies=[Depends(errors.refuse_unstorable_text)])
    if role == "api":
        documents.install(app)
    if definition.configure is not None:
        definition.configure(app, role)
    if settings.otlp_endpoint:
        # Outermost, so the span covers every middleware; the worker's app serves only the
        # operations endpoints, which are not traced.
        instrument_app(app, tracing)
    return app


def create_ops_app(app: FastAPI, definition: ServiceDefinition) -> FastAPI:
    """The api process's operations app: /healthz, /readyz (of `app`), /metrics, and
    `app`'s OpenAPI document and its /docs page."""
    ops = FastAPI(
        title=f"Chorus {definition.name} api operations",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(ops)
    # Not counted in chorus_http_requests_total: the api SLOs count the apis' traffic only.
    ops.include_router(health.router(app))

    @ops.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @ops.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    return ops


def serve_app(app: FastAPI, definition: ServiceDefinition, role: Role) -> Any:
    """The ASGI app uvicorn runs: `app`, inside the service's own front middleware."""
    if role != "api" or not definition.api_middleware:
        return app
    inner: Any = app
    for middleware in reversed(definition.api_middleware):
        inner = middleware(inner)

    async def front(scope: Any, receive: Any, send: Any) -> None:
        # As Starlette sets it, for a middleware that answers without calling the app.
        scope["app"] = app
        await inner(scope, receive, send)

    return front


def _port(settings: ServiceSettings, role: Role) -> int:
    return settings.api_port if role == "api" else settings.worker_port


# A command of a service's own beside `api` and `worker`: its help, and what runs it with
# the rest of the command line (it parses its own options).
Command = tuple[str, Callable[[list[str]], None]]


def main(
    definition: ServiceDefinition,
    argv: Sequence[str] | None = None,
    commands: Mapping[str, Command] | None = None,
) -> None:
    """`python -m <service> api|worker|<command of its own>`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {definition.name}", description=definition.description or None
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    sub.add_parser("api", help="serve the HTTP API")
    sub.add_parser("worker", help="consume events and run the background loops")
    for name, (help_text, _) in (commands or {}).items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if commands and args.command in commands:
        commands[args.command][1](rest)
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    role: Role = "api" if args.command == "api" else "worker"
    try:
        settings = definition.settings_class()
    except ValidationError as exc:
        print(f"{definition.name}: invalid settings: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(definition, role, settings)
    config = uvicorn.Config(
        serve_app(app, definition, role),
        host=settings.host,
        port=_port(settings, role),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    server = _DrainingServer(config, app, settings.shutdown_delay_seconds)
    ops = None
    if role == "api":
        ops_config = uvicorn.Config(
            create_ops_app(app, definition),
            host=settings.host,
            port=settings.api_ops_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        ops = _OpsServer(ops_config)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(server, ops))
    if not server.started:
        # As uvicorn.run: a process whose app failed to start exits with an error.
        sys.exit(3)


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, stopping in two steps on SIGTERM or SIGINT: first /readyz says
    the process is shutting down while it goes on serving for `delay` seconds, then
    uvicorn's own shutdown (stop accepting, finish the requests in flight, the app's
    lifespan shutdown: background loops, the service's close steps, Kafka, MongoDB). A
    second signal skips the rest of the delay."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, delay: float) -> None:
        super().__init__(config)
        self._app = app
        self._delay = delay
        self._exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        readiness: health.Readiness | None = getattr(self._app.state, "readiness", None)
        if readiness is not None:
            readiness.draining = True
        if self._exit_at is None and self._delay > 0 and self.started:
            # Called from the signal handler: only state here; on_tick acts on it. The
            # signal is raised again once the server has stopped, as uvicorn does.
            self._captured_signals.append(sig)
            self._exit_at = time.monotonic() + self._delay
            log.info("shutting down: not ready, still serving", extra={"seconds": self._delay})
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._exit_at is not None and time.monotonic() >= self._exit_at:
            self.should_exit = True
        return await super().on_tick(counter)


class _OpsServer(uvicorn.Server):
    """The operations server beside the main one: the main server takes the signals and
    stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(server: uvicorn.Server, ops: uvicorn.Server | None) -> None:
    if ops is None:
        await server.serve()
        return
    # Either server failing to start (its port taken) ends the process.
    ops_task = asyncio.create_task(ops.serve(), name="operations-server")
    try:
        await server.serve()
    finally:
        ops.should_exit = True
        await ops_task
