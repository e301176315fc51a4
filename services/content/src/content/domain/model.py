"""Content items and their workflow: pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contracts import ContentKind, Network, RetirementReason


class Status(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    EXPIRED = "expired"
    ARCHIVED = "archived"


class Action(StrEnum):
    """What a person asks of the workflow; the clock's own moves are `release` and `expire`."""

    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    ARCHIVE = "archive"


LIVE = frozenset({Status.SCHEDULED, Status.PUBLISHED})


@dataclass(frozen=True, slots=True)
class ItemAudience:
    """Who an item is for; an empty axis leaves it open to everyone."""

    groups: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobDetails:
    location: str | None = None
    department: str | None = None
    apply_url: str | None = None


@dataclass(frozen=True, slots=True)
class EventDetails:
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: str | None = None
    online_url: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A content item of one tenant, at revision `rev` (every save makes the next one)."""

    id: str
    tenant: str
    title: str
    kind: ContentKind
    status: Status
    created_by: str
    created_at: datetime
    updated_at: datetime
    rev: int = 1
    summary: str = ""
    body: str = ""
    url: str | None = None
    image_url: str | None = None
    language: str | None = None
    topics: tuple[str, ...] = ()
    campaign_id: str | None = None
    suggested_texts: Mapping[Network, str] = field(default_factory=dict)
    # Further wordings of a network's suggested text, beside it.
    text_variants: Mapping[Network, tuple[str, ...]] = field(default_factory=dict)
    audience: ItemAudience | None = None
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    job: JobDetails | None = None
    event: EventDetails | None = None
    shares: int = 0
    # An employee's suggestion (not a curator's item).
    suggestion: bool = False
    approved_by: str | None = None
    # The comment given with the last workflow step, and who gave it.
    comment: str | None = None
    comment_by: str | None = None
    published_at: datetime | None = None
    retired_at: datetime | None = None
    # Set on a leader's own post shown in the feed: the post's address.
    leader_post: str | None = None

    @property
    def link(self) -> str | None:
        """The link a share carries: the item's URL, or where to apply for a job."""
        return self.url or (self.job.apply_url if self.job else None)


# Where each action may start from. `approve` and a curator's create land on scheduled or
# published depending on the publish time; everything else has one destination.
_FROM: dict[Action, frozenset[Status]] = {
    Action.SUBMIT: frozenset({Status.DRAFT}),
    Action.APPROVE: frozenset({Status.DRAFT, Status.IN_REVIEW}),
    Action.REJECT: frozenset({Status.IN_REVIEW}),
    Action.WITHDRAW: frozenset({Status.SCHEDULED, Status.PUBLISHED}),
    Action.ARCHIVE: frozenset(
        {Status.DRAFT, Status.IN_REVIEW, Status.SCHEDULED, Status.PUBLISHED, Status.EXPIRED}
    ),
}
_TO: dict[Action, Status] = {
    Action.SUBMIT: Status.IN_REVIEW,
    Action.REJECT: Status.DRAFT,
    Action.WITHDRAW: Status.DRAFT,
    Action.ARCHIVE: Status.ARCHIVED,
}


class TransitionRefused(ValueError):
    """The action is not possible from the item's current status."""


@dataclass(frozen=True)
class Transition:
    before: Status
    after: Status
    # Set when the item goes live now: the publish time it goes live with.
    publish_at: datetime | None = None
    # Set when an item that was live for employees stops being so.
    retired: RetirementReason | None = None

    @property
    def publishes(self) -> bool:
        return self.after is Status.PUBLISHED and self.before is not Status.PUBLISHED


def live_status(publish_at: datetime, now: datetime) -> Status:
    """An approved item goes live now, or waits for its publish time."""
    return Status.PUBLISHED if publish_at <= now else Status.SCHEDULED


def check_window(publish_at: datetime | None, expires_at: datetime | None) -> str | None:
    """Why the publication window is invalid, or None."""
    if publish_at is not None and expires_at is not None and expires_at <= publish_at:
        return "must be after publish_at"
    return None


def transition(
    status: Status,
    action: Action,
    now: datetime,
    publish_at: datetime | None,
    expires_at: datetime | None,
) -> Transition:
    """Where `action` takes an item in `status`, or TransitionRefused."""
    if status not in _FROM[action]:
        allowed = ", ".join(sorted(s.value for s in _FROM[action]))
        raise TransitionRefused(f"cannot {action.value} an item that is {status.value} ({allowed})")
    if action is Action.APPROVE:
        when = publish_at or now
        if expires_at is not None and expires_at <= max(when, now):
            raise TransitionRefused("cannot approve an item whose expiry time has passed")
        after = live_status(when, now)
        return Transition(status, after, publish_at=when)
    after = _TO[action]
    retired: RetirementReason | None = None
    if status is Status.PUBLISHED:
        retired = (
            RetirementReason.ARCHIVED if action is Action.ARCHIVE else RetirementReason.WITHDRAWN
        )
    return Transition(status, after, retired=retired)


def release(
    status: Status, publish_at: datetime | None, expires_at: datetime | None, now: datetime
) -> Transition | None:
    """The clock's move: a scheduled item whose time has come goes live."""
    if status is not Status.SCHEDULED or publish_at is None or publish_at > now:
        return None
    if expires_at is not None and expires_at <= now:
        # Its whole window passed while nobody was releasing: it never reached anyone.
        return Transition(status, Status.EXPIRED)
    return Transition(status, Status.PUBLISHED, publish_at=publish_at)


def expire(status: Status, expires_at: datetime | None, now: datetime) -> Transition | None:
    """The clock's move: a published item past its expiry time leaves the feed."""
    if status is Status.PUBLISHED and expires_at is not None and expires_at <= now:
        return Transition(status, Status.EXPIRED, retired=RetirementReason.EXPIRED)
    return None
