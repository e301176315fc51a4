"""What every page shares: the person's session, language, CSRF check and rendering."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from weakref import WeakValueDictionary

import jinja2
from cachetools import TTLCache
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chassis.erasure import Confirmations
from web.adapters.backends import Backends, Reply
from web.adapters.erasures import ErasureRequests
from web.adapters.oidc import PendingSignIns, SignInFailed, TenantSignIn
from web.adapters.sessions import Session, SessionStore
from web.config import WebSettings
from web.i18n import LANGUAGES, NATIVE_NAMES, Texts, negotiate

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
SESSION_COOKIE = "chorus_session"
LANGUAGE_COOKIE = "chorus_language"
PRESESSION_COOKIE = "chorus_presession"
log = logging.getLogger(__name__)

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    # A missing field of a service's answer renders as nothing, never as an error page.
    undefined=jinja2.ChainableUndefined,
    # Templates change with a release, not while the app runs: no stat of each file on
    # every render.
    auto_reload=False,
)


def compile_templates() -> int:
    """Compile every template now, at the start, so that no first request after it waits
    for the ones it renders; how many there are."""
    names = environment.list_templates(extensions=["html"])
    for name in names:
        environment.get_template(name)
    return len(names)


# How long the leaders' group share names is kept per tenant: every analytics page and
# each of its polls needs it, and it changes once in a while (this app's own change clears
# it at once; one made through another replica shows within this).
LEADERS_KEPT_SECONDS = 10.0


@dataclass
class WebServices:
    settings: WebSettings
    backends: Backends
    sessions: SessionStore
    # Single sign-on: each tenant's provider, and the sign-ins on their way back from one.
    sign_ins: dict[str, TenantSignIn] = field(default_factory=dict)
    pending: PendingSignIns | None = None
    leaders: TTLCache[str, dict[str, str]] = field(
        default_factory=lambda: TTLCache(maxsize=10_000, ttl=LEADERS_KEPT_SECONDS)
    )
    # One renewal at a time per session: a page's parallel requests wait for it.
    renewals: WeakValueDictionary[str, asyncio.Lock] = field(default_factory=WeakValueDictionary)
    # Erasure requests and how far each got (the program team's page), and the web app's
    # own confirmations of them.
    erasures: ErasureRequests | None = None
    confirmations: Confirmations | None = None


async def services_of(request: Request) -> WebServices:
    services: WebServices = request.app.state.services
    return services


Services = Annotated[WebServices, Depends(services_of)]


class SignInRequired(Exception):
    """The page needs a session and there is none (or it expired)."""


class CsrfRejected(Exception):
    """A form came without this session's token."""


async def optional_session(request: Request, services: Services) -> Session | None:
    cached = getattr(request.state, "session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    session = await services.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if session is not None and _due(session):
        session = await _renewed(services, session)
    request.state.session = session
    return session


def _due(session: Session) -> bool:
    return session.token_renew_at is not None and session.token_renew_at <= datetime.now(UTC)


async def _renewed(services: WebServices, session: Session) -> Session | None:
    """The session with a fresh access token from its provider; None when the provider
    ended it (the person signed out there, or was removed): signed out here too."""
    lock = services.renewals.setdefault(session.id_hash, asyncio.Lock())
    async with lock:
        if not _due(session):
            return session  # renewed while this request waited
        sign_in = services.sign_ins.get(session.tenant)
        try:
            if sign_in is None:
                raise SignInFailed(f"tenant {session.tenant!r} has no identity provider now")
            renewed = await sign_in.renew(session.refresh_token, session.id_token)
        except SignInFailed as failed:
            log.info("session ended", extra={"tenant": session.tenant, "reason": failed.reason})
            await services.sessions.end(session.id_hash)
            return None
        who = renewed.principal
        await services.sessions.renewed(
            session,
            token=renewed.access_token,
            token_renew_at=renewed.renew_at,
            refresh_token=renewed.refresh_token,
            id_token=renewed.id_token,
            roles=sorted(who.roles),
            groups=sorted(who.groups),
            location=who.location,
            languages=list(who.languages),
        )
        return session


async def required_session(
    session: Annotated[Session | None, Depends(optional_session)],
) -> Session:
    if session is None:
        raise SignInRequired
    return session


MaybePerson = Annotated[Session | None, Depends(optional_session)]
Person = Annotated[Session, Depends(required_session)]


def language_of(request: Request, session: Session | None) -> str:
    """The person's setting, then the language chosen before signing in, then the browser's."""
    if session is not None and session.language in LANGUAGES:
        return session.language
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language", ""))


async def texts_of(request: Request, session: MaybePerson) -> Texts:
    return Texts(language_of(request, session))


Language = Annotated[Texts, Depends(texts_of)]


async def check_csrf(request: Request, session: Person) -> Mapping[str, Any]:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form()
    sent = form.get("csrf") or request.headers.get("x-csrf-token")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf):
        raise CsrfRejected
    return form


Form = Annotated[Mapping[str, Any], Depends(check_csrf)]


def safe_next(target: str | None, default: str = "/feed") -> str:
    """A path on this site to return to; anything else (another host, `//x`) is refused."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return default
    return target


@cache
def asset_version(name: str) -> str:
    path = STATIC / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.exists() else "0"


def static_url(name: str) -> str:
    return f"/static/{name}?v={asset_version(name)}"


def render(
    request: Request,
    template: str,
    texts: Texts,
    session: Session | None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = environment.get_template(template).render(
        request=request,
        session=session,
        texts=texts,
        lang=texts.language,
        languages=[(code, NATIVE_NAMES[code]) for code in LANGUAGES],
        here=path,
        here_quoted=quote(path, safe=""),
        csrf=session.csrf if session else "",
        static=static_url,
        htmx=request.headers.get("hx-request") == "true",
        **texts.helpers(),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
    response.headers["Content-Language"] = texts.language
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(
    request: Request,
    texts: Texts,
    session: Session | None,
    status: int,
    heading: str,
    message: str,
) -> HTMLResponse:
    """A page in the site's layout that says what went wrong and what to do, never a trace."""
    return render(
        request, "error.html", texts, session, status=status, heading=heading, message=message
    )


def redirect(url: str, request: Request | None = None) -> Response:
    """303 to `url`; an htmx request is told to go there as a whole page."""
    if request is not None and request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


async def update_metrics_settings(services: WebServices, session: Session, **changes: Any) -> Reply:
    """Change some of the program's metrics settings: metrics replaces them as a whole, so
    the others are read and sent back as they are."""
    current = await services.backends.metrics.call("GET", "/api/v1/settings", session.token)
    if not current.ok:
        return current
    body = {**(current.data or {}), **changes}
    return await services.backends.metrics.call("PUT", "/api/v1/settings", session.token, json=body)
