"""Signing in and out, and the language menu.

`CHORUS_ENV=local` has a development sign-in page that lists the demo people and mints
them a token; it does not exist otherwise. Single sign-on adds its own routes that end
the same way, in `start_session`, so no page depends on how the person signed in.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from chassis.auth import issue_token
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
from web.i18n import LANGUAGES

router = APIRouter(include_in_schema=False)


def _secure(request: Request, services: WebServices) -> bool:
    return request.url.scheme == "https" or services.settings.env == "production"


async def start_session(
    request: Request, services: WebServices, person: DevPerson, token: str, method: str, next_: str
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


@router.get("/signin")
async def signin_page(
    request: Request, services: Services, texts: Language, session: MaybePerson, next: str = ""
) -> Response:
    """The development sign-in: pick one of the demo people."""
    _dev_only(services)
    if session is not None:
        return redirect(safe_next(next))
    token = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        texts,
        None,
        people=services.settings.people,
        next=safe_next(next),
        presession=token,
    )
    response.set_cookie(
        PRESESSION_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        path="/",
        secure=_secure(request, services),
    )
    return response


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
        return render(
            request,
            "signin.html",
            texts,
            None,
            status=403,
            people=services.settings.people,
            next=safe_next(next),
            presession=expected,
            error=texts.gettext("Your sign-in form expired. Please choose again."),
        )
    chosen = None
    for candidate in services.settings.people:
        if f"{candidate.tenant}/{candidate.id}" == person:
            chosen = candidate
    if chosen is None:
        return render(
            request,
            "signin.html",
            texts,
            None,
            status=422,
            people=services.settings.people,
            next=safe_next(next),
            presession=expected,
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
    if session is not None:
        form = await request.form()
        sent = form.get("csrf")
        if isinstance(sent, str) and secrets.compare_digest(sent, session.csrf):
            await services.sessions.delete(request.cookies.get(SESSION_COOKIE, ""))
        else:
            return redirect("/me")
    response = redirect("/signin" if services.settings.env == "local" else "/")
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
