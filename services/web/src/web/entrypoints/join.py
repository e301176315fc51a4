"""Joining the program: what it is, the guidelines to read and accept, my networks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

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
    safe_next,
)
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
MAX_AUDIENCE = 1_000_000_000


def is_member(advocate: Reply) -> bool:
    """Whether the share service has the person as an advocate now."""
    return advocate.ok and (advocate.data or {}).get("status") == "enrolled"


def parse_audience(raw: str) -> int | None:
    """An audience size as typed: digits with optional spaces or separators; None if bad.

    Blank is 0: the network is used, its audience not told."""
    cleaned = raw.strip().replace(" ", "").replace("\u00a0", "").replace(",", "").replace(".", "")
    cleaned = cleaned.replace("'", "").replace("\u202f", "")
    if not cleaned:
        return 0
    if not cleaned.isascii() or not cleaned.isdigit():
        return None
    value = int(cleaned)
    return value if value <= MAX_AUDIENCE else None


def ticked_networks(form: Mapping[str, Any]) -> list[str]:
    """The values of the form's `network` checkboxes."""
    getlist = getattr(form, "getlist", None)
    values = getlist("network") if getlist else [form.get("network")]
    return [str(v) for v in values if v][:20]


def chosen_networks(
    form: Mapping[str, Any], ticked: list[str], texts: Texts
) -> tuple[dict[str, int], dict[str, str]]:
    """The ticked networks with their audience sizes, and errors by field."""
    sizes: dict[str, int] = {}
    errors: dict[str, str] = {}
    for value in ticked:
        network = networks.parse(value)
        if network is None:
            continue
        size = parse_audience(str(form.get(f"audience_{network.value}", ""))[:40])
        if size is None:
            errors[f"audience_{network.value}"] = texts.gettext(
                "Enter the number of people who follow you on %(network)s, "
                "as a whole number of 0 or more.",
                network=networks.LABELS[network],
            )
        else:
            sizes[network.value] = size
    return sizes, errors


async def _page_data(services: WebServices, session: Session) -> tuple[Reply, Reply]:
    backends = services.backends
    return await asyncio.gather(
        backends.content.call("GET", "/api/v1/guidelines/current", session.token),
        backends.share.call("GET", "/api/v1/advocates/me", session.token),
    )


def _render(
    request: Request,
    texts: Texts,
    session: Session,
    guidelines: Reply,
    advocate: Reply,
    next_: str,
    *,
    errors: dict[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    ticked: list[str] | None = None,
    status: int = 200,
    notice: str = "",
) -> Response:
    member = is_member(advocate)
    current = dict(guidelines.data or {}) if guidelines.ok else None
    if current is not None:
        current["published_at_parsed"] = parse_time(current.get("published_at"))
    needs_ack = bool(current and not current.get("acknowledged_at"))
    connected = (advocate.data or {}).get("networks") or {} if advocate.ok else {}
    return render(
        request,
        "join.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Join the program"),
        section="feed",
        guidelines=guidelines,
        current=current,
        advocate=advocate,
        member=member,
        needs_ack=needs_ack,
        next=next_,
        errors=errors or {},
        values=values or {},
        ticked=ticked if ticked is not None else list(connected),
        connected=connected,
        network_list=[(n.value, networks.LABELS[n]) for n in networks.DEFAULT_ORDER],
        joined_at=parse_time((advocate.data or {}).get("consent_at")) if member else None,
        notice=notice,
    )


@router.get("/join")
async def join_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    next: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """What the program is, the guidelines, and the opt-in."""
    guidelines, advocate = await _page_data(services, session)
    return _render(request, texts, session, guidelines, advocate, safe_next(next))


@router.post("/join")
async def join(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Acknowledge the guidelines, join, then save the networks; errors by their fields."""
    next_ = safe_next(str(form.get("next", "")))
    backends = services.backends
    guidelines, advocate = await _page_data(services, session)
    member = is_member(advocate)
    ticked = ticked_networks(form)
    values = {k: str(v)[:40] for k, v in form.items() if k.startswith("audience_") or k == "accept"}
    errors: dict[str, str] = {}
    version: int | None = None
    if guidelines.unavailable:
        errors["form"] = texts.gettext(
            "The guidelines cannot be loaded right now, so you cannot join yet. "
            "Nothing was saved: please try again in a minute."
        )
    elif guidelines.ok:
        version = int((guidelines.data or {}).get("version") or 0) or None
        if not (guidelines.data or {}).get("acknowledged_at") and form.get("accept") != "yes":
            errors["accept"] = texts.gettext(
                "Tick the box to confirm you have read the guidelines."
            )
    sizes: dict[str, int] = {}
    if not member:
        sizes, network_errors = chosen_networks(form, ticked, texts)
        errors.update(network_errors)

    def again(found: dict[str, str], status: int = 422) -> Response:
        return _render(
            request,
            texts,
            session,
            guidelines,
            advocate,
            next_,
            errors=found,
            values=values,
            ticked=ticked,
            status=status,
        )

    if errors:
        return again(errors)
    unavailable = texts.gettext(
        "Joining is unavailable right now. Please try again in a minute: "
        "what you chose here is still in the form."
    )
    if version is not None and not (guidelines.data or {}).get("acknowledged_at"):
        ack = await backends.content.call(
            "POST", f"/api/v1/guidelines/{version}/acknowledgements", session.token
        )
        if ack.unavailable:
            return again({"form": unavailable}, 503)
        if ack.status == 409 or ack.status == 404:
            guidelines, _ = await _page_data(services, session)
            return again(
                {
                    "accept": texts.gettext(
                        "The guidelines were updated while you were reading. "
                        "Please read the new version and tick the box again."
                    )
                }
            )
        if not ack.ok:
            return again({"form": unavailable}, 503)
    if not member:
        body: dict[str, Any] = {"accept": True}
        if version is not None:
            body["guidelines_version"] = version
        joined = await backends.share.call("POST", "/api/v1/advocates/me", session.token, json=body)
        if not joined.ok:
            return again({"form": unavailable}, 503 if joined.unavailable else 422)
        advocate = joined
        failed = []
        for network, size in sizes.items():
            saved = await backends.share.call(
                "PUT",
                f"/api/v1/advocates/me/networks/{network}",
                session.token,
                json={"audience_size": size},
            )
            if saved.ok:
                advocate = saved
            else:
                parsed = networks.parse(network)
                failed.append(networks.LABELS[parsed] if parsed else network)
        if failed:
            guidelines, advocate = await _page_data(services, session)
            return _render(
                request,
                texts,
                session,
                guidelines,
                advocate,
                next_,
                notice=texts.gettext(
                    "You joined the program. Your networks (%(names)s) could not be saved "
                    "right now: add them on your Me page in a minute.",
                    names=", ".join(failed),
                ),
            )
    return redirect(next_, request)
