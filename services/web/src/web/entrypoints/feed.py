"""The feed: what I can share now, newest and most relevant first."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from web.adapters.sessions import Session
from web.domain.times import parse_time
from web.entrypoints.buddy import buddy_notice
from web.entrypoints.common import Language, Person, Services, WebServices, redirect, render

router = APIRouter(include_in_schema=False)
KINDS = ("job", "event", "article", "internal")
PAGE = 12


def card(item: dict[str, Any], last_visit: datetime | None) -> dict[str, Any]:
    """What a card shows of an item."""
    published = parse_time(item.get("published_at") or item.get("publish_at"))
    url = item.get("url") or ""
    return {
        **item,
        "published": published,
        "source": urlsplit(url).hostname or "" if url else "",
        "starts": parse_time((item.get("event") or {}).get("starts_at")),
        "new": bool(last_visit and published and published > last_visit),
    }


async def _onboarding(
    services: WebServices, session: Session, first_page: bool
) -> dict[str, int] | None:
    """My progress on the onboarding path, for a quiet pointer to it above the first page
    while I have steps left; None when there is nothing to say (or it did not answer)."""
    if not first_page:
        return None
    reply = await services.backends.content.call("GET", "/api/v1/onboarding", session.token)
    data = reply.data or {} if reply.ok else {}
    done, total = int(data.get("done") or 0), int(data.get("total") or 0)
    if not total or done >= total:
        return None
    return {"done": done, "total": total}


@router.get("/")
async def home(session: Person) -> Response:
    return redirect("/feed")


@router.get("/feed")
async def feed_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    topic: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Cards of the items I can share, with filters and paging."""
    kind = kind if kind in KINDS else None
    backends = services.backends
    # Whether my buddy shared since I last looked, asked beside the feed's own calls.
    buddy = asyncio.ensure_future(buddy_notice(services, session)) if cursor is None else None
    feed, advocate, onboarding = await asyncio.gather(
        backends.content.call(
            "GET",
            "/api/v1/feed",
            session.token,
            params={"topic": topic, "kind": kind, "cursor": cursor, "limit": PAGE},
        ),
        backends.share.call("GET", "/api/v1/advocates/me", session.token),
        _onboarding(services, session, first_page=cursor is None),
    )
    notice = await buddy if buddy is not None else None
    items = [card(i, session.last_visit) for i in (feed.data or {}).get("items", [])]
    following = (feed.data or {}).get("next_cursor")
    more = None
    if following:
        more = "/feed?" + urlencode(
            {k: v for k, v in (("topic", topic), ("kind", kind), ("cursor", following)) if v}
        )
    enrolled = advocate.ok and (advocate.data or {}).get("status") == "enrolled"
    topics = sorted(
        {t for i in items for t in i.get("topics") or []} | ({topic} if topic else set())
    )
    context: dict[str, Any] = dict(
        title=texts.gettext("Feed"),
        section="feed",
        feed=feed,
        items=items,
        more=more,
        topic=topic,
        kind=kind,
        kinds=KINDS,
        topics=topics,
        advocate=advocate,
        enrolled=enrolled,
        first_page=cursor is None,
        buddy_notice=notice,
        onboarding=onboarding,
    )
    if request.headers.get("hx-request") == "true" and cursor:
        return render(request, "partials/feed_items.html", texts, session, **context)
    return render(request, "feed.html", texts, session, **context)
