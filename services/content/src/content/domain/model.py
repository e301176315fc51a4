"""Content items: pure rules, no I/O."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    EXPIRED = "expired"
    ARCHIVED = "archived"


def initial_status(publish_at: datetime, now: datetime) -> Status:
    """A curator's item goes live now, or waits for its publish time."""
    return Status.PUBLISHED if publish_at <= now else Status.SCHEDULED


def check_window(publish_at: datetime, expires_at: datetime | None) -> str | None:
    """Why the publication window is invalid, or None."""
    if expires_at is not None and expires_at <= publish_at:
        return "expires_at: must be after publish_at"
    return None
