"""Sharing: pick a network, edit the suggested text, and share with a tracked link."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from contracts.events import Network
from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import networks
from web.entrypoints.common import (
    Form,
    Language,
    Person,
    Services,
    WebServices,
    error_page,
    redirect,
    render,
)
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
ContentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def share_errors(reply: Reply, texts: Texts, network: str) -> dict[str, str]:
    """A refused share's reasons, by form field, in the person's language."""
    fields = reply.field_errors()
    errors: dict[str, str] = {}
    if "text" in fields:
        errors["text"] = texts.gettext("This text is too long for %(network)s.", network=network)
    if "scheduled_at" in fields:
        errors["scheduled_at"] = texts.gettext("Choose a time in the future.")
    if "url" in fields:
        errors["url"] = texts.gettext("Enter the full address of the page, starting with https://")
    if "title" in fields:
        errors["title"] = texts.gettext("The title can be at most 300 characters.")
    if "network" in fields:
        errors["network"] = texts.gettext("Choose a network.")
    if errors:
        return errors
    detail = str(reply.problem.get("detail") or "")
    if reply.status == 429:
        errors["form"] = texts.gettext(
            "You have reached today's share limit. You can share again tomorrow."
        )
    elif reply.status == 403 and "guidelines" in detail:
        errors["form"] = texts.gettext("Please read and accept the current guidelines first.")
    elif reply.status == 403 and ("enrol" in detail or "joined" in detail or "opted" in detail):
        errors["form"] = texts.gettext("Join the program to share.")
    elif reply.status == 404:
        errors["form"] = texts.gettext(
            "This item cannot be shared yet. If it was just published, try again in a moment."
        )
    elif reply.status in (409, 403):
        errors["form"] = texts.gettext("This item can no longer be shared.")
    elif "network" in detail and "connected" in detail:
        errors["network"] = texts.gettext("Connect this network for direct posting first.")
    else:
        errors["form"] = texts.gettext("The share did not go through. Please try again.")
    return errors


async def post_share(
    services: WebServices,
    session: Session,
    texts: Texts,
    body: dict[str, Any],
    network: Network,
) -> tuple[Reply, dict[str, str]]:
    """Ask the share service for the share; its refusal as messages by form field."""
    reply = await services.backends.share.call("POST", "/api/v1/shares", session.token, json=body)
    if reply.unavailable:
        return reply, {
            "form": texts.gettext(
                "Sharing is unavailable right now. Nothing was shared: "
                "please try again in a minute."
            )
        }
    if not reply.ok:
        return reply, share_errors(reply, texts, networks.LABELS[network])
    return reply, {}


async def _panel_data(
    services: WebServices, session: Session, content_id: str
) -> tuple[Reply, Reply, Reply, Reply]:
    backends = services.backends
    return await asyncio.gather(
        backends.content.call("GET", f"/api/v1/content/{content_id}", session.token),
        backends.share.call("GET", "/api/v1/advocates/me", session.token),
        backends.rewards.call("GET", "/api/v1/rules", session.token),
        # The wording offered to this person; without it, the suggested text is offered.
        backends.share.call("GET", f"/api/v1/content/{content_id}/variant", session.token),
    )


# The panel waits this long at most for the learned best times; without them it is whole.
MOMENTS_WAIT_SECONDS = 0.5


async def _best_times(services: WebServices, session: Session, advocate: Reply) -> Reply:
    """When the tenant's audience engages most, if this person can schedule at all (a
    network that posts for them); a slow answer is left out rather than waited for."""
    connected = (advocate.data or {}).get("networks") or {} if advocate.ok else {}
    if not any((entry or {}).get("direct_posting") for entry in connected.values()):
        return Reply(unavailable=True)
    try:
        return await asyncio.wait_for(
            services.backends.metrics.call("GET", "/api/v1/moments", session.token),
            MOMENTS_WAIT_SECONDS,
        )
    except TimeoutError:
        return Reply(unavailable=True)


def suggested_times(texts: Texts, moments: Reply, network: str) -> list[dict[str, str]]:
    """The next busiest hours of `network`'s audience (else of all networks), as choices:
    the moment to send, and how it reads in the audience's time zone."""
    data = moments.data if moments.ok and isinstance(moments.data, dict) else {}
    entries = {str(n.get("network")): n for n in data.get("networks") or []}
    found = (entries.get(network) or {}).get("next") or (entries.get("all") or {}).get("next")
    try:
        zone = ZoneInfo(str(data.get("time_zone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    out = []
    for raw in found or []:
        try:
            at = datetime.fromisoformat(str(raw)).astimezone(zone)
        except ValueError:
            continue
        label = texts.day_and_time(at)
        out.append({"value": at.isoformat(), "label": label, "zone": str(zone)})
    return out


def _share_points(rules: Reply) -> int | None:
    versions = (rules.data or {}).get("versions") or []
    if not rules.ok or not versions:
        return None
    points = (versions[-1].get("points") or {}).get("share")
    return int(points) if isinstance(points, int) else None


def _enrolled(advocate: Reply) -> bool:
    return advocate.ok and (advocate.data or {}).get("status") == "enrolled"


def _suggested(raw: str) -> str | None:
    """A suggested time as sent back by the panel: an RFC 3339 moment, else nothing."""
    try:
        at = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return at.isoformat() if at is not None and at.tzinfo is not None else None


def _scheduled(raw: str, zone: str) -> tuple[str | None, bool]:
    """A `datetime-local` value in the person's time zone as RFC 3339; (None, bad)."""
    if not raw:
        return None, False
    try:
        local = datetime.fromisoformat(raw)
        tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    except (ValueError, ZoneInfoNotFoundError):
        return None, True
    return local.replace(tzinfo=tz).isoformat(), False


@router.get("/share/{content_id}")
async def share_panel(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    content_id: ContentId,
    network: str = "",
) -> Response:
    """The share panel of one item."""
    item, advocate, rules, offered = await _panel_data(services, session, content_id)
    if item.status == 404:
        return error_page(
            request,
            texts,
            session,
            404,
            texts.gettext("This item is not in your feed"),
            texts.gettext("It may have expired, or it is meant for another team."),
        )
    if advocate.status == 404 or (advocate.ok and not _enrolled(advocate)):
        return redirect(f"/join?next=/share/{content_id}")
    moments = await _best_times(services, session, advocate)
    return _render_panel(
        request, texts, session, item, advocate, rules, offered, network, "", {}, "", moments
    )


def _render_panel(
    request: Request,
    texts: Texts,
    session: Any,
    item: Reply,
    advocate: Reply,
    rules: Reply,
    offered: Reply,
    network: str,
    text: str,
    errors: dict[str, str],
    scheduled: str,
    moments: Reply | None = None,
    status: int = 200,
) -> Response:
    data = item.data or {}
    connected = (advocate.data or {}).get("networks") or {}
    offers = (offered.data or {}).get("networks") if offered.ok else None
    choices = networks.choices(
        connected, data.get("suggested_texts") or {}, data.get("title", ""), offers
    )
    chosen = networks.parse(network) or choices[0].network
    current = next(c for c in choices if c.network == chosen)
    return render(
        request,
        "share.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Share"),
        section="feed",
        item=item,
        advocate=advocate,
        choices=choices,
        chosen=current,
        # Colleagues get other wordings of this text: a nudge to make it personal.
        varied=any(c.variants > 1 for c in choices),
        text=text or current.text,
        errors=errors,
        scheduled=scheduled,
        suggestions=suggested_times(texts, moments, current.network.value) if moments else [],
        points=_share_points(rules),
    )


@router.post("/share/{content_id}")
async def share(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    content_id: ContentId,
) -> Response:
    """Create the share; the browser then opens the share sheet or the network's page."""
    wants_json = "application/json" in request.headers.get("accept", "")
    network = networks.parse(str(form.get("network", "")))
    text = str(form.get("text", ""))[:20_000]
    scheduled_raw = str(form.get("scheduled_at", ""))[:40]
    errors: dict[str, str] = {}
    if network is None:
        errors["network"] = texts.gettext("Choose a network.")
    elif networks.too_long(network, text):
        used, limit = networks.too_long(network, text) or (0, 0)
        errors["text"] = texts.gettext(
            "%(used)s characters: %(network)s takes at most %(limit)s.",
            used=texts.number(used),
            network=networks.LABELS[network],
            limit=texts.number(limit),
        )
    scheduled_at, bad_time = _scheduled(scheduled_raw, str(form.get("tz", ""))[:64])
    if bad_time:
        errors["scheduled_at"] = texts.gettext("Enter a date and time.")
    elif not scheduled_raw:
        # One of the suggested times, when no time of the person's own is given.
        scheduled_at = _suggested(str(form.get("suggested_at", ""))[:64])
    reply = None
    if not errors and network is not None:
        body: dict[str, Any] = {"content_id": content_id, "network": network.value}
        variant = networks.variant_of(form.get(f"variant_{network.value}"))
        if variant is not None:
            body["text_variant"] = variant
        if text.strip():
            body["text"] = text
        if scheduled_at:
            body["scheduled_at"] = scheduled_at
            body["method"] = "api"
        reply, errors = await post_share(services, session, texts, body, network)
    if errors or reply is None:
        if wants_json:
            return JSONResponse({"errors": errors}, status_code=422)
        item, advocate, rules, offered = await _panel_data(services, session, content_id)
        return _render_panel(
            request,
            texts,
            session,
            item,
            advocate,
            rules,
            offered,
            network.value if network else "",
            text,
            errors,
            scheduled_raw,
            await _best_times(services, session, advocate),
            status=422,
        )
    created = reply.data or {}
    done_url = f"/shared/{created.get('id')}"
    if wants_json:
        intent = created.get("intent") or {}
        return JSONResponse(
            {
                "id": created.get("id"),
                "tracked_url": created.get("tracked_url"),
                "intent_url": intent.get("url"),
                "copy_text": intent.get("copy_text") or created.get("text") or text,
                "text": created.get("text") or text,
                "status": created.get("status"),
                "done_url": done_url,
            },
            status_code=201,
        )
    return redirect(done_url)


@router.get("/shared/{share_id}")
async def shared(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    share_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
) -> Response:
    """After a share: the tracked link, the network's page, and the text to paste."""
    share_reply, rules = await asyncio.gather(
        services.backends.share.call("GET", f"/api/v1/shares/{share_id}", session.token),
        services.backends.rewards.call("GET", "/api/v1/rules", session.token),
    )
    if share_reply.status in (403, 404):
        return error_page(
            request,
            texts,
            session,
            404,
            texts.gettext("Page not found"),
            texts.gettext("The address may be mistyped, or the page has moved."),
        )
    data = share_reply.data or {}
    network = networks.parse(str(data.get("network", "")))
    return render(
        request,
        "shared.html",
        texts,
        session,
        title=texts.gettext("Shared"),
        section="feed",
        share=share_reply,
        data=data,
        intent=data.get("intent") or {},
        label=networks.LABELS.get(network, "") if network else "",
        link_only=network in networks.LINK_ONLY if network else False,
        points=_share_points(rules),
    )
