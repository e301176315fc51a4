"""Wires the web app: backends, sessions, pages, static files, error pages."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from chassis.auth import TokenVerifier
from chassis.consumer import Consumed, subscribe_batch
from chassis.erasure import Confirmations
from chassis.outbox import run_relay
from chassis.process import Loop, Role, Runtime, ServiceDefinition, periodic
from chassis.telemetry import traced_batches
from contracts.topics import (
    ADVOCATE_OPTED_OUT,
    ERASURE_COMPLETED,
    ERASURE_REQUESTED,
    PERSON_DEACTIVATED,
    PERSON_DELETED,
)
from web.adapters.backends import Backend, Backends
from web.adapters.erasures import ErasureRequests
from web.adapters.oidc import PendingSignIns, sign_ins
from web.adapters.sessions import Session, SessionStore
from web.config import WebSettings
from web.entrypoints import auth, pages, program_erasures
from web.entrypoints.common import (
    STATIC,
    CsrfRejected,
    SignInRequired,
    WebServices,
    compile_templates,
    error_page,
    language_of,
    optional_session,
    redirect,
)
from web.entrypoints.program import NotAllowed
from web.entrypoints.security import SecurityHeaders
from web.entrypoints.timing import ServerTiming
from web.i18n import Texts

log = logging.getLogger(__name__)
VENDOR = {"htmx.min.js": ("htmx.org", "dist/htmx.min.js")}


async def setup(runtime: Runtime) -> WebServices:
    settings = runtime.settings
    assert isinstance(settings, WebSettings)
    compiled = compile_templates()
    log.info("templates compiled", extra={"templates": compiled})
    timeout = settings.backend_timeout_seconds
    backends = Backends(
        content=Backend("content", settings.content_url, timeout),
        share=Backend("share", settings.share_url, timeout),
        rewards=Backend("rewards", settings.rewards_url, timeout),
        metrics=Backend("metrics", settings.metrics_url, timeout),
        people=Backend("people", settings.people_url, timeout),
    )
    runtime.on_close.append(backends.close)
    sessions = SessionStore(runtime.db, settings.token_key)
    await sessions.ensure_indexes()
    pending = PendingSignIns(runtime.db)
    await pending.ensure_indexes()
    verifier = TokenVerifier(secret=settings.development_secret, providers=settings.providers)
    runtime.on_close.append(verifier.close)
    erasures = ErasureRequests(runtime.db)
    await erasures.ensure_indexes()
    confirmations = Confirmations(runtime.db, runtime.publisher, "web")
    await confirmations.ensure_indexes()
    return WebServices(
        settings=settings,
        backends=backends,
        sessions=sessions,
        sign_ins=sign_ins(settings.providers, settings.clients, verifier),
        pending=pending,
        erasures=erasures,
        confirmations=confirmations,
    )


def loops(runtime: Runtime) -> list[Loop]:
    services: WebServices = runtime.services

    async def purge_sessions() -> None:
        # Expiry is a periodic purge: no TTL index on every MongoDB-wire server.
        purged = await services.sessions.purge_expired()
        if purged:
            log.info("expired sessions purged", extra={"sessions": purged})
        if services.pending is not None:
            await services.pending.purge_expired()

    async def outbox_relay() -> None:
        # The web app's confirmations of erasures (its only events).
        assert services.confirmations is not None
        await run_relay([services.confirmations.outbox])

    return [periodic(services.settings.purge_interval_seconds, purge_sessions), outbox_relay]


async def _session(request: Request) -> Session | None:
    """The person's session on an error page too, where no route's dependencies ran."""
    if not hasattr(request.state, "session"):
        try:
            await optional_session(request, request.app.state.services)
        except Exception:
            request.state.session = None
    session: Session | None = request.state.session
    return session


def _texts(request: Request, session: Session | None) -> Texts:
    return Texts(language_of(request, session))


def configure(app: FastAPI, role: Role) -> None:
    if role != "api":
        return

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true":
            path = request.headers.get("hx-current-url", "/feed")
        return redirect(f"/signin?next={path}" if path != "/" else "/signin", request)

    @app.exception_handler(NotAllowed)
    async def not_allowed(request: Request, exc: NotAllowed) -> Response:
        session = await _session(request)
        texts = _texts(request, session)
        return error_page(
            request,
            texts,
            session,
            403,
            texts.gettext("This page is for the program team"),
            texts.gettext(
                "Your account does not have the role it needs. If you think it should, "
                "ask your program team."
            ),
        )

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        session = await _session(request)
        texts = _texts(request, session)
        return error_page(
            request,
            texts,
            session,
            403,
            texts.gettext("This form has expired"),
            texts.gettext(
                "For your safety we did not send it. Go back, reload the page and try again."
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/healthz", "/readyz", "/metrics")):
            return Response(status_code=exc.status_code)
        session = await _session(request)
        texts = _texts(request, session)
        return error_page(
            request,
            texts,
            session,
            exc.status_code if exc.status_code >= 400 else 500,
            texts.gettext("Page not found")
            if exc.status_code == 404
            else texts.gettext("Something went wrong"),
            texts.gettext("The address may be mistyped, or the page has moved.")
            if exc.status_code == 404
            else texts.gettext("Please go back and try again."),
        )

    @app.exception_handler(RequestValidationError)
    async def bad_address(request: Request, exc: RequestValidationError) -> Response:
        session = await _session(request)
        texts = _texts(request, session)
        return error_page(
            request,
            texts,
            session,
            400,
            texts.gettext("That address did not work"),
            texts.gettext("A part of the address is not valid. Go back and try again."),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("page failed", extra={"path": request.url.path})
        session = await _session(request)
        texts = _texts(request, session)
        return error_page(
            request,
            texts,
            session,
            500,
            texts.gettext("Something went wrong"),
            texts.gettext("Nothing you entered was lost. Please try again in a moment."),
        )

    @app.get("/static/vendor/{name}", include_in_schema=False)
    async def vendor(name: str, request: Request) -> Response:
        if name not in VENDOR:
            return Response(status_code=404)
        package, inside = VENDOR[name]
        assets: Path = request.app.state.runtime.settings.assets
        path = assets / package / inside
        if not path.is_file():
            # An installation without its browser packages (`make install` fetches them):
            # the page works without the script, and the log says what is missing.
            log.error("web asset missing", extra={"asset": name, "path": str(path)})
            return Response(status_code=404)
        return FileResponse(
            path,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return Response(status_code=404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})

    app.add_middleware(GZipMiddleware, minimum_size=500)
    settings: WebSettings = app.state.settings
    issuers = [p.issuer for p in settings.providers]
    app.add_middleware(SecurityHeaders, providers=issuers)
    app.add_middleware(ServerTiming)


async def on_people(services: WebServices, batch: list[Consumed[Any]]) -> None:
    """A person the directory deactivated is signed out; one it deleted leaves nothing here."""
    for item in batch:
        event = item.event
        await services.sessions.delete_person(
            event.tenantid, event.data.employee_id, keep_preferences=item.topic != PERSON_DELETED
        )


def subscribe(runtime: Runtime) -> None:
    subscribe_batch(
        runtime.broker,
        topics=list(PEOPLE_LEAVING),
        group_id=runtime.settings.consumer_group,
        handler=traced_batches(
            partial(on_people, runtime.services),
            runtime.settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
    )
    subscribe_batch(
        runtime.broker,
        topics=list(ERASURES),
        group_id=runtime.settings.consumer_group,
        handler=traced_batches(
            partial(program_erasures.on_erasures, runtime.services),
            runtime.settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
    )


PEOPLE_LEAVING = (PERSON_DEACTIVATED, PERSON_DELETED)
# An erasure's AdvocateOptedOut (what the web app holds of the person goes), and the
# progress of every erasure (the program team's page).
ERASURES = (ADVOCATE_OPTED_OUT, ERASURE_REQUESTED, ERASURE_COMPLETED)

DEFINITION = ServiceDefinition(
    name="web",
    settings_class=WebSettings,
    setup=setup,
    routers=lambda: [auth.router, *pages.routers],
    consumes=[*PEOPLE_LEAVING, *ERASURES],
    publishes=[ERASURE_COMPLETED],
    subscribe=subscribe,
    loops=loops,
    configure=configure,
    description="Chorus web app: server-rendered pages for employees and the program team.",
)
