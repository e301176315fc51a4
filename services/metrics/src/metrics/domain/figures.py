"""What each event adds to the figures: pure functions."""

from __future__ import annotations

from contracts import (
    AnyEvent,
    ContentPublished,
    EngagementObserved,
    PointsAwarded,
    PostShared,
)


def increments(event: AnyEvent) -> dict[str, int]:
    """The counters an event moves, by name."""
    if isinstance(event, PostShared):
        return {"shares": 1}
    if isinstance(event, PointsAwarded):
        return {"points": event.data.points}
    if isinstance(event, EngagementObserved):
        name = f"{event.data.kind.value}s"
        counts = {name: event.data.count}
        if event.data.unique:
            counts[f"unique_{name}"] = event.data.count
        return counts
    if isinstance(event, ContentPublished):
        return {"content_published": 1}
    return {}


def day_of(event: AnyEvent) -> str:
    return event.time.date().isoformat()
