"""A tenant's sharing settings, each unset until the program team sets it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from contracts import retention


@dataclass(frozen=True, slots=True)
class TenantSettings:
    daily_share_cap: int | None = None
    # The directory group whose members are the tenant's leaders.
    leaders_group: str | None = None
    # The domains own posts may lead to without a stop; None: the default list.
    link_domains: tuple[str, ...] | None = None
    # Days engagement reports are kept (`contracts.retention`); None: the default.
    detail_retention_days: int | None = None

    @property
    def retention_days(self) -> int:
        return self.detail_retention_days or retention.DEFAULT_DAYS


def report_expired(observed_at: datetime, now: datetime, days: int) -> bool:
    """Whether an engagement observed then is past a retention of `days`: its report's
    record may be gone, so a repeat could not be told from a first report."""
    return retention.expired(_utc_day(observed_at), _utc_day(now), days)


def report_ahead(observed_at: datetime, now: datetime) -> bool:
    """Whether an engagement is dated more than the grace ahead of now: its report's record
    would be forgotten (by when it was received) before the engagement itself expired, and a
    repeat of it then counted again."""
    return observed_at > now + timedelta(days=retention.GRACE_DAYS)


def reports_forgotten_before(now: datetime, days: int) -> datetime:
    """Reports received before this moment are forgotten: a day after an engagement of
    theirs would be refused as expired (`contracts.retention.detail_before`)."""
    return datetime.combine(retention.detail_before(_utc_day(now), days), time(), tzinfo=UTC)


def _utc_day(at: datetime) -> date:
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).date()
