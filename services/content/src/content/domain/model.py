"""Content items and their workflow: pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contracts import RetirementReason


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
