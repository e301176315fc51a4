"""How far an erasure got, folded from its request and the services' confirmations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import ERASING_SERVICES
from web.domain.erasures import ErasureStatus, confirmed, newest_first, requested

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _all_confirmed(status: ErasureStatus | None, services: tuple[str, ...]) -> ErasureStatus:
    for n, service in enumerate(services):
        status = confirmed(status, "r1", service, AT + timedelta(seconds=n + 1))
    assert status is not None
    return status


def test_a_request_waits_for_every_service_until_each_confirmed() -> None:
    status = requested(None, "r1", AT, "person", ERASING_SERVICES)
    assert status.waiting_for == list(ERASING_SERVICES) and not status.complete
    status = _all_confirmed(status, ERASING_SERVICES[:-1])
    assert status.waiting_for == [ERASING_SERVICES[-1]] and not status.complete
    assert status.completed_at is None
    status = confirmed(status, "r1", ERASING_SERVICES[-1], AT + timedelta(minutes=1))
    assert status.complete and status.waiting_for == []
    assert status.completed_at == AT + timedelta(minutes=1)


def test_confirmations_before_the_request_count_and_keep_their_time() -> None:
    early = _all_confirmed(None, ("content", "web"))
    assert early.requested_at is None and early.expected == ERASING_SERVICES
    status = requested(early, "r1", AT, "directory", ("content", "web"))
    assert status.complete and status.origin == "directory" and status.requested_at == AT


def test_a_repeated_confirmation_changes_nothing() -> None:
    once = confirmed(None, "r1", "share", AT)
    assert confirmed(once, "r1", "share", AT + timedelta(hours=1)) == once


def test_a_service_not_expected_does_not_complete_a_request() -> None:
    status = requested(None, "r1", AT, "person", ("share",))
    status = confirmed(status, "r1", "notify", AT)
    assert status.waiting_for == ["share"] and not status.complete


def test_newest_first_with_unknown_times_on_top() -> None:
    older = requested(None, "a", AT, "person", ERASING_SERVICES)
    newer = requested(None, "b", AT + timedelta(days=1), "person", ERASING_SERVICES)
    pending = confirmed(None, "c", "web", AT)
    assert [s.request_id for s in newest_first([older, pending, newer])] == ["c", "b", "a"]
