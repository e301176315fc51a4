"""What share knows of the content it shares: a copy of each item, and the guidelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from contracts import ContentKind
from contracts.audience import Audience

# An item published without an audience is for everyone.
EVERYONE = Audience(None, None, None)


@dataclass(frozen=True, slots=True)
class ContentItem:
    """A content item as content published it: what its shares copy, and when and to whom
    it may be shared. An item retired before its publication reached us has only
    `retired_at`."""

    content_id: str
    title: str = ""
    kind: ContentKind | None = None
    url: str | None = None
    summary: str = ""
    image_url: str | None = None
    campaign_id: str | None = None
    topics: tuple[str, ...] = ()
    audience: Audience = EVERYONE
    # Per network's value: the suggested text, and the further wordings of it.
    suggested_texts: Mapping[str, str] = field(default_factory=dict)
    text_variants: Mapping[str, Sequence[str]] = field(default_factory=dict)
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Guidelines:
    """A tenant's current sharing guidelines."""

    version: int
    title: str = ""
    acknowledgement_required: bool = False
    published_at: datetime | None = None
