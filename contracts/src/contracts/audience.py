"""Who an item is for: the one targeting rule of every service.

An audience has three axes, groups, locations and languages; an empty axis is open to
everyone. A person is in the audience when, on every axis, the axis is open or holds one of
their values. Groups and locations compare as written. Languages compare by their primary
subtag, case aside (BCP 47): an item for `de` reaches a `de-DE` speaker, and one for
`en-GB` an `en` speaker.

Content applies the rule to its feed and to an item asked for by id (through the stored form
below), share to who may share an item and to the audience count. Pure functions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

# Stored in place of an empty axis, so "everyone or one of mine" is a single `$in` query.
EVERYONE = "*"


def language_key(tag: str) -> str:
    """How a language compares: its primary subtag in lower case (`de-DE` -> `de`)."""
    return tag.strip().replace("_", "-").split("-", 1)[0].lower()


@dataclass(frozen=True)
class Viewer:
    """The targeting claims of a person's token."""

    groups: frozenset[str]
    location: str | None
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Audience:
    """One item's audience, each axis a set of values or None for everyone (languages as
    their keys)."""

    groups: frozenset[str] | None
    locations: frozenset[str] | None
    languages: frozenset[str] | None

    @classmethod
    def of(
        cls, groups: Iterable[str], locations: Iterable[str], languages: Iterable[str]
    ) -> Audience:
        """From the axes as given or as stored: an empty axis, or one holding the everyone
        marker, is open to everyone."""
        keys = _open_or(languages)
        return cls(
            _open_or(groups),
            _open_or(locations),
            None if keys is None else frozenset(map(language_key, keys)),
        )

    def admits(self, viewer: Viewer) -> bool:
        """The rule: each axis open, or holding one of the viewer's values."""
        return (
            (self.groups is None or not self.groups.isdisjoint(viewer.groups))
            and (self.locations is None or viewer.location in self.locations)
            and (
                self.languages is None
                or not self.languages.isdisjoint(map(language_key, viewer.languages))
            )
        )


def _open_or(values: Iterable[str]) -> frozenset[str] | None:
    wanted = frozenset(v for v in values if v)
    return None if not wanted or EVERYONE in wanted else wanted


def admits(
    viewer: Viewer,
    groups: Collection[str],
    locations: Collection[str],
    languages: Collection[str],
) -> bool:
    """Whether an audience, given axis by axis, is for `viewer`."""
    return Audience.of(groups, locations, languages).admits(viewer)


# -- the stored form: one `$in` per axis ----------------------------------------------------


def axis(values: Iterable[str]) -> list[str]:
    """How a groups or locations axis is stored: its values, or the everyone marker."""
    stored = sorted({v for v in values if v})
    return stored or [EVERYONE]


def language_axis(values: Iterable[str]) -> list[str]:
    """How a languages axis is stored: the languages' keys, or the everyone marker."""
    return axis(language_key(v) for v in values if v)


def matches(values: Iterable[str]) -> list[str]:
    """What a viewer's groups or location match on a stored axis: theirs, and everyone."""
    return [*sorted({v for v in values if v}), EVERYONE]


def language_matches(values: Iterable[str]) -> list[str]:
    """What a viewer's languages match on a stored languages axis: their keys, and
    everyone; the tags as written too, for an axis stored before languages were keyed."""
    tags = {v for v in values if v}
    return matches({*tags, *map(language_key, tags)})
