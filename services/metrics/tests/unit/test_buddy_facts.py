"""Buddy feedback as metrics count it: per advocate and day, feedback apart from cheers."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import BuddyFeedbackGiven, BuddyFeedbackGivenData, BuddyFeedbackKind
from metrics.domain.facts import fact_of

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _given(kind: BuddyFeedbackKind) -> BuddyFeedbackGiven:
    return BuddyFeedbackGiven.create(
        tenant_id="acme",
        subject="ben",
        data=BuddyFeedbackGivenData(
            feedback_id="f1",
            employee_id="ben",
            buddy_id="ana",
            pair_id="p1",
            kind=kind,
            draft_id="d1",
            given_at=AT,
        ),
    )


def test_comments_and_reactions_count_as_feedback_and_cheers_apart() -> None:
    comment = fact_of(_given(BuddyFeedbackKind.COMMENT))
    assert (comment["advocate"], comment["day"], comment["buddy_feedback"]) == (
        "ben",
        "2026-03-02",
        1,
    )
    assert "buddy_cheers" not in comment
    # Never a content kind, which figures are broken down by.
    assert "kind" not in comment and comment["feedback_kind"] == "comment"
    cheer = fact_of(_given(BuddyFeedbackKind.CHEER))
    assert cheer["buddy_cheers"] == 1 and "buddy_feedback" not in cheer
