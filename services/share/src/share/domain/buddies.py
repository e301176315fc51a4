"""Buddy pairs: two colleagues who look at each other's own posts and keep each other going.

A pair is proposed (a colleague found for someone who asked, or two people named by the
program team) and becomes active once both have accepted it; either can decline it while
it is pending or end it later. A person is in at most one pending or active pair.

Drafts go from their author to the buddy, who comments and reacts but never edits; the
author alone posts one, through the ordinary share of an own post.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chassis.domain_errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from contracts import Network


class PairStatus(StrEnum):
    PENDING = "pending"  # proposed; waiting for both to accept
    ACTIVE = "active"  # both accepted
    DECLINED = "declined"  # one of them said no while it was pending
    ENDED = "ended"  # one of them (or the program team) ended it


class Reaction(StrEnum):
    """A buddy's reaction to a draft, stored by name; the pages draw the emoji."""

    THUMBS_UP = "thumbs-up"
    HEART = "heart"
    IDEA = "idea"


class DraftStatus(StrEnum):
    OPEN = "open"
    POSTED = "posted"


MAX_COMMENTS = 50
COMMENT_LENGTH = 1000
DRAFT_LENGTH = 3000


@dataclass(frozen=True, slots=True)
class BuddyPerson:
    """Someone who asked for a buddy or was paired: their pair (pending or active), their
    request while they wait, and their settings."""

    employee_id: str
    name: str | None = None
    pair_id: str | None = None
    requested: bool = False  # waiting for a buddy
    requested_team: str | None = None  # within this team of theirs; None: anyone
    requested_at: datetime | None = None
    groups: tuple[str, ...] = ()  # as when they last asked
    notify_shares: bool = True
    seen_until: datetime | None = None  # their buddy's shares seen up to here


@dataclass(frozen=True, slots=True)
class Pair:
    id: str
    members: tuple[str, ...]
    status: PairStatus
    created_at: datetime
    accepted: tuple[str, ...] = ()
    proposed_by: str = "program"  # "match" (both asked) or "program" (the team named them)
    team: str | None = None
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    employee_id: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DraftReaction:
    name: Reaction
    employee_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Draft:
    id: str
    pair_id: str
    author_id: str
    buddy_id: str
    network: Network
    text: str
    created_at: datetime
    url: str | None = None
    title: str = ""
    comments: tuple[Comment, ...] = ()
    reaction: DraftReaction | None = None
    reacted: bool = False  # a reaction was given once (it counted as feedback)
    status: DraftStatus = DraftStatus.OPEN
    share_id: str | None = None
    posted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BuddyShare:
    """A share of a buddy's, as their buddy sees it."""

    id: str
    network: Network
    shared_at: datetime
    title: str = ""
    text: str = ""
    content_id: str | None = None
    cheered: bool = False  # by the one looking


@dataclass(frozen=True, slots=True)
class Cheer:
    share_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BuddyRecords:
    """What buddies keep about a person, for their download."""

    person: BuddyPerson | None
    pairs: list[Pair]
    drafts: list[Draft]
    comments_given: list[tuple[str, Comment]]  # (draft id, comment)
    cheers_given: list[Cheer]


def member_of(pair: Pair, employee_id: str) -> bool:
    return employee_id in pair.members


def other_member(pair: Pair, employee_id: str) -> str:
    return next(m for m in pair.members if m != employee_id)


# Each `cannot_*` rule returns why an action on a pair or draft is not allowed, as the domain
# error the use case raises (unknown, not yours, not in this state, a field at fault), or None.


def cannot_accept(pair: Pair | None, employee_id: str) -> DomainError | None:
    if pair is None or not member_of(pair, employee_id):
        return NotFound("no such buddy request for you")
    if pair.status != PairStatus.PENDING:
        return Conflict(f"the pair is {pair.status}, not pending")
    return None


def cannot_end(pair: Pair | None, employee_id: str, program_team: bool) -> DomainError | None:
    if pair is None or not (member_of(pair, employee_id) or program_team):
        return NotFound("no such buddy pair")
    if pair.status not in (PairStatus.PENDING, PairStatus.ACTIVE):
        return Conflict(f"the pair is already {pair.status}")
    return None


def after_accepting(accepted: Iterable[str], members: Sequence[str]) -> PairStatus:
    """The pair's status once these members have accepted it."""
    return PairStatus.ACTIVE if set(members) <= set(accepted) else PairStatus.PENDING


def cannot_pair(first: str, second: str) -> DomainError | None:
    if first == second:
        return Invalid(errors=[("employee_ids", "a buddy is someone else")])
    return None


def fits(request_team: str | None, groups: Iterable[str]) -> bool:
    """Whether a colleague in `groups` fits a request for a buddy (within a team or not)."""
    return request_team is None or request_team in set(groups)


def cannot_see_draft(
    draft: Draft | None, employee_id: str, active_pair_id: str | None
) -> DomainError | None:
    """The author always sees their draft; the buddy while the pair it was sent in lasts."""
    if draft is None:
        return NotFound("no such draft")
    if draft.author_id == employee_id:
        return None
    if draft.buddy_id == employee_id and draft.pair_id == active_pair_id:
        return None
    return NotFound("no such draft")


def cannot_give_feedback(draft: Draft, employee_id: str) -> DomainError | None:
    """Only the buddy comments and reacts, and only until the draft is posted."""
    if draft.author_id == employee_id:
        return Forbidden("your buddy gives feedback on your draft, not you")
    if draft.status != DraftStatus.OPEN:
        return Conflict("the draft is already posted")
    if len(draft.comments) >= MAX_COMMENTS:
        return Conflict(f"a draft takes at most {MAX_COMMENTS} comments")
    return None


def cannot_post(draft: Draft | None, employee_id: str) -> DomainError | None:
    """Only the author posts their draft, once."""
    if draft is None or draft.author_id != employee_id:
        return Invalid(errors=[("draft_id", "no draft of yours by this id")])
    if draft.status != DraftStatus.OPEN:
        return Conflict("the draft is already posted")
    return None
