"""Buddy pairs: two colleagues who look at each other's own posts and keep each other going.

A pair is proposed (a colleague found for someone who asked, or two people named by the
program team) and becomes active once both have accepted it; either can decline it while
it is pending or end it later. A person is in at most one pending or active pair.

Drafts go from their author to the buddy, who comments and reacts but never edits; the
author alone posts one, through the ordinary share of an own post.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from chassis.domain_errors import Conflict, DomainError, Forbidden, Invalid, NotFound


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


def member_of(pair: dict[str, object], employee_id: str) -> bool:
    members = pair.get("members")
    return isinstance(members, list) and employee_id in members


def other_member(pair: dict[str, object], employee_id: str) -> str:
    members = pair.get("members")
    assert isinstance(members, list)
    return next(str(m) for m in members if m != employee_id)


# Each `cannot_*` rule returns why an action on a pair or draft is not allowed, as the domain
# error the use case raises (unknown, not yours, not in this state, a field at fault), or None.


def cannot_accept(pair: dict[str, object] | None, employee_id: str) -> DomainError | None:
    if pair is None or not member_of(pair, employee_id):
        return NotFound("no such buddy request for you")
    if pair.get("status") != PairStatus.PENDING:
        return Conflict(f"the pair is {pair.get('status')}, not pending")
    return None


def cannot_end(
    pair: dict[str, object] | None, employee_id: str, program_team: bool
) -> DomainError | None:
    if pair is None or not (member_of(pair, employee_id) or program_team):
        return NotFound("no such buddy pair")
    if pair.get("status") not in (PairStatus.PENDING, PairStatus.ACTIVE):
        return Conflict(f"the pair is already {pair.get('status')}")
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
    draft: dict[str, object] | None, employee_id: str, active_pair_id: str | None
) -> DomainError | None:
    """The author always sees their draft; the buddy while the pair it was sent in lasts."""
    if draft is None:
        return NotFound("no such draft")
    if draft.get("author_id") == employee_id:
        return None
    if draft.get("buddy_id") == employee_id and draft.get("pair_id") == active_pair_id:
        return None
    return NotFound("no such draft")


def cannot_give_feedback(draft: dict[str, object], employee_id: str) -> DomainError | None:
    """Only the buddy comments and reacts, and only until the draft is posted."""
    if draft.get("author_id") == employee_id:
        return Forbidden("your buddy gives feedback on your draft, not you")
    if draft.get("status") != DraftStatus.OPEN:
        return Conflict("the draft is already posted")
    comments = draft.get("comments")
    if isinstance(comments, list) and len(comments) >= MAX_COMMENTS:
        return Conflict(f"a draft takes at most {MAX_COMMENTS} comments")
    return None


def cannot_post(draft: dict[str, object] | None, employee_id: str) -> DomainError | None:
    """Only the author posts their draft, once."""
    if draft is None or draft.get("author_id") != employee_id:
        return Invalid(errors=[("draft_id", "no draft of yours by this id")])
    if draft.get("status") != DraftStatus.OPEN:
        return Conflict("the draft is already posted")
    return None
