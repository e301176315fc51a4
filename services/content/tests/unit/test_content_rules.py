"""Pure rules of the content hub: workflow, share texts, targeting, feed positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from content.adapters.mongo import language_phases
from content.domain import feed, model, texts
from contracts import Network, RetirementReason

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S, A = model.Status, model.Action


@pytest.mark.parametrize(
    ("status", "action", "after", "retired"),
    [
        (S.DRAFT, A.SUBMIT, S.IN_REVIEW, None),
        (S.IN_REVIEW, A.REJECT, S.DRAFT, None),
        (S.IN_REVIEW, A.APPROVE, S.PUBLISHED, None),
        (S.DRAFT, A.APPROVE, S.PUBLISHED, None),
        (S.PUBLISHED, A.WITHDRAW, S.DRAFT, RetirementReason.WITHDRAWN),
        (S.SCHEDULED, A.WITHDRAW, S.DRAFT, None),
        (S.PUBLISHED, A.ARCHIVE, S.ARCHIVED, RetirementReason.ARCHIVED),
        (S.EXPIRED, A.ARCHIVE, S.ARCHIVED, None),
        (S.DRAFT, A.ARCHIVE, S.ARCHIVED, None),
    ],
)
def test_transitions(status, action, after, retired) -> None:
    step = model.transition(status, action, NOW, None, None)
    assert (step.after, step.retired) == (after, retired)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.PUBLISHED, A.SUBMIT),
        (S.ARCHIVED, A.ARCHIVE),
        (S.DRAFT, A.REJECT),
        (S.EXPIRED, A.APPROVE),
        (S.ARCHIVED, A.WITHDRAW),
    ],
)
def test_refused_transitions(status, action) -> None:
    with pytest.raises(model.TransitionRefused):
        model.transition(status, action, NOW, None, None)


def test_approving_with_a_future_publish_time_schedules() -> None:
    later = NOW + timedelta(hours=1)
    step = model.transition(S.IN_REVIEW, A.APPROVE, NOW, later, None)
    assert step.after is S.SCHEDULED and step.publish_at == later and not step.publishes


def test_approving_after_the_expiry_is_refused() -> None:
    with pytest.raises(model.TransitionRefused):
        model.transition(S.IN_REVIEW, A.APPROVE, NOW, None, NOW - timedelta(seconds=1))


def test_the_clock_releases_and_expires() -> None:
    hour = timedelta(hours=1)
    assert model.release(S.SCHEDULED, NOW + hour, None, NOW) is None
    released = model.release(S.SCHEDULED, NOW - hour, None, NOW)
    assert released is not None and released.publishes
    missed = model.release(S.SCHEDULED, NOW - 2 * hour, NOW - hour, NOW)
    assert missed is not None and missed.after is S.EXPIRED and missed.retired is None
    assert model.expire(S.PUBLISHED, NOW + hour, NOW) is None
    expired = model.expire(S.PUBLISHED, NOW, NOW)
    assert expired is not None and expired.retired is RetirementReason.EXPIRED


def test_x_counts_every_link_as_23_and_wide_characters_as_two() -> None:
    link = "https://example.com/" + "a" * 200
    assert texts.x_length(f"Read {link} now") == len("Read ") + 23 + len(" now")
    assert texts.x_length("日本") == 4
    assert texts.x_length("café") == 4


def test_limits_per_network_with_the_disclosure_added() -> None:
    fits = "a" * 270
    prepared, errors = texts.prepare({Network.X: fits}, "#employee", None)
    assert prepared[Network.X] == fits + " #employee" and not errors
    _, errors = texts.prepare({Network.X: fits + "a"}, "#employee", None)
    assert "281 over the limit of 280" in errors[Network.X]
    prepared, errors = texts.prepare({Network.LINKEDIN: "b" * 3000}, None, None)
    assert not errors
    _, errors = texts.prepare({Network.LINKEDIN: "b" * 3001}, None, None)
    assert Network.LINKEDIN in errors


def test_x_reserves_room_for_the_attached_link() -> None:
    text = "c" * 260
    assert not texts.prepare({Network.X: text}, None, None)[1]
    assert texts.prepare({Network.X: text}, None, "https://example.com/x")[1]


def test_disclosure_is_added_once() -> None:
    assert texts.with_disclosure("Proud of us #Employee", "#employee") == "Proud of us #Employee"
    assert texts.with_disclosure("Proud #employees", "#employee") == "Proud #employees #employee"
    assert texts.with_disclosure("", "#employee") == "#employee"


def test_feed_positions_round_trip_and_refuse_garbage() -> None:
    position = feed.Position(1, "2026-03-01", 4, "abc")
    assert feed.Position.decode(position.encode()) == position
    assert feed.Position.decode({"p": 2, "d": "x", "s": 1, "i": "a"}) is None
    assert feed.Position.decode({"p": 0, "d": 3, "s": 1, "i": "a"}) is None
    assert language_phases([]) == [{}]
    assert len(language_phases(["de"])) == 2
