"""Signing in and out, and the language menu.

Single sign-on with each tenant's identity provider (`/signin/sso/<tenant>`, back at
`/signin/callback`); `CHORUS_ENV=local` also has a development sign-in that lists the demo
people and mints them a token, which does not exist otherwise. Both end in
`start_session`, so no page depends on how the person signed in.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from chassis.auth import issue_token
from chassis.errors import Problem
from web.adapters.oidc import Pending, SignInFailed
from web.adapters.sessions import Session
from web.config import DevPerson
from web.entrypoints.common import (
    LANGUAGE_COOKIE,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Language,
    MaybePerson,
    Services,
    WebServices,
    redirect,
    render,
    safe_next,
)
from web.i18n import LANGUAGES, Texts

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


def _secure(request: Request, services: WebServices) -> bool:
    return request.url.scheme == "https" or services.settings.env == "production"


async def start_session(
    request: Request,
    services: WebServices,
    person: DevPerson,
    token: str,
    method: str,
    next_: str,
    **provider_fields: Any,
) -> Response:
    """Open a session for someone the sign-in vouched for, and go on to `next_`."""
    sessions = services.sessions
    preferences = await sessions.preferences_of(person.tenant, person.id)
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    session_id, _session = await sessions.create(
        hours=services.settings.session_hours,
        tenant=person.tenant,
        employee_id=person.id,
        name=person.name,
        roles=person.roles,
        groups=person.groups,
        location=person.location,
        languages=person.languages,
        token=token,
        method=method,
        language=preferences.language or (chosen if chosen in LANGUAGES else None),
        last_visit=preferences.feed_seen_at,
        **provider_fields,
    )
    await sessions.save_preferences(person.tenant, person.id, feed_seen_at=_session.created_at)
    response = redirect(safe_next(next_))
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(services.settings.session_hours * 3600),
        httponly=True,
        secure=_secure(request, services),
        samesite="lax",
        path="/",
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


def _dev_only(services: WebServices) -> None:
    if services.settings.env != "local":
        raise HTTPException(status_code=404)


def _signin_page(
    request: Request,
    services: WebServices,
    texts: Texts,
    next_: str,
    presession: str,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    local = services.settings.env == "local"
    fields: dict[str, Any] = {} if error is None else {"error": error}
    return render(
        request,
        "signin.html",
        texts,
        None,
        status=status,
        people=services.settings.people if local else [],
        providers=[(tenant, s.label) for tenant, s in sorted(services.sign_ins.items())],
        next=safe_next(next_),
        presession=presession,
        **fields,
    )


@router.get("/signin")
async def signin_page(
    request: Request, services: Services, texts: Language, session: MaybePerson, next: str = ""
) -> Response:
    """Sign in: with the company's identity provider, or (locally) as a demo person."""
    if session is not None:
        return redirect(safe_next(next))
    if services.settings.env != "local" and len(services.sign_ins) == 1:
        [tenant] = services.sign_ins
        return redirect(f"/signin/sso/{tenant}?{urlencode({'next': safe_next(next)})}")
    if services.settings.env != "local" and not services.sign_ins:
        raise HTTPException(status_code=404)
    token = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(24)
    response = _signin_page(request, services, texts, next, token)
    _set_presession(request, services, response, token)
    return response


def _set_presession(
    request: Request, services: WebServices, response: Response, token: str
) -> None:
    response.set_cookie(
        PRESESSION_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        path="/",
        secure=_secure(request, services),
    )


def _callback_url(request: Request, services: WebServices) -> str:
    base = services.settings.public_url or str(request.base_url)
    return base.rstrip("/") + "/signin/callback"


@router.get("/signin/sso/{tenant}")
async def signin_with_provider(
    request: Request, services: Services, tenant: str, next: str = ""
) -> Response:
    """Off to the tenant's identity provider, with a state, a nonce and a PKCE challenge."""
    sign_in = services.sign_ins.get(tenant)
    if sign_in is None or services.pending is None:
        raise HTTPException(status_code=404)
    browser = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(24)
    url, state, nonce, verifier = await sign_in.start(_callback_url(request, services))
    await services.pending.add(state, browser, Pending(tenant, nonce, verifier, safe_next(next)))
    response = redirect(url)
    _set_presession(request, services, response, browser)
    return response


@router.get("/signin/callback")
async def signin_callback(
    request: Request,
    services: Services,
    texts: Language,
    state: Annotated[str, Query(max_length=500)] = "",
    code: Annotated[str, Query(max_length=4000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Back from the provider: the code becomes tokens, and the tokens a session."""
    browser = request.cookies.get(PRESESSION_COOKIE, "")
    pending = await services.pending.take(state, browser) if services.pending else None
    sign_in = services.sign_ins.get(pending.tenant) if pending else None
    failure = None
    if pending is None or sign_in is None:
        failure = "unknown or expired state, or another browser's"
    elif error or not code:
        failure = f"the provider answered {error or 'without a code'}"
    else:
        try:
            signed_in = await sign_in.finish(code, _callback_url(request, services), pending)
        except SignInFailed as failed:
            failure = failed.reason
    if failure is not None or pending is None:
        log.warning("sign-in refused", extra={"reason": failure})
        response = _signin_page(
            request,
            services,
            texts,
            pending.next if pending else "",
            browser or secrets.token_urlsafe(24),
            status=400,
            error=texts.gettext("Signing in did not work. Please try again."),
        )
        return response
    who = signed_in.principal
    person = DevPerson(
        id=who.employee_id,
        name=signed_in.name[:200],
        tenant=who.tenant,
        roles=sorted(who.roles),
        groups=sorted(who.groups),
        location=who.location,
        languages=list(who.languages),
    )
    return await start_session(
        request,
        services,
        person,
        signed_in.access_token,
        "oidc",
        pending.next,
        token_renew_at=signed_in.renew_at,
        refresh_token=signed_in.refresh_token,
        id_token=signed_in.id_token,
    )


@router.post("/signin")
async def signin(
    request: Request,
    services: Services,
    texts: Language,
    person: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    _dev_only(services)
    expected = request.cookies.get(PRESESSION_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        return _signin_page(
            request,
            services,
            texts,
            next,
            expected,
            status=403,
            error=texts.gettext("Your sign-in form expired. Please choose again."),
        )
    chosen = None
    for candidate in services.settings.people:
        if f"{candidate.tenant}/{candidate.id}" == person:
            chosen = candidate
    if chosen is None:
        return _signin_page(
            request,
            services,
            texts,
            next,
            expected,
            status=422,
            error=texts.gettext("Choose a person to sign in as."),
        )
    token = issue_token(
        services.settings.jwt_secret,
        sub=chosen.id,
        tenant=chosen.tenant,
        roles=chosen.roles,
        groups=chosen.groups,
        location=chosen.location,
        languages=chosen.languages,
        ttl_seconds=int(services.settings.session_hours * 3600),
    )
    return await start_session(request, services, chosen, token, "dev", next)


@router.post("/signout")
async def signout(request: Request, services: Services, session: MaybePerson) -> Response:
    after = "/signin" if services.settings.env == "local" or services.sign_ins else "/"
    if session is not None:
        form = await request.form()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not secrets.compare_digest(sent, session.csrf):
            return redirect("/me")
        await services.sessions.delete(request.cookies.get(SESSION_COOKIE, ""))
        sign_in = services.sign_ins.get(session.tenant) if session.method == "oidc" else None
        if sign_in is not None:
            # The provider's session ends too, or the next sign-in would skip its password.
            base = services.settings.public_url or str(request.base_url)
            try:
                after = (
                    await sign_in.logout_url(session.id_token, base.rstrip("/") + after) or after
                )
            except Problem:
                log.warning("provider logout skipped: provider unreachable")
    response = redirect(after)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
async def choose_language(
    request: Request,
    services: Services,
    session: MaybePerson,
    language: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Switch language and stay on the same page."""
    back = safe_next(next)
    if language not in LANGUAGES:
        return redirect(back)
    response = redirect(back)
    if session is not None:
        if not secrets.compare_digest(csrf, session.csrf):
            return redirect(back)
        await services.sessions.set_language(session, language)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 86400,
        samesite="lax",
        path="/",
        httponly=True,
        secure=_secure(request, services),
    )
    return response


def session_person(session: Session) -> str:
    return f"{session.tenant}/{session.employee_id}"
