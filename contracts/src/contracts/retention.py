"""How long engagement detail is kept: one tenant setting, one rule, every service.

The program team sets `detail_retention_days` (metrics' settings; the web app's settings
page also gives it to share). Detail is each engagement on its own: metrics' fact of it, and
share's record of each report a connector sent. Past the retention, metrics sums the detail
into roll-ups and share forgets its reports.

An engagement's detail is what makes a repeat of it a duplicate, so an engagement older than
the retention is not recorded at all (`expired`), and detail goes only a day later still
(`detail_before`): nothing recorded under one reading of the clock lands on a day already
summed up or forgotten under another. Pure functions over dates (UTC days).
"""

from __future__ import annotations

from datetime import date, timedelta

# Bounds of a tenant's setting, and the default: about 13 months, so a year is always
# compared with the one before in detail.
MIN_DAYS = 30
MAX_DAYS = 3650
DEFAULT_DAYS = 400
# Days between the oldest day an engagement is still recorded for and the newest day whose
# detail goes.
GRACE_DAYS = 1


def oldest_kept(today: date, days: int) -> date:
    """The first day whose engagement is still kept in detail (and still recorded)."""
    return today - timedelta(days=days)


def expired(day: date, today: date, days: int) -> bool:
    """Whether an engagement of `day` is older than a retention of `days`: not recorded."""
    return day < oldest_kept(today, days)


def detail_before(today: date, days: int) -> date:
    """Engagement detail of the days before this one goes (summed up, or forgotten)."""
    return oldest_kept(today, days) - timedelta(days=GRACE_DAYS)
