"""Buddy pairs' rules, from a table: who may accept, end, see, give feedback and post."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chassis.domain_errors import Conflict, DomainError, Forbidden, NotFound
from contracts import Network
from share.domain.buddies import (
    MAX_COMMENTS,
    Comment,
    Draft,
    DraftStatus,
    Pair,
    PairStatus,
    after_accepting,
    cannot_accept,
    cannot_end,
    cannot_give_feedback,
    cannot_pair,
    cannot_post,
    cannot_see_draft,
    fits,
    other_member,
)

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pair(status: str) -> Pair:
    return Pair(id="p1", members=("ana", "ben"), status=PairStatus(status), created_at=AT)


def draft(status: str = "open", comments: int = 0) -> Draft:
    return Draft(
        id="d1",
        pair_id="p1",
        author_id="ana",
        buddy_id="ben",
        network=Network.LINKEDIN,
        text="Hello",
        created_at=AT,
        status=DraftStatus(status),
        comments=(Comment("c", "ben", "Nice", AT),) * comments,
    )


@pytest.mark.parametrize(
    ("doc", "who", "refused"),
    [
        (pair("pending"), "ana", None),
        (pair("pending"), "eve", NotFound),
        (pair("active"), "ana", Conflict),
        (pair("ended"), "ben", Conflict),
        (None, "ana", NotFound),
    ],
)
def test_who_accepts_a_pair(doc: Pair | None, who: str, refused: type[DomainError] | None) -> None:
    refusal = cannot_accept(doc, who)
    assert (type(refusal) if refusal else None) is refused


@pytest.mark.parametrize(
    ("doc", "who", "program_team", "refused"),
    [
        (pair("pending"), "ben", False, None),
        (pair("active"), "ana", False, None),
        (pair("active"), "eve", True, None),
        (pair("active"), "eve", False, NotFound),
        (pair("ended"), "ana", False, Conflict),
        (pair("declined"), "eve", True, Conflict),
    ],
)
def test_who_ends_a_pair(
    doc: Draft, who: str, program_team: bool, refused: type[DomainError] | None
) -> None:
    refusal = cannot_end(doc, who, program_team)
    assert (type(refusal) if refusal else None) is refused


def test_a_pair_is_active_once_both_accepted() -> None:
    assert after_accepting(["ana"], ["ana", "ben"]) is PairStatus.PENDING
    assert after_accepting(["ben", "ana"], ["ana", "ben"]) is PairStatus.ACTIVE
    assert other_member(pair("active"), "ana") == "ben"
    refusal = cannot_pair("ana", "ana")
    assert refusal is not None and refusal.field == "employee_ids"


@pytest.mark.parametrize(
    ("team", "groups", "fit"),
    [(None, [], True), ("sales", ["sales", "oslo"], True), ("sales", ["hr"], False)],
)
def test_a_request_within_a_team_fits_only_its_members(
    team: str | None, groups: list[str], fit: bool
) -> None:
    assert fits(team, groups) is fit


@pytest.mark.parametrize(
    ("who", "active_pair", "visible"),
    [
        ("ana", None, True),
        ("ben", "p1", True),
        ("ben", "p2", False),
        ("ben", None, False),
        ("eve", "p1", False),
    ],
)
def test_a_draft_is_seen_by_its_author_and_the_buddy_of_its_pair(
    who: str, active_pair: str | None, visible: bool
) -> None:
    assert (cannot_see_draft(draft(), who, active_pair) is None) is visible


@pytest.mark.parametrize(
    ("doc", "who", "refused"),
    [
        (draft(), "ben", None),
        (draft(), "ana", Forbidden),
        (draft("posted"), "ben", Conflict),
        (draft(comments=MAX_COMMENTS), "ben", Conflict),
    ],
)
def test_only_the_buddy_gives_feedback_until_it_is_posted(
    doc: Draft, who: str, refused: type[DomainError] | None
) -> None:
    refusal = cannot_give_feedback(doc, who)
    assert (type(refusal) if refusal else None) is refused


def test_only_the_author_posts_a_draft_once() -> None:
    assert cannot_post(draft(), "ana") is None
    not_theirs = cannot_post(draft(), "ben")
    assert not_theirs is not None and not_theirs.field == "draft_id"
    posted = cannot_post(draft("posted"), "ana")
    assert isinstance(posted, Conflict)
