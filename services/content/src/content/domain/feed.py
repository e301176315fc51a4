"""The employee feed's order: the viewer's languages first, then newest, then most shared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Items are ranked by the day they went live, and within a day by how often they were
# shared: a fresh item is not buried under an old popular one, and among the day's items
# the ones colleagues found worth sharing come first.
SORT: list[tuple[str, int]] = [("publish_day", -1), ("shares", -1), ("_id", -1)]


def publish_day(publish_at: datetime) -> str:
    return publish_at.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Position:
    """Where a feed page ended: the language phase and the last item's sort key."""

    phase: int
    day: str
    shares: int
    item_id: str

    def encode(self) -> dict[str, Any]:
        return {"p": self.phase, "d": self.day, "s": self.shares, "i": self.item_id}

    @classmethod
    def decode(cls, raw: dict[str, Any]) -> Position | None:
        phase, day, shares, item_id = raw.get("p"), raw.get("d"), raw.get("s"), raw.get("i")
        if (
            not isinstance(phase, int)
            or phase not in (0, 1)
            or not isinstance(day, str)
            or not isinstance(shares, int)
            or not isinstance(item_id, str)
        ):
            return None
        return cls(phase, day, shares, item_id)

    @classmethod
    def after(cls, phase: int, doc: dict[str, Any]) -> Position:
        return cls(phase, str(doc["publish_day"]), int(doc.get("shares", 0)), str(doc["_id"]))

    def after_filter(self) -> dict[str, Any]:
        """The query that continues after this position within its phase."""
        return {
            "$or": [
                {"publish_day": {"$lt": self.day}},
                {"publish_day": self.day, "shares": {"$lt": self.shares}},
                {"publish_day": self.day, "shares": self.shares, "_id": {"$lt": self.item_id}},
            ]
        }


def phases(languages: Sequence[str]) -> list[dict[str, Any]]:
    """Language filters in feed order: the viewer's languages, then every other item."""
    if not languages:
        return [{}]
    return [{"language": {"$in": list(languages)}}, {"language": {"$nin": list(languages)}}]
