"""The program team's buddy pairs: who waits for a buddy, the pairs, pairing two people."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from web.adapters.sessions import Session
from web.domain.times import parse_time
from web.entrypoints.common import Form, Language, Services, WebServices, redirect, render
from web.entrypoints.program import Admin
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
Identifier = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Saved = Annotated[str | None, Query(max_length=40)]


async def _page(
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
    reply = await services.backends.share.call("GET", "/api/v1/buddies/pairs", session.token)
    data: dict[str, Any] = reply.data or {} if reply.ok else {}
    # Names: the ones people gave, and the development sign-in's list on a local installation.
    names: dict[str, str] = {}
    if services.settings.env == "local":
        names.update({p.id: p.name for p in services.settings.people if p.tenant == session.tenant})
    for person in [
        *(data.get("waiting") or []),
        *(m for p in data.get("pairs") or [] for m in p.get("members") or []),
    ]:
        if person.get("name"):
            names.setdefault(str(person["employee_id"]), str(person["name"]))
    since = data.get("waiting_since") or {}
    waiting = [
        {
            "employee_id": p["employee_id"],
            "name": names.get(p["employee_id"], p["employee_id"]),
            "since": parse_time(since.get(p["employee_id"])),
        }
        for p in data.get("waiting") or []
    ]
    pairs = [
        {
            **p,
            "names": [
                names.get(m["employee_id"], m["employee_id"]) for m in p.get("members") or []
            ],
            "waiting_for": [
                names.get(m["employee_id"], m["employee_id"])
                for m in p.get("members") or []
                if m["employee_id"] not in (p.get("accepted") or [])
            ],
            "since": parse_time(p.get("accepted_at") or p.get("created_at")),
        }
        for p in data.get("pairs") or []
    ]
    busy = {m["employee_id"] for p in data.get("pairs") or [] for m in p.get("members") or []}
    people = sorted(
        ((i, n) for i, n in names.items() if i not in busy), key=lambda person: person[1].lower()
    )
    return render(
        request,
        "program/buddies.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Buddy pairs"),
        section="program",
        program_section="run",
        run="buddies",
        unavailable=not reply.ok,
        waiting=waiting,
        active=[p for p in pairs if p.get("status") == "active"],
        pending=[p for p in pairs if p.get("status") == "pending"],
        people=people,
        values=values or {},
        errors=errors or {},
        saved=saved,
    )


@router.get("/program/run/buddies")
async def buddies_page(
    request: Request, services: Services, session: Admin, texts: Language, saved: Saved = None
) -> Response:
    """Who asked for a buddy, the proposed and active pairs, and a form to pair two people."""
    message = {
        "paired": texts.gettext("Proposed. Each of them sees it on their buddy page and decides."),
        "ended": texts.gettext("The pair has ended."),
    }.get(saved or "")
    return await _page(request, services, session, texts, saved=message)


@router.post("/program/run/buddies")
async def pair(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Propose two people as buddies, within a team or across teams."""
    values = {k: str(form.get(k, "")).strip()[:200] for k in ("first", "second")}
    errors: dict[str, str] = {}
    if not values["first"]:
        errors["first"] = texts.gettext("Choose the first person.")
    if not values["second"]:
        errors["second"] = texts.gettext("Choose the second person.")
    elif values["second"] == values["first"]:
        errors["second"] = texts.gettext("Choose two different people.")
    if not errors:
        names = {}
        if services.settings.env == "local":
            known = {p.id: p.name for p in services.settings.people if p.tenant == session.tenant}
            names = {k: known[k] for k in values.values() if k in known}
        reply = await services.backends.share.call(
            "POST",
            "/api/v1/buddies/pairs",
            session.token,
            json={"employee_ids": [values["first"], values["second"]], "names": names},
        )
        if reply.ok:
            return redirect("/program/run/buddies?saved=paired", request)
        if reply.unavailable:
            errors["form"] = texts.gettext(
                "Buddy pairs are unavailable right now. Nothing changed: try again in a minute."
            )
        else:
            errors["second"] = texts.gettext(
                "One of them already has a buddy or a proposal to answer."
            )
    return await _page(request, services, session, texts, errors=errors, values=values, status=422)


@router.post("/program/run/buddies/{pair_id}/end")
async def end(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    form: Form,
    pair_id: Identifier,
) -> Response:
    """End a pair, or withdraw a proposal nobody answered."""
    reply = await services.backends.share.call(
        "POST", f"/api/v1/buddies/pairs/{pair_id}/end", session.token
    )
    if not reply.ok:
        errors = {
            "form": texts.gettext("That pair had already ended or changed. Nothing else changed.")
        }
        return await _page(request, services, session, texts, errors=errors, status=409)
    return redirect("/program/run/buddies?saved=ended", request)
