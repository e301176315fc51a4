"""The redirect's own encoding of its LinkClicked is the contract model's JSON, byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts import (
    ContentKind,
    EngagementKind,
    EngagementSource,
    LinkClicked,
    LinkClickedData,
    Network,
)
from share.domain.engagements import ClickEvents, engagement_on_share
from share.domain.shares import Share

SHARES = [
    Share(
        id="sh_1",
        tenant="acme",
        employee_id="e1",
        network=Network.LINKEDIN,
        short_code="Abcd1234",
        target_url="https://example.com",
        content_id="c1",
        campaign_id="spring",
        content_kind=ContentKind.JOB,
    ),
    # An own post: no content item, no campaign, no kind.
    Share(
        id="sh_2",
        tenant="acme",
        employee_id="e2",
        network=Network.X,
        short_code="Bcde2345",
        target_url="https://example.com",
    ),
    # Characters JSON has to escape, and some it must not.
    Share(
        id="sh_3",
        tenant='t"\\enant',
        employee_id="émployée\u2028\x01\t",
        network=Network.XING,
        short_code="Cdef3456",
        target_url="https://example.com",
        content_id="c/ü",
        campaign_id=None,
        content_kind=ContentKind.EVENT,
    ),
]
TIMES = [
    datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC),
    datetime(2026, 5, 4, 12, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


def _both(events: ClickEvents, share: Share, at: datetime) -> tuple[LinkClicked, tuple[str, bytes]]:
    """The model of a click, and `events`' encoding of the same click."""
    same = {"event_id": "ev1", "engagement_id": "click-1", "observed_at": at}
    engagement = engagement_on_share(
        share,
        **same,
        kind=EngagementKind.CLICK,
        source=EngagementSource.REDIRECT,
        visitor="v" * 32,
    )
    model = LinkClicked.create(
        tenant_id=share.tenant,
        subject=share.id,
        event_id="ev1",
        time=at,
        data=LinkClickedData(**engagement.data.model_dump()),
    )
    return model, events.encode(share, **same, visitor="v" * 32)


@pytest.mark.parametrize("share", SHARES, ids=lambda s: s.id)
@pytest.mark.parametrize("at", TIMES, ids=str)
def test_click_event_is_the_models_json(share: Share, at: datetime) -> None:
    events = ClickEvents()
    for _ in range(2):  # the second time from the per-share cache
        model, (key, value) = _both(events, share, at)
        assert value == model.to_json()
        assert key == model.partition_key()
        assert LinkClicked.model_validate_json(value) == model


def test_the_share_cache_is_bounded() -> None:
    events = ClickEvents(max_shares=2)
    for n in range(5):
        share = replace(SHARES[1], id=f"sh_{n}")
        events.encode(
            share,
            event_id="e",
            engagement_id="c",
            observed_at=TIMES[0],
            visitor="v",
        )
    assert len(events._parts) <= 2


def test_one_encoder_follows_the_clock_across_seconds_and_days() -> None:
    events = ClickEvents()
    start = datetime(2026, 5, 4, 23, 59, 58, 999999, tzinfo=UTC)
    moments = [start + timedelta(microseconds=n * 250_001) for n in range(12)]
    moments.append(datetime(2026, 5, 5, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))))
    for at in moments:
        model, (_, value) = _both(events, SHARES[0], at)
        assert value == model.to_json(), at
