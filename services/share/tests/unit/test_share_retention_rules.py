"""How long share keeps engagement reports: the tenant's retention (`contracts.retention`,
the same setting and bounds as metrics'), an engagement older than it refused, and a report
forgotten only once any repeat of it would be refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts import retention
from share.domain.settings import TenantSettings, report_expired, reports_forgotten_before

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_unset_the_retention_is_the_default_of_every_service() -> None:
    assert TenantSettings().retention_days == retention.DEFAULT_DAYS == 400
    assert TenantSettings(detail_retention_days=30).retention_days == 30


@pytest.mark.parametrize(
    ("observed_at", "days", "expired"),
    [
        (NOW, 30, False),
        # Whole UTC days: the 30th day back is still kept, from its first moment.
        (datetime(2026, 1, 31, 0, 0, tzinfo=UTC), 30, False),
        (datetime(2026, 1, 30, 23, 59, 59, tzinfo=UTC), 30, True),
        # The day is read in UTC, whatever zone the report wrote it in.
        (datetime(2026, 1, 31, 0, 30, tzinfo=timezone(timedelta(hours=2))), 30, True),
        (datetime(2025, 1, 26, 12, 0, tzinfo=UTC), 400, False),
        (datetime(2025, 1, 25, 12, 0, tzinfo=UTC), 400, True),
    ],
)
def test_an_engagement_older_than_the_retention_is_expired(
    observed_at: datetime, days: int, expired: bool
) -> None:
    assert report_expired(observed_at, NOW, days) is expired


@pytest.mark.parametrize("days", [retention.MIN_DAYS, 90, retention.DEFAULT_DAYS])
def test_a_report_is_forgotten_a_day_after_its_engagement_would_be_refused(days: int) -> None:
    before = reports_forgotten_before(NOW, days)
    assert before == datetime.combine(
        (NOW - timedelta(days=days + retention.GRACE_DAYS)).date(),
        datetime.min.time(),
        tzinfo=UTC,
    )
    # Every report received before the moment (its engagement observed then or earlier) is
    # refused when sent again, now or later; the last day not forgotten is still taken.
    for received in (before - timedelta(microseconds=1), before - timedelta(days=3)):
        for later in (NOW, NOW + timedelta(days=2)):
            assert report_expired(received, later, days)
    assert not report_expired(before + timedelta(days=retention.GRACE_DAYS), NOW, days)
