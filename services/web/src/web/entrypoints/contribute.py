"""Contributing: writing my own post, and suggesting content to the program team."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from contracts.link_domains import link_host, on_domains
from contracts.texts import LIMITS
from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import networks
from web.entrypoints.common import (
    Form,
    Language,
    Person,
    Services,
    WebServices,
    redirect,
    render,
)
from web.entrypoints.join import is_member
from web.entrypoints.share import post_share
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
KINDS = ("article", "job", "event", "internal")
MAX_TITLE = 300
MAX_SUMMARY = 2000


def web_address(raw: str) -> bool:
    """Whether a typed address is a full http(s) address of a host."""
    parts = urlsplit(raw.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in raw.strip()


def own_post_errors(form: Mapping[str, Any], texts: Texts) -> dict[str, str]:
    """What is wrong with an own post as typed, by field."""
    errors: dict[str, str] = {}
    url = str(form.get("url", "")).strip()
    title = str(form.get("title", ""))
    text = str(form.get("text", ""))
    network = networks.parse(str(form.get("network", "")))
    if not web_address(url):
        errors["url"] = texts.gettext("Enter the full address of the page, starting with https://")
    if len(title) > MAX_TITLE:
        errors["title"] = texts.gettext("The title can be at most 300 characters.")
    if network is None:
        errors["network"] = texts.gettext("Choose a network.")
    elif too_long := networks.too_long(network, text):
        used, limit = too_long
        errors["text"] = texts.gettext(
            "%(used)s characters: %(network)s takes at most %(limit)s.",
            used=texts.number(used),
            network=networks.LABELS[network],
            limit=texts.number(limit),
        )
    return errors


def suggestion_errors(form: Mapping[str, Any], texts: Texts) -> dict[str, str]:
    """What is wrong with a suggestion as typed, by field."""
    errors: dict[str, str] = {}
    title = str(form.get("title", "")).strip()
    url = str(form.get("url", "")).strip()
    kind = str(form.get("kind", ""))
    if not title:
        errors["title"] = texts.gettext("Give your suggestion a title.")
    elif len(title) > MAX_TITLE:
        errors["title"] = texts.gettext("The title can be at most 300 characters.")
    if kind not in KINDS:
        errors["kind"] = texts.gettext("Choose what kind of content it is.")
    if url and not web_address(url):
        errors["url"] = texts.gettext("Enter the full address of the page, starting with https://")
    elif not url and kind in ("article", "job"):
        errors["url"] = texts.gettext(
            "Add the link: an article or a job needs the page it is about."
        )
    if len(str(form.get("summary", ""))) > MAX_SUMMARY:
        errors["summary"] = texts.gettext("The summary can be at most 2,000 characters.")
    return errors


def suggestion_problem(reply: Reply, texts: Texts) -> dict[str, str]:
    """The content service's refusal of a suggestion, by form field."""
    errors: dict[str, str] = {}
    for name in reply.field_errors():
        if name == "title":
            errors["title"] = texts.gettext("The title can be at most 300 characters.")
        elif name in ("url", "job.apply_url"):
            errors["url"] = texts.gettext(
                "Enter the full address of the page, starting with https://"
            )
        elif name == "summary":
            errors["summary"] = texts.gettext("The summary can be at most 2,000 characters.")
        elif name == "kind":
            errors["kind"] = texts.gettext("Choose what kind of content it is.")
    if not errors:
        errors["form"] = texts.gettext(
            "Your suggestion did not go through. Please try again in a minute."
        )
    return errors


def stop_page_domain(url: str, domains: Reply) -> str | None:
    """The site of a typed link whose short link will first show readers a page saying where
    it leads (off the company's link domains); None when it leads straight there, or when
    that cannot be told (no full address yet, or the list unavailable)."""
    url = url.strip()
    if not web_address(url) or not domains.ok:
        return None
    listed = (domains.data or {}).get("domains") or []
    if on_domains(url, listed):
        return None
    return link_host(url) or urlsplit(url).hostname or url


async def _link_domains(services: WebServices, session: Session) -> Reply:
    return await services.backends.share.call("GET", "/api/v1/settings/link-domains", session.token)


def _own_post(
    request: Request,
    texts: Texts,
    session: Session,
    advocate: Reply,
    values: Mapping[str, Any],
    errors: dict[str, str],
    domains: Reply,
    status: int = 200,
) -> Response:
    connected = (advocate.data or {}).get("networks") or {} if advocate.ok else {}
    order = networks.ordered(connected)
    chosen = networks.parse(str(values.get("network", ""))) or order[0]
    return render(
        request,
        "own_post.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Write your own post"),
        section="feed",
        choices=[
            {
                "value": n.value,
                "label": networks.LABELS[n],
                "limit": LIMITS[n],
                "mine": n.value in connected,
            }
            for n in order
        ],
        chosen=chosen.value,
        limit=LIMITS[chosen],
        leader=bool((advocate.data or {}).get("leader")) if advocate.ok else False,
        values={k: str(values.get(k, "")) for k in ("url", "title", "text", "draft_id")},
        errors=errors,
        stop_domain=stop_page_domain(str(values.get("url", "")), domains),
    )


@router.get("/share/own/link-note")
async def own_post_link_note(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    url: Annotated[str, Query(max_length=2000)] = "",
) -> Response:
    """The note beside the link field, as the person types (htmx swaps it in place)."""
    domain = stop_page_domain(url, await _link_domains(services, session))
    return render(request, "partials/link_note.html", texts, session, stop_domain=domain)


@router.get("/share/own")
async def own_post_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    draft: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")] = None,
) -> Response:
    """A post of my own: a link, a title, a network and my text; from a draft my buddy saw,
    filled in with it (and the draft is marked posted when I share)."""
    advocate, domains = await asyncio.gather(
        services.backends.share.call("GET", "/api/v1/advocates/me", session.token),
        _link_domains(services, session),
    )
    if advocate.status == 404 or (advocate.ok and not is_member(advocate)):
        back = f"/share/own?draft={draft}" if draft else "/share/own"
        return redirect(f"/join?next={quote(back, safe='')}", request)
    values: dict[str, Any] = {}
    if draft is not None:
        found = await services.backends.share.call(
            "GET", f"/api/v1/buddies/drafts/{draft}", session.token
        )
        data = found.data or {} if found.ok else {}
        if data.get("author_id") == session.employee_id and data.get("status") == "open":
            values = {
                "url": data.get("url") or "",
                "title": data.get("title") or "",
                "text": data.get("text") or "",
                "network": data.get("network") or "",
                "draft_id": draft,
            }
    return _own_post(request, texts, session, advocate, values, {}, domains)


@router.post("/share/own")
async def own_post(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Share it with a tracked link; then the same page as any share."""
    errors = own_post_errors(form, texts)
    reply = None
    network = networks.parse(str(form.get("network", "")))
    if not errors and network is not None:
        body: dict[str, Any] = {
            "url": str(form.get("url", "")).strip(),
            "network": network.value,
        }
        if title := str(form.get("title", "")).strip():
            body["title"] = title
        if text := str(form.get("text", "")).strip():
            body["text"] = text
        if draft_id := str(form.get("draft_id", "")).strip():
            body["draft_id"] = draft_id[:200]
        reply, errors = await post_share(services, session, texts, body, network)
    if errors or reply is None:
        advocate, domains = await asyncio.gather(
            services.backends.share.call("GET", "/api/v1/advocates/me", session.token),
            _link_domains(services, session),
        )
        return _own_post(request, texts, session, advocate, form, errors, domains, status=422)
    return redirect(f"/shared/{(reply.data or {}).get('id')}", request)


def _suggest(
    request: Request,
    texts: Texts,
    session: Session,
    values: Mapping[str, Any],
    errors: dict[str, str],
    thanks: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "suggest.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Suggest something to share"),
        section="feed",
        kinds=KINDS,
        values={k: str(values.get(k, "")) for k in ("title", "url", "summary", "kind")},
        errors=errors,
        thanks=thanks,
    )


@router.get("/suggest")
async def suggest_page(
    request: Request,
    session: Person,
    texts: Language,
    thanks: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """A suggestion to the program team: a title, a link, a line about it."""
    return _suggest(request, texts, session, {"kind": "article"}, {}, thanks=bool(thanks))


@router.post("/suggest")
async def suggest(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    errors = suggestion_errors(form, texts)
    if not errors:
        body: dict[str, Any] = {
            "title": str(form.get("title", "")).strip(),
            "kind": str(form.get("kind", "")),
        }
        if url := str(form.get("url", "")).strip():
            body["url"] = url
        if summary := str(form.get("summary", "")).strip():
            body["summary"] = summary
        reply = await services.backends.content.call(
            "POST", "/api/v1/content", session.token, json=body
        )
        if reply.ok:
            return redirect("/suggest?thanks=1", request)
        if reply.unavailable:
            errors["form"] = texts.gettext(
                "Suggestions are unavailable right now. Nothing was sent: "
                "please try again in a minute."
            )
        else:
            errors = suggestion_problem(reply, texts)
    return _suggest(request, texts, session, form, errors, status=422)
