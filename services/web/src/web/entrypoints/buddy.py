"""My buddy: asking for one, answering a proposal, drafts with feedback, cheers on shares.

Every action is a form that works without JavaScript (303 back to /buddy); a cheer is
swapped in place when htmx is there. The share service owns pairs, drafts and cheers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from contracts.texts import LIMITS
from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import networks
from web.domain.times import parse_time
from web.entrypoints.common import (
    Form,
    Language,
    Person,
    Services,
    WebServices,
    redirect,
    render,
)
from web.entrypoints.contribute import web_address
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
Identifier = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Done = Annotated[str | None, Query(max_length=40)]

REACTIONS = ("thumbs-up", "heart", "idea")
EMOJI = {"thumbs-up": "👍", "heart": "❤️", "idea": "💡"}
MAX_COMMENT = 1000


def reaction_label(name: str, texts: Texts) -> str:
    labels = {
        "thumbs-up": texts.gettext("Looks good"),
        "heart": texts.gettext("Love it"),
        "idea": texts.gettext("I have an idea"),
    }
    return labels.get(name, name)


def names_of(services: WebServices, session: Session, reply: Reply | None = None) -> dict[str, str]:
    """Names by employee id: the share service's (as people gave them), the development
    sign-in's list on a local installation, and mine from my session."""
    names: dict[str, str] = {}
    if services.settings.env == "local":
        names.update({p.id: p.name for p in services.settings.people if p.tenant == session.tenant})
    data = (reply.data or {}) if reply is not None and reply.ok else {}
    for person in [data.get("buddy") or {}, *((data.get("pair") or {}).get("members") or [])]:
        if person.get("name"):
            names[str(person["employee_id"])] = str(person["name"])
    names[session.employee_id] = session.name
    return names


def draft_errors(form: Mapping[str, Any], texts: Texts) -> dict[str, str]:
    """What is wrong with a draft as typed, by field."""
    errors: dict[str, str] = {}
    text = str(form.get("text", "")).strip()
    url = str(form.get("url", "")).strip()
    network = networks.parse(str(form.get("network", "")))
    if network is None:
        errors["network"] = texts.gettext("Choose a network.")
    if not text:
        errors["text"] = texts.gettext("Write the post you want your buddy to see.")
    elif network is not None and (too_long := networks.too_long(network, text)):
        used, limit = too_long
        errors["text"] = texts.gettext(
            "%(used)s characters: %(network)s takes at most %(limit)s.",
            used=texts.number(used),
            network=networks.LABELS[network],
            limit=texts.number(limit),
        )
    if url and not web_address(url):
        errors["url"] = texts.gettext("Enter the full address of the page, starting with https://")
    return errors


def comment_error(text: str, texts: Texts) -> str | None:
    if not text.strip():
        return texts.gettext("Write a comment first.")
    if len(text) > MAX_COMMENT:
        return texts.gettext("A comment can be at most 1,000 characters.")
    return None


def _draft_view(draft: dict[str, Any], names: dict[str, str], texts: Texts) -> dict[str, Any]:
    reaction = draft.get("reaction") or None
    network = networks.parse(str(draft.get("network", "")))
    return {
        **draft,
        "network_label": networks.LABELS[network] if network else draft.get("network"),
        "author_name": names.get(str(draft.get("author_id")), str(draft.get("author_id"))),
        "created_at": parse_time(draft.get("created_at")),
        "comments": [
            {
                **c,
                "name": names.get(str(c.get("employee_id")), str(c.get("employee_id"))),
                "at": parse_time(c.get("at")),
            }
            for c in draft.get("comments") or []
        ],
        "reaction_name": reaction.get("name") if reaction else None,
        "reaction_emoji": EMOJI.get(str(reaction.get("name"))) if reaction else None,
        "reaction_label": reaction_label(str(reaction.get("name")), texts) if reaction else None,
    }


async def _page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    comment_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    share = services.backends.share
    mine, drafts, advocate = await asyncio.gather(
        share.call("GET", "/api/v1/buddies/me", session.token),
        share.call("GET", "/api/v1/buddies/drafts", session.token),
        share.call("GET", "/api/v1/advocates/me", session.token),
    )
    names = names_of(services, session, mine)
    data = mine.data or {} if mine.ok else {}
    pair = data.get("pair")
    buddy = data.get("buddy") or None
    buddy_name = names.get(str(buddy.get("employee_id")), "") if buddy else ""
    accepted = (pair or {}).get("accepted") or []
    connected = (advocate.data or {}).get("networks") or {} if advocate.ok else {}
    order = networks.ordered(connected)
    typed = values or {}
    chosen = networks.parse(str(typed.get("network", ""))) or order[0]
    all_drafts = drafts.data or {} if drafts.ok else {}
    return render(
        request,
        "buddy.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Your buddy"),
        section="me",
        unavailable=mine.unavailable or not mine.ok,
        pair={**pair, "accepted_at": parse_time(pair.get("accepted_at"))} if pair else None,
        pending=bool(pair and pair.get("status") == "pending"),
        active=bool(pair and pair.get("status") == "active"),
        i_accepted=session.employee_id in accepted,
        buddy_accepted=bool(buddy and buddy.get("employee_id") in accepted),
        buddy_name=buddy_name,
        requested=bool(data.get("requested")),
        requested_team=data.get("requested_team"),
        notify_shares=bool(data.get("notify_shares", True)),
        shares=[
            {
                **s,
                "shared_at": parse_time(s.get("shared_at")),
                "network_label": networks.LABELS[networks.parse(str(s.get("network"))) or order[0]],
            }
            for s in data.get("shares") or []
        ],
        new_shares=int(data.get("new_shares") or 0),
        teams=sorted(session.groups),
        my_drafts=[_draft_view(d, names, texts) for d in all_drafts.get("mine") or []],
        to_me=[_draft_view(d, names, texts) for d in all_drafts.get("to_me") or []],
        reactions=[(r, EMOJI[r], reaction_label(r, texts)) for r in REACTIONS],
        choices=[
            {"value": n.value, "label": networks.LABELS[n], "limit": LIMITS[n]} for n in order
        ],
        chosen=chosen.value,
        values={k: str(typed.get(k, "")) for k in ("text", "url")},
        errors=errors or {},
        comment_errors=comment_errors or {},
        done=done,
    )


@router.get("/buddy")
async def buddy_page(
    request: Request, services: Services, session: Person, texts: Language, done: Done = None
) -> Response:
    """My buddy, proposals to answer, drafts both ways and my buddy's recent shares."""
    return await _page(request, services, session, texts, done=done)


async def _act(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    method: str,
    path: str,
    json: Any,
    done: str,
    anchor: str = "",
) -> Response:
    reply = await services.backends.share.call(method, path, session.token, json=json)
    if not reply.ok:
        return await _page(
            request,
            services,
            session,
            texts,
            done="refused",
            status=503 if reply.unavailable else 409 if reply.status == 409 else 422,
        )
    return redirect(f"/buddy?done={done}{anchor}", request)


@router.post("/buddy/request")
async def ask(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Find me a buddy: within one of my teams, or anyone."""
    team = str(form.get("team", "")).strip()
    body: dict[str, Any] = {"name": session.name}
    if team and team in session.groups:
        body["team"] = team
    return await _act(
        request, services, session, texts, "POST", "/api/v1/buddies/me/request", body, "asked"
    )


@router.post("/buddy/request/withdraw")
async def withdraw(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    return await _act(
        request, services, session, texts, "DELETE", "/api/v1/buddies/me/request", None, "withdrawn"
    )


@router.post("/buddy/pairs/{pair_id}/accept")
async def accept(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    pair_id: Identifier,
) -> Response:
    path = f"/api/v1/buddies/pairs/{pair_id}/accept"
    body = {"name": session.name}
    return await _act(request, services, session, texts, "POST", path, body, "accepted")


@router.post("/buddy/pairs/{pair_id}/end")
async def end(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    pair_id: Identifier,
) -> Response:
    """Decline a proposal or end the pair; nothing else changes for either of us."""
    path = f"/api/v1/buddies/pairs/{pair_id}/end"
    return await _act(request, services, session, texts, "POST", path, None, "ended")


@router.post("/buddy/settings")
async def settings(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    body = {"notify_shares": form.get("notify_shares") == "on", "name": session.name}
    return await _act(
        request,
        services,
        session,
        texts,
        "PUT",
        "/api/v1/buddies/me/settings",
        body,
        "saved",
        "#buddy-settings",
    )


@router.post("/buddy/seen")
async def seen(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    return await _act(
        request,
        services,
        session,
        texts,
        "POST",
        "/api/v1/buddies/me/seen",
        None,
        "seen",
        "#buddy-shares",
    )


@router.post("/buddy/drafts")
async def send_draft(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Send my buddy a draft of my own post."""
    errors = draft_errors(form, texts)
    if not errors:
        body: dict[str, Any] = {
            "network": str(form.get("network")),
            "text": str(form.get("text", "")).strip(),
        }
        if url := str(form.get("url", "")).strip():
            body["url"] = url
        reply = await services.backends.share.call(
            "POST", "/api/v1/buddies/drafts", session.token, json=body
        )
        if reply.ok:
            return redirect("/buddy?done=sent#my-drafts", request)
        if reply.unavailable:
            errors["form"] = texts.gettext(
                "Your draft did not go through. Nothing is lost: try again in a minute."
            )
        else:
            for field in reply.field_errors():
                if field in ("text", "url", "network"):
                    errors[field] = draft_errors({**form, field: ""}, texts).get(
                        field
                    ) or texts.gettext("Check this field.")
            errors = errors or {"form": texts.gettext("You need a buddy to send them a draft.")}
    return await _page(request, services, session, texts, errors=errors, values=form, status=422)


@router.post("/buddy/drafts/{draft_id}/comments")
async def comment(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    draft_id: Identifier,
) -> Response:
    text = str(form.get("text", ""))
    if problem := comment_error(text, texts):
        return await _page(
            request, services, session, texts, comment_errors={draft_id: problem}, status=422
        )
    path = f"/api/v1/buddies/drafts/{draft_id}/comments"
    return await _act(
        request,
        services,
        session,
        texts,
        "POST",
        path,
        {"text": text.strip()},
        "commented",
        f"#draft-{draft_id}",
    )


@router.post("/buddy/drafts/{draft_id}/reaction")
async def react(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    draft_id: Identifier,
) -> Response:
    name = str(form.get("reaction", ""))
    body = {"reaction": name if name in REACTIONS else None}
    path = f"/api/v1/buddies/drafts/{draft_id}/reaction"
    return await _act(
        request, services, session, texts, "PUT", path, body, "reacted", f"#draft-{draft_id}"
    )


@router.post("/buddy/cheers/{share_id}")
async def cheer(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    share_id: Identifier,
) -> Response:
    """Cheer my buddy's share; in place with htmx."""
    reply = await services.backends.share.call(
        "POST", "/api/v1/buddies/cheers", session.token, json={"share_id": share_id}
    )
    htmx = request.headers.get("hx-request") == "true"
    if not reply.ok:
        if htmx:
            return redirect("/buddy?done=refused#buddy-shares", request)
        return await _page(request, services, session, texts, done="refused", status=409)
    if not htmx:
        return redirect(f"/buddy?done=cheered#share-{share_id}", request)
    return render(
        request,
        "partials/buddy_cheer.html",
        texts,
        session,
        s={"id": share_id, "cheered": True},
        announce=texts.gettext("Your cheer is on its way."),
    )


async def buddy_notice(services: WebServices, session: Session) -> dict[str, Any] | None:
    """For the feed: my buddy shared since I last looked (and I want to be told); None when
    there is nothing to tell, or the share service did not answer."""
    reply = await services.backends.share.call("GET", "/api/v1/buddies/me", session.token)
    data = reply.data or {} if reply.ok else {}
    count = int(data.get("new_shares") or 0)
    buddy = data.get("buddy") or {}
    if not count or not buddy:
        return None
    names = names_of(services, session, reply)
    return {"name": names.get(str(buddy.get("employee_id")), ""), "count": count}
