"""A share: one post of a content item (or an own post) to one network, with its short link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contracts import ContentKind, Network, ShareMethod
from contracts.audience import Viewer


class ShareStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for its time, then is posted through the network's API
    POSTING = "posting"  # a worker (or the request) is posting it
    SHARED = "shared"  # out there: its short link redirects
    FAILED = "failed"  # the network refused it
    CANCELLED = "cancelled"  # a scheduled share not posted after all


@dataclass(frozen=True, slots=True)
class Share:
    """A share as it was made (the advocate and the item as they were then) and how it went.

    The short link reads it on every click: it is built once per lookup, never per click.
    """

    id: str
    tenant: str
    employee_id: str  # the erased advocate's pseudonym once they were erased
    network: Network
    short_code: str
    target_url: str  # where the short link leads, with UTM parameters
    status: ShareStatus = ShareStatus.SHARED
    method: ShareMethod = ShareMethod.INTENT
    content_id: str | None = None  # None: an own post
    content_kind: ContentKind | None = None
    campaign_id: str | None = None
    content_topics: tuple[str, ...] = ()
    employee_groups: tuple[str, ...] = ()
    # The advocate's targeting claims as they shared; None once they were erased.
    viewer: Viewer | None = None
    text: str = ""
    title: str = ""
    summary: str = ""
    image_url: str | None = None
    audience_size: int = 0
    # The short link redirects straight away (else it shows where it leads first).
    target_allowed: bool = False
    by_leader: bool = False
    # A leader's own post, shown to colleagues.
    post_url: str | None = None
    post_title: str | None = None
    text_variant: int | None = None
    text_edited: bool | None = None
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    shared_at: datetime | None = None
    network_post_id: str | None = None
    reason: str | None = None  # why it failed or was cancelled
    # The advocate left: the link still leads where it led, its clicks no longer count.
    stopped: bool = False
    # Engagement counted so far, by kind (where the history shows it).
    engagement: Mapping[str, int] = field(default_factory=dict)


# A scheduled share is not posted yet, a cancelled or failed one never was: engagement
# reported on them would count for a post nobody saw.
_NO_POST = frozenset({ShareStatus.SCHEDULED, ShareStatus.CANCELLED, ShareStatus.FAILED})


def takes_engagement(status: ShareStatus) -> bool:
    """Whether engagement may be reported on a share in this state."""
    return status not in _NO_POST
