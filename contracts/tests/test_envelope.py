"""Envelope behaviour: round trips, keys, deterministic ids, tolerant reading."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from contracts import (
    EVENTS_BY_TOPIC,
    EVENTS_BY_TYPE,
    PointsAwarded,
    PointsAwardedData,
    PostShared,
    PostSharedData,
    derived_event_id,
    dlq_topic,
)


def _share(**overrides: object) -> PostShared:
    data = {
        "share_id": "sh1",
        "content_id": None,
        "employee_id": "e1",
        "network": "linkedin",
        "short_code": "abc123",
        "tracked_url": "https://go.example.com/l/abc123",
        "shared_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "method": "intent",
    } | overrides
    return PostShared.create(tenant_id="acme", subject="sh1", data=PostSharedData(**data))


def test_round_trip_keeps_every_field() -> None:
    event = _share()
    assert PostShared.from_json(event.to_json()) == event


def test_envelope_attributes_follow_cloudevents() -> None:
    body = json.loads(_share().to_json())
    assert body["specversion"] == "1.0"
    assert body["type"] == "io.chorus.post-shared.v1"
    assert body["source"] == "/chorus/share"
    assert body["tenantid"] == "acme"
    assert body["dataschema"].endswith("/post-shared.v1.json")
    assert "traceparent" not in body  # absent rather than null
    assert body["data"]["content_id"] is None  # an own post has no content item


def test_partition_key_is_tenant_and_employee() -> None:
    assert _share().partition_key() == "acme:e1"


def test_timestamps_are_normalised_to_utc_and_need_a_zone() -> None:
    cet = timezone(timedelta(hours=1))
    event = _share(shared_at=datetime(2026, 1, 2, 4, 4, 5, tzinfo=cet))
    assert event.data.shared_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ValidationError, match="timezone"):
        _share(shared_at=datetime(2026, 1, 2, 3, 4, 5))


def test_wrong_type_for_the_class_is_refused() -> None:
    raw = json.loads(_share().to_json())
    raw["type"] = "io.chorus.points-awarded.v1"
    with pytest.raises(ValidationError, match="type must be"):
        PostShared.model_validate(raw)


def test_unknown_fields_from_newer_producers_are_ignored() -> None:
    raw = json.loads(_share().to_json())
    raw["data"]["added_in_a_later_minor"] = 1
    raw["someextension"] = "x"
    assert PostShared.model_validate(raw).data.share_id == "sh1"


def test_derived_ids_are_deterministic() -> None:
    assert derived_event_id("rule-1", "evt-9") == derived_event_id("rule-1", "evt-9")
    assert derived_event_id("rule-1", "evt-9") != derived_event_id("rule-1", "evt-8")
    award = PointsAwarded.create(
        tenant_id="acme",
        subject="e1",
        event_id=derived_event_id("rule-1", "evt-9"),
        data=PointsAwardedData(
            award_id=derived_event_id("rule-1", "evt-9"),
            employee_id="e1",
            points=-5,
            rule_id="rule-1",
            rule_version=1,
            reason="clawback",
            source_event_id="evt-9",
            source_event_type="io.chorus.post-shared.v1",
            awarded_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
    )
    assert award.id == award.data.award_id


def test_topics_and_types_are_indexed() -> None:
    assert EVENTS_BY_TOPIC["chorus.post-shared.v1"] is PostShared
    assert EVENTS_BY_TYPE["io.chorus.points-awarded.v1"] is PointsAwarded
    assert dlq_topic("chorus.post-shared.v1") == "chorus.post-shared.v1.dlq"
