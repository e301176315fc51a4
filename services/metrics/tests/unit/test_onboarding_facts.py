"""What a step of the onboarding path adds to the figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import OnboardingStepCompleted, OnboardingStepCompletedData
from metrics.domain.facts import fact_of

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _step(done: int, total: int) -> OnboardingStepCompleted:
    return OnboardingStepCompleted.create(
        tenant_id="acme",
        subject="e1",
        data=OnboardingStepCompletedData(
            employee_id="e1",
            step_id=f"s{done}",
            path_version=3,
            steps_done=done,
            steps_total=total,
            path_completed=done == total,
            completed_at=AT,
        ),
    )


@pytest.mark.parametrize(("done", "finished"), [(1, None), (4, None), (5, 1)])
def test_every_step_counts_and_the_last_one_counts_a_finished_path(
    done: int, finished: int | None
) -> None:
    fact = fact_of(_step(done, 5))
    assert fact["day"] == "2026-03-02" and fact["advocate"] == "e1"
    assert fact["onboarding_steps"] == 1
    assert fact.get("onboarding_completed") == finished
    assert fact["step"] == f"s{done}" and fact["path_version"] == 3
