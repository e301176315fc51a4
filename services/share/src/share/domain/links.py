"""Tracked links, share-intent URLs and what may be shared: pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from contracts.audience import Viewer, admits
from share.domain.content import ContentItem

UTM_MEDIUM = "employee_advocacy"
# Short codes are base62; anything else in the path is not ours.
SHORT_CODE = re.compile(r"^[A-Za-z0-9]{4,32}$")


def short_link(public_base_url: str, code: str) -> str:
    """The public short link of a share: `<base>/l/<code>`."""
    return f"{public_base_url.rstrip('/')}/l/{code}"


def campaign_of(campaign_id: str | None, content_id: str | None) -> str:
    """utm_campaign: the content's campaign, else the item itself, else an own post."""
    if campaign_id:
        return campaign_id
    return f"content-{content_id}" if content_id else "own-post"


def with_utm(url: str, *, network: str, campaign: str, share_id: str) -> str:
    """`url` with the advocacy UTM parameters, replacing any it already carried."""
    parts = urlsplit(url)
    utm = {
        "utm_source": network,
        "utm_medium": UTM_MEDIUM,
        "utm_campaign": campaign,
        "utm_content": share_id,
    }
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in utm]
    return urlunsplit(parts._replace(query=urlencode([*kept, *utm.items()])))


def _q(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True)
class Intent:
    """What the client opens (or, for Instagram, copies) to post a share."""

    url: str | None
    copy_text: str | None = None
    image_url: str | None = None


def share_intent(
    network: str, *, link: str, text: str, title: str = "", image_url: str | None = None
) -> Intent:
    """The network's share-intent URL for `link`, prefilled with `text` where it takes one."""
    if network == "linkedin":
        return Intent(f"https://www.linkedin.com/sharing/share-offsite/?url={_q(link)}")
    if network == "x":
        return Intent(f"https://x.com/intent/tweet?text={_q(text)}&url={_q(link)}")
    if network == "facebook":
        return Intent(f"https://www.facebook.com/sharer/sharer.php?u={_q(link)}")
    if network == "xing":
        return Intent(f"https://www.xing.com/spi/shares/new?url={_q(link)}")
    if network == "whatsapp":
        message = f"{text} {link}" if text else link
        return Intent(f"https://wa.me/?text={_q(message)}")
    if network == "email":
        body = f"{text}\n\n{link}" if text else link
        return Intent(f"mailto:?subject={_q(title)}&body={_q(body)}")
    if network == "instagram":
        # Instagram has no web share intent: the app copies the text and the image.
        caption = f"{text}\n\n{link}" if text else link
        return Intent(None, copy_text=caption, image_url=image_url)
    raise ValueError(f"no share intent for network {network!r}")


def targeted(audience: dict[str, Any], viewer: Viewer) -> bool:
    """Whether `viewer` is in an item's `audience` (content's ContentPublished form), by the
    one targeting rule (`contracts.audience`)."""
    return admits(
        viewer,
        audience.get("groups") or [],
        audience.get("locations") or [],
        audience.get("languages") or [],
    )


@dataclass(frozen=True)
class Refusal:
    """Why something cannot be shared: `unknown`, `not_targeted` or `unavailable`."""

    kind: str
    reason: str


def cannot_share(content: ContentItem | None, viewer: Viewer, now: datetime) -> Refusal | None:
    """Why this content cannot be shared by `viewer` now, or None."""
    if content is None:
        return Refusal("unknown", "content_id: no shareable content item with this id")
    if content.retired_at is not None:
        return Refusal("unavailable", "content_id: the content item has been retired")
    if content.publish_at is not None and content.publish_at > now:
        return Refusal("unavailable", "content_id: the content item is not published yet")
    if content.expires_at is not None and content.expires_at <= now:
        return Refusal("unavailable", "content_id: the content item has expired")
    if not content.audience.admits(viewer):
        return Refusal("not_targeted", "content_id: the content item is not targeted to you")
    if not content.url:
        return Refusal("unavailable", "content_id: the content item has no link to share")
    return None
