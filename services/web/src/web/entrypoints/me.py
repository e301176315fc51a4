"""Me: my settings and privacy: language, leaderboards, networks, my data, leaving."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import networks
from web.domain.times import parse_time
from web.entrypoints.common import (
    SESSION_COOKIE,
    Form,
    Language,
    Person,
    Services,
    WebServices,
    redirect,
    render,
)
from web.entrypoints.join import is_member, parse_audience
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
NetworkName = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[a-z]+$")]
MAX_EXPORT_PAGES = 1000
# Session fields that open a session or sign a form: never in an export.
SECRET_FIELDS = ("_id", "token", "csrf")


def saved_message(key: str | None, texts: Texts) -> str:
    """The line confirming what was just saved on /me."""
    messages = {
        "leaderboard": texts.gettext("Saved. Your leaderboard choice applies from now on."),
        "networks": texts.gettext("Saved. Your networks are up to date."),
        "left": texts.gettext(
            "You left the program. Your shares stopped counting and nobody ranks you. "
            "You are welcome back any time."
        ),
    }
    return messages.get(key or "", "")


def export_section(
    service: str, replies: dict[str, Reply], texts: Texts, **extra: Any
) -> dict[str, Any]:
    """One service's part of the export: what it answered, a note for what it did not."""
    section: dict[str, Any] = {}
    missing: list[str] = []
    for name, reply in replies.items():
        section[name] = reply.data if reply.ok else None
        if not reply.ok and reply.status != 404:
            missing.append(name)
    section.update(extra)
    if missing:
        section["unavailable"] = [
            texts.gettext(
                "%(what)s: the %(service)s service did not answer, so this part is missing. "
                "Download your data again later to have it.",
                what=", ".join(missing),
                service=service,
            )
        ]
    return section


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# Each service's `GET /api/v1/me/export`: the list it pages through, and the records that
# come with its first page.
EXPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "content": (
        "items",
        (
            "acknowledgements",
            "shared_content_ids",
            "onboarding_steps_done",
            "areas_of_expertise",
            "directory",
        ),
    ),
    "share": (
        "shares",
        (
            "advocate",
            "acknowledged_guidelines_version",
            "network_tokens",
            "daily_share_counts",
            "buddies",
            "directory",
        ),
    ),
    "rewards": (
        "ledger",
        (
            "points",
            "standing",
            "badges",
            "challenges",
            "redemptions",
            "spends",
            "leaderboard_visibility",
            "reward_suggestions",
            "reward_votes",
            "directory",
        ),
    ),
    "metrics": ("facts", ("erased", "totals")),
    # HR's directory: the person's User as their identity provider provisioned it.
    "people": ("groups", ("user",)),
}


async def _all_pages(services: WebServices, session: Session, service: str) -> Reply:
    """Everything one service holds about me, through the pages of its export."""
    backend = getattr(services.backends, service)
    listed, _ = EXPORTS[service]
    items: list[Any] = []
    first: dict[str, Any] | None = None
    cursor: str | None = None
    for _ in range(MAX_EXPORT_PAGES):
        page = await backend.call(
            "GET", "/api/v1/me/export", session.token, params={"cursor": cursor}
        )
        if not page.ok or not isinstance(page.data, dict):
            # Whatever the reason (even a 404), the part is missing, and half a list would
            # look whole: the section says so instead.
            return Reply(status=page.status, unavailable=True)
        if first is None:
            first = page.data
        items.extend(page.data.get(listed) or [])
        cursor = page.data.get("next_cursor")
        if not cursor:
            break
    else:
        return Reply(status=503, unavailable=True)
    assert first is not None
    return Reply(status=200, data={**first, listed: items})


def service_section(service: str, reply: Reply, texts: Texts) -> dict[str, Any]:
    """A service's export as one section: its list and records side by side."""
    listed, recorded = EXPORTS[service]
    data = reply.data if reply.ok else {}
    records = {**(data.get("records") or {}), **data}
    parts = {listed: Reply(status=200, data=data.get(listed))} if reply.ok else {listed: reply}
    for name in recorded:
        parts[name] = Reply(status=200, data=records.get(name)) if reply.ok else reply
    return export_section(service, parts, texts)


async def _web_data(services: WebServices, session: Session) -> dict[str, Any]:
    store = services.sessions
    owner = {"tenant": session.tenant, "employee_id": session.employee_id}
    hidden = dict.fromkeys(SECRET_FIELDS, 0)
    sessions = [doc async for doc in store.sessions.find(owner, hidden)]
    preferences = await store.preferences.find_one(
        {"_id": f"{session.tenant}:{session.employee_id}"}, {"_id": 0}
    )
    return {"sessions": sessions, "preferences": preferences or {}}


@router.get("/me/export")
async def export(services: Services, session: Person, texts: Language) -> Response:
    """One JSON file with what every service holds about me."""
    replies, web = await asyncio.gather(
        asyncio.gather(*(_all_pages(services, session, service) for service in EXPORTS)),
        _web_data(services, session),
    )
    now = datetime.now(UTC)
    document = {
        "exported_at": now,
        "person": {
            "tenant": session.tenant,
            "employee_id": session.employee_id,
            "name": session.name,
            "roles": session.roles,
            "groups": session.groups,
            "location": session.location,
            "languages": session.languages,
        },
        **{
            service: service_section(service, reply, texts)
            for service, reply in zip(EXPORTS, replies, strict=True)
        },
        "web": web,
    }
    body = json.dumps(document, default=_plain, ensure_ascii=False, indent=2)
    name = f"chorus-my-data-{now.date().isoformat()}.json"
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def _render_me(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    saved: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    advocate, visibility = await asyncio.gather(
        services.backends.share.call("GET", "/api/v1/advocates/me", session.token),
        services.backends.rewards.call("GET", "/api/v1/me/leaderboard-visibility", session.token),
    )
    member = is_member(advocate)
    connected = (advocate.data or {}).get("networks") or {} if member else {}
    mine = [
        {
            "value": n.value,
            "label": networks.LABELS[n],
            "audience": int((connected[n.value] or {}).get("audience_size") or 0),
        }
        for n in networks.DEFAULT_ORDER
        if n.value in connected
    ]
    others = [
        (n.value, networks.LABELS[n]) for n in networks.DEFAULT_ORDER if n.value not in connected
    ]
    return render(
        request,
        "me.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Me"),
        section="me",
        advocate=advocate,
        member=member,
        left=advocate.ok and (advocate.data or {}).get("status") == "opted_out",
        opted_out_at=parse_time((advocate.data or {}).get("opted_out_at")),
        visibility=visibility,
        hidden=bool((visibility.data or {}).get("hidden")) if visibility.ok else False,
        mine=mine,
        others=others,
        saved=saved_message(saved, texts),
        errors=errors or {},
        values=values or {},
    )


@router.get("/me")
async def me_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    saved: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """My settings and privacy."""
    return await _render_me(request, services, session, texts, saved=saved)


@router.post("/me/leaderboard")
async def leaderboard_visibility(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    hidden = form.get("visibility") == "hidden"
    reply = await services.backends.rewards.call(
        "PUT", "/api/v1/me/leaderboard-visibility", session.token, json={"hidden": hidden}
    )
    if not reply.ok:
        return await _render_me(
            request,
            services,
            session,
            texts,
            errors={
                "visibility-shown": texts.gettext(
                    "Your choice could not be saved right now. Please try again in a minute."
                )
            },
            status=503 if reply.unavailable else 422,
        )
    return redirect("/me?saved=leaderboard#leaderboards", request)


async def _save_network(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    network: str,
    raw: str,
    field: str,
    chosen: dict[str, str] | None = None,
) -> Response:
    parsed = networks.parse(network)
    size = parse_audience(raw)
    error = ""
    if parsed is None:
        error = texts.gettext("Choose a network.")
    elif size is None:
        error = texts.gettext(
            "Enter the number of people who follow you on %(network)s, "
            "as a whole number of 0 or more.",
            network=networks.LABELS[parsed],
        )
    else:
        reply = await services.backends.share.call(
            "PUT",
            f"/api/v1/advocates/me/networks/{parsed.value}",
            session.token,
            json={"audience_size": size},
        )
        if reply.ok:
            return redirect("/me?saved=networks#networks", request)
        if reply.status == 403:
            return redirect("/join?next=/me", request)
        error = texts.gettext(
            "Your networks could not be saved right now. Please try again in a minute."
        )
    return await _render_me(
        request,
        services,
        session,
        texts,
        errors={field: error},
        values={field: raw, **(chosen or {})},
        status=422,
    )


@router.post("/me/networks")
async def add_network(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Add a network I use, with its audience size."""
    network = str(form.get("network", ""))[:20]
    raw = str(form.get("audience_new", ""))[:40]
    if networks.parse(network) is None:
        return await _render_me(
            request,
            services,
            session,
            texts,
            errors={"network_new": texts.gettext("Choose a network.")},
            values={"audience_new": raw, "network_new": network},
            status=422,
        )
    return await _save_network(
        request, services, session, texts, network, raw, "audience_new", {"network_new": network}
    )


@router.post("/me/networks/{network}")
async def update_network(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    network: NetworkName,
) -> Response:
    """Change the audience size of one of my networks."""
    field = f"audience_{network}"
    raw = str(form.get(field, ""))[:40]
    return await _save_network(request, services, session, texts, network, raw, field)


@router.post("/me/networks/{network}/disconnect")
async def disconnect_network(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    network: NetworkName,
) -> Response:
    """Stop using a network here (and forget its posting token)."""
    parsed = networks.parse(network)
    if parsed is not None:
        reply = await services.backends.share.call(
            "DELETE", f"/api/v1/advocates/me/networks/{parsed.value}", session.token
        )
        if reply.unavailable:
            return await _render_me(
                request,
                services,
                session,
                texts,
                errors={
                    f"audience_{parsed.value}": texts.gettext(
                        "The network could not be removed right now. Please try again in a minute."
                    )
                },
                status=503,
            )
    return redirect("/me?saved=networks#networks", request)


def _confirm(
    request: Request, texts: Texts, session: Session, kind: str, error: str = "", status: int = 200
) -> Response:
    title = (
        texts.gettext("Leave the program") if kind == "leave" else texts.gettext("Erase my data")
    )
    return render(
        request,
        "me_confirm.html",
        texts,
        session,
        status=status,
        title=title,
        section="me",
        kind=kind,
        errors={"form": error} if error else {},
    )


@router.get("/me/leave")
async def leave_page(request: Request, session: Person, texts: Language) -> Response:
    """What leaving means, and the one button to do it."""
    return _confirm(request, texts, session, "leave")


@router.post("/me/leave")
async def leave(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    reply = await services.backends.share.call(
        "POST", "/api/v1/advocates/me/opt-out", session.token, json={"erase": False}
    )
    if reply.ok or reply.status == 403:
        return redirect("/me?saved=left", request)
    return _confirm(
        request,
        texts,
        session,
        "leave",
        texts.gettext("Leaving did not go through right now. Please try again in a minute."),
        503,
    )


@router.get("/me/erase")
async def erase_page(request: Request, session: Person, texts: Language) -> Response:
    """What erasing removes, and the button to do it."""
    return _confirm(request, texts, session, "erase")


@router.post("/me/erase")
async def erase(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Leave and erase: the services drop my data, the web app forgets me and signs me out.

    One request to share, in the program or not: it announces the erasure (AdvocateOptedOut
    with `erase`, and ErasureRequested), every service erases the person and confirms, and
    the program team sees the request until it is complete."""
    reply = await services.backends.share.call("POST", "/api/v1/me/erasure", session.token)
    if not reply.ok:
        return _confirm(
            request,
            texts,
            session,
            "erase",
            texts.gettext(
                "Erasing did not go through right now. Nothing was erased: "
                "please try again in a minute."
            ),
            503,
        )
    await services.sessions.delete_person(session.tenant, session.employee_id)
    response = render(
        request,
        "erased.html",
        texts,
        None,
        title=texts.gettext("Your data is erased"),
        section="",
        was_member=bool((reply.data or {}).get("was_member")),
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
