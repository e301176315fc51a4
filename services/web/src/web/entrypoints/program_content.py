"""The program team's content: the composer, the review queue, the calendar, the guidelines.

Curators compose items from a link (its preview fills the fields), write a suggested text
per network, choose an audience and when the item goes live; the queue moves items through
the content service's workflow. Admins publish new versions of the guidelines and see who
accepted which.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from chassis.limits import body_limit
from contracts.events import Network
from contracts.texts import LIMITS
from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import networks
from web.domain.times import parse_time
from web.entrypoints.common import (
    Form,
    Language,
    Services,
    WebServices,
    error_page,
    redirect,
    render,
)
from web.entrypoints.contribute import web_address
from web.entrypoints.feed import card
from web.entrypoints.program import Admin, Curator
from web.i18n import Texts

# A form of an item or the guidelines at their limits, percent-encoded (up to 9 bytes a
# character), is well past the default 64 KiB.
FORM_BODY_BYTES = 4 * 1024 * 1024

router = APIRouter(include_in_schema=False)
ContentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
KINDS = ("article", "job", "event", "internal")
# The networks a curator writes a suggested text for; others fall back to the title.
TEXT_NETWORKS = (Network.LINKEDIN, Network.X, Network.FACEBOOK)
# Other versions of each network's text (2 to 5): colleagues are offered them in turn, so
# that fewer of them post the same words. The first version is the suggested text.
VERSIONS = range(2, 6)
WHEN = ("now", "schedule", "review", "draft")
ACTIONS = ("submit", "approve", "reject", "withdraw", "archive")
FIELDS = (
    "url",
    "title",
    "summary",
    "image_url",
    "kind",
    "job_location",
    "job_department",
    "job_apply_url",
    "event_starts_at",
    "event_venue",
    "event_online_url",
    "topics",
    "campaign",
    "groups",
    "locations",
    "languages",
    "when",
    "publish_at",
    "expires_at",
    "tz",
    *(f"text_{n.value}" for n in TEXT_NETWORKS),
    *(f"text_{n.value}_{v}" for n in TEXT_NETWORKS for v in VERSIONS),
)
# The content service's field names, as the composer's.
SERVICE_FIELDS = {
    "title": "title",
    "url": "url",
    "image_url": "image_url",
    "summary": "summary",
    "kind": "kind",
    "topics": "topics",
    "campaign_id": "campaign",
    "publish_at": "publish_at",
    "expires_at": "expires_at",
    "job.location": "job_location",
    "job.department": "job_department",
    "job.apply_url": "job_apply_url",
    "event.starts_at": "event_starts_at",
    "event.venue": "event_venue",
    "event.online_url": "event_online_url",
    "audience.groups": "groups",
    "audience.locations": "locations",
    "audience.languages": "languages",
}


def _split(raw: str) -> list[str]:
    return sorted({v.strip() for v in raw.split(",") if v.strip()})


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_time(raw: str, zone: str) -> tuple[str | None, bool]:
    """A `datetime-local` value in the form's time zone as RFC 3339; (None, bad)."""
    if not raw:
        return None, False
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return None, True
    return local.replace(tzinfo=_zone(zone)).isoformat(), False


def _input_time(value: Any, zone: str = "UTC") -> str:
    """A service's time as a `datetime-local` value in the form's time zone."""
    parsed = parse_time(value)
    return parsed.astimezone(_zone(zone)).strftime("%Y-%m-%dT%H:%M") if parsed else ""


def values_of(item: Mapping[str, Any]) -> dict[str, str]:
    """An item of the content service as the composer's fields (times in UTC)."""
    job = item.get("job") or {}
    event = item.get("event") or {}
    audience = item.get("audience") or {}
    texts = item.get("suggested_texts") or {}
    status = item.get("status")
    values = {
        "url": item.get("url") or "",
        "title": item.get("title") or "",
        "summary": item.get("summary") or "",
        "image_url": item.get("image_url") or "",
        "kind": item.get("kind") or "article",
        "job_location": job.get("location") or "",
        "job_department": job.get("department") or "",
        "job_apply_url": job.get("apply_url") or "",
        "event_starts_at": _input_time(event.get("starts_at")),
        "event_venue": event.get("venue") or "",
        "event_online_url": event.get("online_url") or "",
        "topics": ", ".join(item.get("topics") or []),
        "campaign": item.get("campaign_id") or "",
        "groups": ", ".join(g for g in audience.get("groups") or [] if g != "*"),
        "locations": ", ".join(g for g in audience.get("locations") or [] if g != "*"),
        "languages": ", ".join(g for g in audience.get("languages") or [] if g != "*"),
        "when": "schedule" if status == "scheduled" else "draft",
        "publish_at": _input_time(item.get("publish_at")),
        "expires_at": _input_time(item.get("expires_at")),
        "tz": "UTC",
    }
    variants = item.get("text_variants") or {}
    for n in TEXT_NETWORKS:
        values[f"text_{n.value}"] = texts.get(n.value) or ""
        others = list(variants.get(n.value) or [])
        for v in VERSIONS:
            values[f"text_{n.value}_{v}"] = others[v - 2] if v - 2 < len(others) else ""
    return values


def version_fields(values: Mapping[str, str], network: Network) -> list[str]:
    """The fields of a network's versions that hold a text, first version first."""
    names = [f"text_{network.value}", *(f"text_{network.value}_{v}" for v in VERSIONS)]
    return [name for name in names if values.get(name, "").strip()]


def composer_errors(values: Mapping[str, str], texts: Texts) -> dict[str, str]:
    """What is wrong with an item as typed, by field."""
    errors: dict[str, str] = {}
    title = values["title"].strip()
    if not title:
        errors["title"] = texts.gettext("Give the item a title.")
    elif len(title) > 300:
        errors["title"] = texts.gettext("The title can be at most 300 characters.")
    if values["kind"] not in KINDS:
        errors["kind"] = texts.gettext("Choose what kind of content it is.")
    for name in ("url", "image_url", "job_apply_url", "event_online_url"):
        if values[name].strip() and not web_address(values[name]):
            errors[name] = texts.gettext(
                "Enter the full address of the page, starting with https://"
            )
    if len(values["summary"]) > 2000:
        errors["summary"] = texts.gettext("The summary can be at most 2,000 characters.")
    texts_typed = [(n, name) for n in TEXT_NETWORKS for name in version_fields(values, n)]
    for n, name in texts_typed:
        if too_long := networks.too_long(n, values[name]):
            used, limit = too_long
            errors[name] = texts.gettext(
                "%(used)s characters: %(network)s takes at most %(limit)s.",
                used=texts.number(used),
                network=networks.LABELS[n],
                limit=texts.number(limit),
            )
    for name in ("publish_at", "expires_at", "event_starts_at"):
        if _local_time(values[name], values["tz"])[1]:
            errors[name] = texts.gettext("Enter a date and time.")
    if values["when"] not in WHEN:
        errors["when"] = texts.gettext("Choose when the item goes live.")
    elif values["when"] == "schedule" and not values["publish_at"]:
        errors["publish_at"] = texts.gettext("Choose when to publish it.")
    return errors


def _text_field(name: str, values: Mapping[str, str]) -> tuple[Network, str] | None:
    """The composer's field of a service's `suggested_texts.<network>` or
    `text_variants.<network>.<position>` (the versions are sent without the blank ones)."""
    parts = name.split(".")
    network = networks.parse(parts[1]) if len(parts) > 1 else None
    if network is None or network not in TEXT_NETWORKS:
        return None
    filled = version_fields(values, network) or [f"text_{network.value}"]
    position = 0
    if parts[0] == "text_variants":
        position = int(parts[2]) + 1 if len(parts) > 2 and parts[2].isdigit() else 1
    return network, filled[min(position, len(filled) - 1)]


def service_errors(
    reply: Reply, texts: Texts, values: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The content service's refusal of an item, by the composer's fields."""
    errors: dict[str, str] = {}
    for name in reply.field_errors():
        field = SERVICE_FIELDS.get(name) or SERVICE_FIELDS.get(name.split(".")[0])
        if name.startswith(("suggested_texts.", "text_variants.")):
            if found := _text_field(name, values or {}):
                network, text_field = found
                errors[text_field] = texts.gettext(
                    "This text is too long for %(network)s.", network=networks.LABELS[network]
                )
            continue
        if field in ("publish_at", "expires_at", "event_starts_at"):
            errors[field] = texts.gettext("Choose a time in the future, before the expiry.")
        elif field in ("url", "image_url", "job_apply_url", "event_online_url"):
            errors[field] = texts.gettext(
                "Enter the full address of the page, starting with https://"
            )
        elif field == "title":
            errors[field] = texts.gettext("The title can be at most 300 characters.")
        elif field == "summary":
            errors[field] = texts.gettext("The summary can be at most 2,000 characters.")
        elif field is not None:
            errors[field] = texts.gettext("Check this value.")
    if not errors:
        errors["form"] = texts.gettext("The item was not saved. Please try again in a minute.")
    return errors


def body_of(values: Mapping[str, str], *, patch: bool) -> dict[str, Any]:
    """The content service's item from the composer's fields (a patch clears what is empty)."""
    tz = values["tz"]
    kind = values["kind"]

    def optional(value: str) -> str | None:
        return value.strip() or None

    body: dict[str, Any] = {
        "title": values["title"].strip(),
        "kind": kind,
        "summary": values["summary"].strip(),
        "url": optional(values["url"]),
        "image_url": optional(values["image_url"]),
        "topics": [t.lstrip("#") for t in _split(values["topics"])],
        "campaign_id": optional(values["campaign"]),
        # The first version written is the suggested text, the others its variants.
        "suggested_texts": {
            n.value: values[version_fields(values, n)[0]].strip()
            for n in TEXT_NETWORKS
            if version_fields(values, n)
        },
        "text_variants": {
            n.value: [values[name].strip() for name in version_fields(values, n)[1:]]
            for n in TEXT_NETWORKS
            if len(version_fields(values, n)) > 1
        },
        "audience": {
            "groups": _split(values["groups"]),
            "locations": _split(values["locations"]),
            "languages": _split(values["languages"]),
        },
        "publish_at": _local_time(values["publish_at"], tz)[0]
        if values["when"] in ("schedule", "review", "draft")
        else None,
        "expires_at": _local_time(values["expires_at"], tz)[0],
        "job": None,
        "event": None,
    }
    if kind == "job":
        job = {
            "location": optional(values["job_location"]),
            "department": optional(values["job_department"]),
            "apply_url": optional(values["job_apply_url"]),
        }
        body["job"] = {k: v for k, v in job.items() if v} or None
    if kind == "event":
        event = {
            "starts_at": _local_time(values["event_starts_at"], tz)[0],
            "venue": optional(values["event_venue"]),
            "online_url": optional(values["event_online_url"]),
        }
        body["event"] = {k: v for k, v in event.items() if v} or None
    if not patch:
        body = {k: v for k, v in body.items() if v not in (None, "", [], {})}
        body["draft"] = values["when"] in ("review", "draft")
    return body


def preview_card(values: Mapping[str, str], key: str) -> dict[str, Any]:
    """The item as an employee's card would show it."""
    tz = values["tz"]
    item = {
        "id": f"preview-{key}",
        "title": values["title"] or "…",
        "summary": values["summary"],
        "image_url": values["image_url"] if web_address(values["image_url"]) else "",
        "kind": values["kind"] if values["kind"] in KINDS else "article",
        "url": values["url"] if web_address(values["url"]) else "",
        "publish_at": _local_time(values["publish_at"], tz)[0]
        if values["when"] == "schedule"
        else None,
        "job": {"location": values["job_location"], "department": values["job_department"]},
        "event": {
            "starts_at": _local_time(values["event_starts_at"], tz)[0],
            "venue": values["event_venue"],
        },
    }
    return card(item, None)


async def audience_reply(
    services: WebServices, session: Session, values: Mapping[str, str]
) -> Reply:
    return await services.backends.share.call(
        "GET",
        "/api/v1/audience/count",
        session.token,
        params={
            "groups": ",".join(_split(values.get("groups", ""))),
            "locations": ",".join(_split(values.get("locations", ""))),
            "languages": ",".join(_split(values.get("languages", ""))),
        },
    )


def _form_values(form: Mapping[str, Any]) -> dict[str, str]:
    values = {name: str(form.get(name, ""))[:20_000] for name in FIELDS}
    values["kind"] = values["kind"] or "article"
    values["when"] = values["when"] or "draft"
    return values


async def _composer(
    request: Request,
    services: WebServices,
    texts: Texts,
    session: Session,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    item: Mapping[str, Any] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    audience = await audience_reply(services, session, values)
    editing = item is not None
    return render(
        request,
        "program/composer.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Edit the item") if editing else texts.gettext("New item"),
        section="program",
        program_section="content",
        content_tab="edit" if editing else "new",
        action=f"/program/content/{item['id']}/edit" if item else "/program/content/new",
        item=item or {},
        values=values,
        errors=errors,
        notice=notice,
        kinds=KINDS,
        text_networks=[
            {"value": n.value, "label": networks.LABELS[n], "limit": LIMITS[n]}
            for n in TEXT_NETWORKS
        ],
        versions=VERSIONS,
        audience=audience,
        cards={"phone": preview_card(values, "phone"), "desktop": preview_card(values, "desktop")},
    )


async def _fetch_preview(
    services: WebServices, session: Session, texts: Texts, values: dict[str, str]
) -> tuple[dict[str, str], str]:
    """The link's title, description and image in the fields still empty; errors by field."""
    url = values["url"].strip()
    if not web_address(url):
        return {
            "url": texts.gettext("Enter the full address of the page, starting with https://")
        }, ""
    reply = await services.backends.content.call(
        "POST", "/api/v1/previews", session.token, json={"url": url}
    )
    if reply.unavailable:
        return {
            "url": texts.gettext(
                "The preview is unavailable right now. Fill in the fields yourself, "
                "or try again in a minute."
            )
        }, ""
    if not reply.ok:
        return {
            "url": texts.gettext(
                "This page gave no preview. Check the address, or fill in the fields yourself."
            )
        }, ""
    found = reply.data or {}
    for field, key in (("title", "title"), ("summary", "description"), ("image_url", "image_url")):
        if not values[field].strip() and found.get(key):
            values[field] = str(found[key])
    return {}, texts.gettext("The preview filled the empty fields. Check and edit them.")


def _after_save(saved: Mapping[str, Any], texts: Texts) -> str:
    return f"/program/content?done={saved.get('status', '')}"


@router.get("/program/content/new")
async def composer_page(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    url: Annotated[str, Query(max_length=2000)] = "",
    topics: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """An empty composer, or one for a link or on given topics."""
    values = _form_values({"url": url, "topics": topics})
    return await _composer(request, services, texts, session, values, {})


@router.post("/program/content/new")
@body_limit(FORM_BODY_BYTES)
async def compose(
    request: Request, services: Services, session: Curator, texts: Language, form: Form
) -> Response:
    """Fetch the link's preview, or create the item: live now, scheduled, for review or draft."""
    values = _form_values(form)
    if form.get("do") == "preview":
        errors, notice = await _fetch_preview(services, session, texts, values)
        return await _composer(
            request,
            services,
            texts,
            session,
            values,
            errors,
            notice=notice,
            status=422 if errors else 200,
        )
    errors = composer_errors(values, texts)
    if not errors:
        reply = await services.backends.content.call(
            "POST", "/api/v1/content", session.token, json=body_of(values, patch=False)
        )
        if reply.ok:
            saved = reply.data or {}
            if values["when"] == "review":
                moved = await _transition(services, session, str(saved.get("id")), "submit", "")
                saved = moved.data or saved
            return redirect(_after_save(saved, texts), request)
        errors = _unavailable(texts) if reply.unavailable else service_errors(reply, texts, values)
    return await _composer(request, services, texts, session, values, errors, status=422)


def _unavailable(texts: Texts) -> dict[str, str]:
    return {
        "form": texts.gettext(
            "The content service is unavailable right now. Nothing was saved: "
            "please try again in a minute."
        )
    }


async def _item(
    request: Request, services: WebServices, session: Session, texts: Texts, content_id: str
) -> tuple[Reply, Response | None]:
    reply = await services.backends.content.call(
        "GET", f"/api/v1/content/{content_id}", session.token
    )
    if reply.status == 404:
        return reply, error_page(
            request,
            texts,
            session,
            404,
            texts.gettext("Page not found"),
            texts.gettext("The address may be mistyped, or the page has moved."),
        )
    if not reply.ok:
        return reply, error_page(
            request,
            texts,
            session,
            503,
            texts.gettext("The content service is unavailable right now."),
            texts.gettext("Nothing is lost: try again in a minute."),
        )
    return reply, None


@router.get("/program/content/{content_id}/edit")
async def edit_page(
    request: Request, services: Services, session: Curator, texts: Language, content_id: ContentId
) -> Response:
    """The composer with an item's fields."""
    reply, problem = await _item(request, services, session, texts, content_id)
    if problem is not None:
        return problem
    item = reply.data or {}
    return await _composer(request, services, texts, session, values_of(item), {}, item=item)


@router.post("/program/content/{content_id}/edit")
@body_limit(FORM_BODY_BYTES)
async def edit(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    form: Form,
    content_id: ContentId,
) -> Response:
    """Save the changes; a draft or an item in review can also go live, or be sent for review."""
    reply, problem = await _item(request, services, session, texts, content_id)
    if problem is not None:
        return problem
    item = reply.data or {}
    values = _form_values(form)
    if form.get("do") == "preview":
        errors, notice = await _fetch_preview(services, session, texts, values)
        return await _composer(
            request,
            services,
            texts,
            session,
            values,
            errors,
            item=item,
            notice=notice,
            status=422 if errors else 200,
        )
    errors = composer_errors(values, texts)
    if not errors:
        saved = await services.backends.content.call(
            "PATCH",
            f"/api/v1/content/{content_id}",
            session.token,
            json=body_of(values, patch=True),
        )
        if saved.ok:
            status = (saved.data or {}).get("status")
            step = ""
            if status in ("draft", "in_review") and values["when"] in ("now", "schedule"):
                step = "approve"
            elif status == "draft" and values["when"] == "review":
                step = "submit"
            result = saved
            if step:
                result = await _transition(services, session, content_id, step, "")
            if result.ok:
                return redirect(_after_save(result.data or {}, texts), request)
            errors = _transition_errors(result, texts, content_id)
        else:
            errors = (
                _unavailable(texts) if saved.unavailable else service_errors(saved, texts, values)
            )
    return await _composer(request, services, texts, session, values, errors, item=item, status=422)


async def _transition(
    services: WebServices, session: Session, content_id: str, action: str, comment: str
) -> Reply:
    body: dict[str, Any] = {"action": action}
    if comment.strip():
        body["comment"] = comment.strip()
    return await services.backends.content.call(
        "POST", f"/api/v1/content/{content_id}/transitions", session.token, json=body
    )


def _transition_errors(reply: Reply, texts: Texts, content_id: str) -> dict[str, str]:
    if reply.unavailable:
        return _unavailable(texts)
    if "comment" in reply.field_errors():
        return {
            f"comment-{content_id}": texts.gettext("The comment can be at most 2,000 characters.")
        }
    if reply.status == 409:
        detail = str(reply.problem.get("detail") or "")
        if "publish" in detail or "expir" in detail:
            return {
                "form": texts.gettext(
                    "The publish time has passed or comes after the expiry. Edit the times first."
                )
            }
        return {
            "form": texts.gettext(
                "This item has moved on meanwhile. Here is the queue as it is now."
            )
        }
    if reply.status == 403:
        return {"form": texts.gettext("Only the program team can do that.")}
    return {"form": texts.gettext("That did not go through. Please try again in a minute.")}


# -- the queue -----------------------------------------------------------------------------


def _row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "created": parse_time(item.get("created_at")),
        "publishes": parse_time(item.get("publish_at")),
        "expires": parse_time(item.get("expires_at")),
    }


async def _queue(
    request: Request,
    services: WebServices,
    texts: Texts,
    session: Session,
    errors: dict[str, str],
    done: str = "",
    status: int = 200,
) -> Response:
    content = services.backends.content
    drafts, review, scheduled, published = await asyncio.gather(
        *(
            content.call("GET", "/api/v1/content", session.token, params={"status": s, "limit": 50})
            for s in ("draft", "in_review", "scheduled", "published")
        )
    )

    def rows(reply: Reply) -> list[dict[str, Any]]:
        return [_row(i) for i in (reply.data or {}).get("items", [])]

    waiting = rows(drafts) + rows(review)
    parts = [
        (
            "review",
            texts.gettext("In review"),
            review,
            [i for i in rows(review) if not i.get("suggestion")],
        ),
        (
            "suggestions",
            texts.gettext("Employees' suggestions"),
            review,
            [i for i in waiting if i.get("suggestion")],
        ),
        (
            "drafts",
            texts.gettext("Drafts"),
            drafts,
            [i for i in rows(drafts) if not i.get("suggestion")],
        ),
        ("scheduled", texts.gettext("Scheduled"), scheduled, rows(scheduled)),
        ("published", texts.gettext("Published"), published, rows(published)),
    ]
    return render(
        request,
        "program/queue.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Content queue"),
        section="program",
        program_section="content",
        content_tab="queue",
        queue_parts=parts,
        unavailable=any(r.unavailable for r in (drafts, review, scheduled, published)),
        errors=errors,
        done=done,
    )


@router.get("/program/content")
async def queue_page(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Drafts, items in review, employees' suggestions, what is scheduled and what is live."""
    return await _queue(request, services, texts, session, {}, done)


@router.post("/program/content/{content_id}/transitions")
async def move(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    form: Form,
    content_id: ContentId,
) -> Response:
    """Submit, approve, reject (with a comment for the author), withdraw or archive."""
    action = str(form.get("action", ""))
    comment = str(form.get("comment", ""))[:5000]
    if action not in ACTIONS:
        return await _queue(
            request,
            services,
            texts,
            session,
            {"form": texts.gettext("Choose an action.")},
            status=422,
        )
    if len(comment.strip()) > 2000:
        errors = {
            f"comment-{content_id}": texts.gettext("The comment can be at most 2,000 characters.")
        }
        return await _queue(request, services, texts, session, errors, status=422)
    reply = await _transition(services, session, content_id, action, comment)
    if reply.ok:
        return redirect(f"/program/content?done={action}", request)
    errors = _transition_errors(reply, texts, content_id)
    return await _queue(request, services, texts, session, errors, status=422)


@router.get("/program/content/audience")
async def audience_count(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    groups: Annotated[str, Query(max_length=5000)] = "",
    locations: Annotated[str, Query(max_length=5000)] = "",
    languages: Annotated[str, Query(max_length=5000)] = "",
) -> Response:
    """The audience's reach as the composer shows it, for htmx as the fields change."""
    values = {"groups": groups, "locations": locations, "languages": languages}
    audience = await audience_reply(services, session, values)
    return render(request, "program/audience_count.html", texts, session, audience=audience)


# -- the calendar --------------------------------------------------------------------------


@router.get("/program/content/calendar")
async def calendar_page(
    request: Request, services: Services, session: Curator, texts: Language
) -> Response:
    """What publishes and what expires, day by day."""
    content = services.backends.content
    scheduled, published = await asyncio.gather(
        *(
            content.call(
                "GET", "/api/v1/content", session.token, params={"status": s, "limit": 200}
            )
            for s in ("scheduled", "published")
        )
    )
    now = datetime.now(UTC)
    entries: list[tuple[datetime, str, dict[str, Any]]] = []
    for reply in (scheduled, published):
        for item in (reply.data or {}).get("items", []):
            publishes = parse_time(item.get("publish_at"))
            expires = parse_time(item.get("expires_at"))
            if item.get("status") == "scheduled" and publishes:
                entries.append((publishes, "publishes", item))
            if expires and expires >= now:
                entries.append((expires, "expires", item))
    entries.sort(key=lambda e: (e[0], e[1]))
    days: dict[date, list[dict[str, Any]]] = {}
    for at, what, item in entries:
        days.setdefault(at.date(), []).append({"at": at, "what": what, "item": item})
    return render(
        request,
        "program/calendar.html",
        texts,
        session,
        title=texts.gettext("Content calendar"),
        section="program",
        program_section="content",
        content_tab="calendar",
        days=sorted(days.items()),
        unavailable=scheduled.unavailable or published.unavailable,
    )


# -- the guidelines ------------------------------------------------------------------------


async def _guidelines(
    request: Request,
    services: WebServices,
    texts: Texts,
    session: Session,
    values: Mapping[str, Any],
    errors: dict[str, str],
    *,
    published: int | None = None,
    version: int | None = None,
    cursor: str | None = None,
    status: int = 200,
) -> Response:
    content = services.backends.content
    versions = await content.call("GET", "/api/v1/guidelines", session.token, params={"limit": 20})
    items = (versions.data or {}).get("items", [])

    async def accepted(v: int) -> Reply:
        return await content.call(
            "GET",
            f"/api/v1/guidelines/{v}/acknowledgements",
            session.token,
            params={"limit": 100, "cursor": cursor if v == version else None},
        )

    acks = await asyncio.gather(*(accepted(int(i["version"])) for i in items))
    rows = []
    for item, ack in zip(items, acks, strict=True):
        following = (ack.data or {}).get("next_cursor")
        rows.append(
            {
                **item,
                "published": parse_time(item.get("published_at")),
                "acks": ack,
                "people": [
                    {**a, "at": parse_time(a.get("acknowledged_at"))}
                    for a in (ack.data or {}).get("items", [])
                ],
                "more": "/program/guidelines?"
                + urlencode({"version": item["version"], "cursor": following})
                + f"#version-{item['version']}"
                if following
                else None,
                "paged": version == item["version"] and cursor is not None,
            }
        )
    return render(
        request,
        "program/guidelines.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Guidelines"),
        section="program",
        program_section="content",
        content_tab="guidelines",
        versions=versions,
        rows=rows,
        values={
            "title": str(values.get("title", "")),
            "body": str(values.get("body", "")),
            "required": bool(values.get("required")),
        },
        errors=errors,
        published=published,
    )


@router.get("/program/guidelines")
async def guidelines_page(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    published: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """Write a new version; every version, and who accepted it."""
    return await _guidelines(
        request,
        services,
        texts,
        session,
        {"required": True},
        {},
        published=published,
        version=version,
        cursor=cursor,
    )


@router.post("/program/guidelines")
@body_limit(FORM_BODY_BYTES)
async def publish_guidelines(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Publish a new version of the guidelines."""
    title = str(form.get("title", "")).strip()
    body = str(form.get("body", "")).strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = texts.gettext("Give the guidelines a title.")
    elif len(title) > 300:
        errors["title"] = texts.gettext("The title can be at most 300 characters.")
    if not body:
        errors["body"] = texts.gettext("Write the guidelines.")
    elif len(body) > 100_000:
        errors["body"] = texts.gettext("The guidelines can be at most 100,000 characters.")
    if not errors:
        reply = await services.backends.content.call(
            "POST",
            "/api/v1/guidelines",
            session.token,
            json={
                "title": title,
                "body": body,
                "acknowledgement_required": bool(form.get("required")),
            },
        )
        if reply.ok:
            return redirect(
                f"/program/guidelines?published={(reply.data or {}).get('version')}", request
            )
        errors = (
            _unavailable(texts)
            if reply.unavailable
            else {"form": texts.gettext("The guidelines were not published. Please try again.")}
        )
    return await _guidelines(request, services, texts, session, form, errors, status=422)
