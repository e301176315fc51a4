"""Activities as stored for rule simulations: packed per batch, read back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rewards.adapters.events import activity_doc, activity_from_doc
from rewards.adapters.mongo import _activities_of, pack_activities
from rewards.domain.rules import Action, Activity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_packed_batch_reads_back_as_the_same_activities() -> None:
    activities = [
        Activity("ev1", "io.chorus.post-shared.v1", "e1", Action.SHARE, T0, content_id="c1"),
        Activity(
            "ev2",
            "io.chorus.engagement-observed.v1",
            "e2",
            Action.CLICK,
            T0 + timedelta(seconds=1, microseconds=5),
            count=2,
            content_kind="job",
            campaign_id="k",
            excluded="self-engagement",
        ),
        Activity("ev3", "io.chorus.engagement-observed.v1", "e2", None, T0),
    ]
    doc = {"packed": pack_activities([activity_doc(a) for a in activities])}
    assert [activity_from_doc(d) for d in _activities_of(doc)] == activities


def test_batches_stored_as_lists_of_documents_still_read() -> None:
    stored = activity_doc(Activity("ev1", "t", "e1", Action.SHARE, T0))
    assert _activities_of({"activities": [stored]}) == [stored]
