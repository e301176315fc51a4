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


# The kind of refusal each `Refusal.status` stands for.
_REFUSED_AS: dict[int, type[DomainError]] = {403: Forbidden, 404: NotFound, 409: Conflict}


@dataclass(frozen=True)
class Refusal:
    """Why an action on a pair or draft is not allowed: `field` names the culprit (422),
    otherwise `status` says which kind of refusal it is (403 not yours, 404 unknown,
    409 state); `error()` is the domain error that says so."""

    status: int
    reason: str
    field: str | None = None

    def error(self) -> DomainError:
        if self.field is not None:
            return Invalid(errors=[(self.field, self.reason)])
        return _REFUSED_AS.get(self.status, DomainError)(self.reason)


def member_of(pair: dict[str, object], employee_id: str) -> bool:
    members = pair.get("members")
    return isinstance(members, list) and employee_id in members


def other_member(pair: dict[str, object], employee_id: str) -> str:
    members = pair.get("members")
    assert isinstance(members, list)
    return next(str(m) for m in members if m != employee_id)


def cannot_accept(pair: dict[str, object] | None, employee_id: str) -> Refusal | None:
    if pair is None or not member_of(pair, employee_id):
        return Refusal(404, "no such buddy request for you")
    if pair.get("status") != PairStatus.PENDING:
        return Refusal(409, f"the pair is {pair.get('status')}, not pending")
    return None


def cannot_end(
    pair: dict[str, object] | None, employee_id: str, program_team: bool
) -> Refusal | None:
    if pair is None or not (member_of(pair, employee_id) or program_team):
        return Refusal(404, "no such buddy pair")
    if pair.get("status") not in (PairStatus.PENDING, PairStatus.ACTIVE):
        return Refusal(409, f"the pair is already {pair.get('status')}")
    return None


def after_accepting(accepted: Iterable[str], members: Sequence[str]) -> PairStatus:
    """The pair's status once these members have accepted it."""
    return PairStatus.ACTIVE if set(members) <= set(accepted) else PairStatus.PENDING


def cannot_pair(first: str, second: str) -> Refusal | None:
    if first == second:
        return Refusal(422, "a buddy is someone else", field="employee_ids")
    return None


def fits(request_team: str | None, groups: Iterable[str]) -> bool:
    """Whether a colleague in `groups` fits a request for a buddy (within a team or not)."""
    return request_team is None or request_team in set(groups)


def cannot_see_draft(
    draft: dict[str, object] | None, employee_id: str, active_pair_id: str | None
) -> Refusal | None:
    """The author always sees their draft; the buddy while the pair it was sent in lasts."""
    if draft is None:
        return Refusal(404, "no such draft")
    if draft.get("author_id") == employee_id:
        return None
    if draft.get("buddy_id") == employee_id and draft.get("pair_id") == active_pair_id:
        return None
    return Refusal(404, "no such draft")


def cannot_give_feedback(draft: dict[str, object], employee_id: str) -> Refusal | None:
    """Only the buddy comments and reacts, and only until the draft is posted."""
    if draft.get("author_id") == employee_id:
        return Refusal(403, "your buddy gives feedback on your draft, not you")
    if draft.get("status") != DraftStatus.OPEN:
        return Refusal(409, "the draft is already posted")
    comments = draft.get("comments")
    if isinstance(comments, list) and len(comments) >= MAX_COMMENTS:
        return Refusal(409, f"a draft takes at most {MAX_COMMENTS} comments")
    return None


def cannot_post(draft: dict[str, object] | None, employee_id: str) -> Refusal | None:
    """Only the author posts their draft, once."""
    if draft is None or draft.get("author_id") != employee_id:
        return Refusal(422, "no draft of yours by this id", field="draft_id")
    if draft.get("status") != DraftStatus.OPEN:
        return Refusal(409, "the draft is already posted")
    return None
