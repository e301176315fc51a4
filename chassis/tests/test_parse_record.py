"""What counts as a poison record: pure parsing, no broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from chassis.consumer import PoisonRecord, parse_record
from contracts import PostShared, PostSharedData


def _record(topic: str, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, 5, 0, 0, b"k", value, None, 1, len(value or b""), [])


def _event() -> PostShared:
    return PostShared.create(
        tenant_id="acme",
        subject="s",
        data=PostSharedData(
            share_id="s",
            content_id=None,
            employee_id="e",
            network="x",
            short_code="abcd1234",
            tracked_url="https://go.example.com/l/abcd1234",
            shared_at=datetime.now(UTC),
            method="intent",
        ),
    )


def test_a_valid_record_parses_to_its_topic_event() -> None:
    event = _event()
    assert parse_record(_record(PostShared.topic, event.to_json())) == event


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "invalid io.chorus.post-shared.v1"),
        (b'{"specversion": "1.0"}', "id: Field required"),
        (None, "empty record value"),
    ],
)
def test_poison_records_say_why(value: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonRecord, match=reason):
        parse_record(_record(PostShared.topic, value))


def test_an_event_on_the_wrong_topic_is_poison() -> None:
    with pytest.raises(PoisonRecord, match=r"invalid io\.chorus\.points-awarded\.v1"):
        parse_record(_record("chorus.points-awarded.v1", _event().to_json()))
    with pytest.raises(PoisonRecord, match="no event contract"):
        parse_record(_record("chorus.unknown.v1", _event().to_json()))
