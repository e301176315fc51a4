"""A step of the onboarding path is an action the point rules score like any other."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from contracts import OnboardingStepCompleted, OnboardingStepCompletedData
from rewards.adapters.events import activity_of
from rewards.domain.rules import DEFAULT_RULES, Action, DailyUse, score

AT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def _step(done: int) -> OnboardingStepCompleted:
    return OnboardingStepCompleted.create(
        tenant_id="acme",
        subject="ana",
        data=OnboardingStepCompletedData(
            employee_id="ana",
            step_id=f"s{done}",
            path_version=1,
            steps_done=done,
            steps_total=5,
            path_completed=done == 5,
            completed_at=AT,
        ),
    )


def test_each_step_is_the_persons_onboarding_step_action() -> None:
    event = _step(1)
    activity = activity_of(event)
    assert activity is not None
    assert (activity.action, activity.employee_id, activity.at) == (
        Action.ONBOARDING_STEP,
        "ana",
        AT,
    )
    # Content derives the event's id from the person and the step: a step scores once.
    assert activity.event_id == event.id


def test_a_step_earns_a_little_by_default_and_what_the_program_team_sets() -> None:
    activity = activity_of(_step(5))
    assert activity is not None
    day = DailyUse(day="2026-05-04")
    assert score(DEFAULT_RULES, Action.ONBOARDING_STEP, activity, day) == 3
    nothing = replace(DEFAULT_RULES, points={**DEFAULT_RULES.points, Action.ONBOARDING_STEP: 0})
    assert score(nothing, Action.ONBOARDING_STEP, activity, day) == 0
