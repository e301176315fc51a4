"""Giving a buddy feedback on a draft is an action the point rules score like any other."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import BuddyFeedbackGiven, BuddyFeedbackGivenData, BuddyFeedbackKind
from rewards.adapters.events import activity_of
from rewards.domain.rules import DEFAULT_RULES, Action, DailyUse, score

AT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def _feedback(kind: BuddyFeedbackKind) -> BuddyFeedbackGiven:
    return BuddyFeedbackGiven.create(
        tenant_id="acme",
        subject="ben",
        data=BuddyFeedbackGivenData(
            feedback_id=f"f-{kind.value}",
            employee_id="ben",
            buddy_id="ana",
            pair_id="p1",
            kind=kind,
            draft_id="d1" if kind is not BuddyFeedbackKind.CHEER else None,
            share_id="s1" if kind is BuddyFeedbackKind.CHEER else None,
            given_at=AT,
        ),
    )


def test_comments_and_reactions_are_buddy_feedback_by_the_giver() -> None:
    for kind in (BuddyFeedbackKind.COMMENT, BuddyFeedbackKind.REACTION):
        activity = activity_of(_feedback(kind))
        assert activity is not None
        assert (activity.action, activity.employee_id, activity.at) == (
            Action.BUDDY_FEEDBACK,
            "ben",
            AT,
        )


def test_a_cheer_is_encouragement_not_scored() -> None:
    assert activity_of(_feedback(BuddyFeedbackKind.CHEER)) is None


def test_feedback_earns_a_little_by_default_and_not_endlessly_in_a_day() -> None:
    activity = activity_of(_feedback(BuddyFeedbackKind.COMMENT))
    assert activity is not None
    day = DailyUse(day="2026-05-04")
    assert score(DEFAULT_RULES, Action.BUDDY_FEEDBACK, activity, day) == 2
    nearly = day.add(Action.BUDDY_FEEDBACK, 9)
    assert score(DEFAULT_RULES, Action.BUDDY_FEEDBACK, activity, nearly) == 1
