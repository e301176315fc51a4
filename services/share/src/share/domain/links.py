"""Tracked links: pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def tracked_url(public_base_url: str, code: str) -> str:
    return f"{public_base_url.rstrip('/')}/l/{code}"


def can_share(content: dict[str, Any] | None, now: datetime) -> str | None:
    """Why this content cannot be shared now, or None."""
    if content is None:
        return "content_id: no shareable content item with this id"
    expires_at = content.get("expires_at")
    if expires_at is not None and expires_at <= now:
        return "content_id: the content item has expired"
    return None
