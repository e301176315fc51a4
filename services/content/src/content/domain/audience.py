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


@dataclass(frozen=True, slots=True)
class Audience:
    """One item's audience, each axis a set of values or None for everyone."""

    groups: frozenset[str] | None
    locations: frozenset[str] | None
    languages: frozenset[str] | None

    @classmethod
    def of(
        cls, groups: Iterable[str], locations: Iterable[str], languages: Iterable[str]
    ) -> Audience:
        """From the axes as given or as stored: an empty axis, or one holding the everyone
        marker, is open to everyone."""
        return cls(_open_or(groups), _open_or(locations), _open_or(languages))

    def admits(self, viewer: Viewer) -> bool:
        """The rule the stored-axis query applies: each axis open, or one of the viewer's."""
        return (
            (self.groups is None or not self.groups.isdisjoint(viewer.groups))
            and (self.locations is None or viewer.location in self.locations)
            and (self.languages is None or not self.languages.isdisjoint(viewer.languages))
        )


def _open_or(values: Iterable[str]) -> frozenset[str] | None:
    wanted = frozenset(v for v in values if v)
    return None if not wanted or EVERYONE in wanted else wanted


def sees(
    viewer: Viewer,
    groups: Collection[str],
    locations: Collection[str],
    languages: Collection[str],
) -> bool:
    """Whether an audience targets `viewer` (the same rule as the stored-axis query)."""
    return Audience.of(groups, locations, languages).admits(viewer)
