"""Who sees an item: groups, locations and languages. An empty axis means everyone."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

# Stored in place of an empty axis, so "everyone or one of mine" is a single `$in` query.
EVERYONE = "*"


@dataclass(frozen=True)
class Viewer:
    """The targeting claims of an employee's token."""

    groups: frozenset[str]
    location: str | None
    languages: tuple[str, ...]


def axis(values: Iterable[str]) -> list[str]:
    """How one audience axis is stored: its values, or the everyone marker."""
    stored = sorted({v for v in values if v})
    return stored or [EVERYONE]


def matches(values: Iterable[str]) -> list[str]:
    """What a viewer's values match on a stored axis: their own, and the everyone marker."""
    return [*sorted(set(values)), EVERYONE]


def sees(
    viewer: Viewer,
    groups: Collection[str],
    locations: Collection[str],
    languages: Collection[str],
) -> bool:
    """Whether an audience targets `viewer` (the same rule as the stored-axis query)."""
    by_location = [viewer.location] if viewer.location else []
    return all(
        not wanted or bool(set(wanted) & set(have))
        for wanted, have in (
            (groups, viewer.groups),
            (locations, by_location),
            (languages, viewer.languages),
        )
    )
