"""The period a question about the program covers: the last 30 days unless the caller
says otherwise, never ending before it starts, ten years at most, and not before 2000."""

from __future__ import annotations

from datetime import date, timedelta

from chassis.domain_errors import Invalid

DEFAULT_DAYS = 30
# The longest period a question may cover: ten years, leap days included.
MAX_PERIOD_DAYS = 3660
# No program has figures before it, and a period and the one before it (the dashboard's
# comparison) stay far from the first day a date can name.
FIRST_DAY = date(2000, 1, 1)


def default_period(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The last 30 days up to today, unless the caller says otherwise."""
    end = end or today
    if start is None and end < FIRST_DAY + timedelta(days=DEFAULT_DAYS - 1):
        # Its 30 days would start before the first day a question may name.
        raise Invalid(
            errors=[("end", f"must be {DEFAULT_DAYS} days after {FIRST_DAY}, or give start")]
        )
    return start or end - timedelta(days=DEFAULT_DAYS - 1), end


def asked_period(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The period a question covers (`default_period`); `Invalid` if it ends before it
    starts or spans more than ten years."""
    first, last = default_period(today, start, end)
    if first < FIRST_DAY:
        raise Invalid(errors=[("start", f"must not be before {FIRST_DAY}")])
    check_order(first, last)
    if (last - first).days > MAX_PERIOD_DAYS:
        raise Invalid(errors=[("start", "the period may span ten years at most")])
    return first, last


def check_order(start: date | None, end: date | None) -> None:
    """`Invalid` if both days are given and `end` comes before `start`."""
    if start and end and end < start:
        raise Invalid(errors=[("end", "must not be before start")])
