"""Coaching: the tenant's onboarding path, each person's progress on it, and the areas of
expertise people name. Pure rules, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

# Limits that keep a person's areas and a path small enough to show on one screen.
MAX_AREAS = 10
MAX_AREA_LENGTH = 60
MAX_STEPS = 20

_SPACES = re.compile(r"\s+")


# Cached: the feed's read model compares every live item's topics, and a tenant's items
# share a few hundred topics at most.
@lru_cache(maxsize=4096)
def area(raw: str) -> str:
    """An area of expertise or an item's topic as it is compared: without a leading '#',
    spaces collapsed, case folded ("#Cloud  security" and "cloud security" are one)."""
    return _SPACES.sub(" ", raw.strip().lstrip("#").strip()).casefold()


def areas(raws: Iterable[str]) -> list[str]:
    """A person's areas as kept: normalised, without blanks or repeats, in the given order."""
    return list(dict.fromkeys(a for a in (area(r) for r in raws) if a))


def area_errors(raws: Sequence[str]) -> list[tuple[str, str]]:
    kept = areas(raws)
    errors = [
        (f"areas.{i}", f"at most {MAX_AREA_LENGTH} characters")
        for i, raw in enumerate(raws)
        if len(area(raw)) > MAX_AREA_LENGTH
    ]
    if len(kept) > MAX_AREAS:
        errors.append(("areas", f"at most {MAX_AREAS} areas"))
    return errors


# -- the onboarding path -------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of the path: a title and a body per language (at least one language)."""

    id: str
    titles: Mapping[str, str]
    bodies: Mapping[str, str] = field(default_factory=dict)

    def text(self, languages: Sequence[str], fallback: str | None) -> tuple[str, str, str]:
        """(language, title, body) in the first of `languages` the step is written in,
        else in `fallback`, else in any language it has."""
        order = [*languages, *([fallback] if fallback else []), *sorted(self.titles)]
        for lang in order:
            if self.titles.get(lang):
                return lang, self.titles[lang], self.bodies.get(lang, "")
        return "", "", ""


@dataclass(frozen=True, slots=True)
class OnboardingPath:
    """A tenant's path at `version` (0: the program team wrote none yet)."""

    tenant: str
    version: int = 0
    steps: tuple[Step, ...] = ()
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class StepsDone:
    """The steps one person did, by step id, and when (steps since removed included)."""

    employee_id: str
    done: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Expertise:
    """The areas of expertise a person named (normalised), and when: `stamp` in ms since
    the epoch orders the namings."""

    tenant: str
    employee_id: str
    areas: tuple[str, ...]
    stamp: int
    updated_at: datetime


@dataclass(frozen=True)
class StepIn:
    """A step as the program team sends it: `id` None for a new one."""

    id: str | None
    titles: Mapping[str, str]
    bodies: Mapping[str, str]


def revise(
    current: Sequence[Step], wanted: Sequence[StepIn], new_id: Any
) -> tuple[list[Step], list[tuple[str, str]]]:
    """The path as `wanted` (in that order), or the errors: a given id must be one of the
    current steps' and appear once; a new step gets `new_id()`. A step left out is
    removed; progress on the others is kept, because their ids stay."""
    known = {step.id for step in current}
    errors: list[tuple[str, str]] = []
    if len(wanted) > MAX_STEPS:
        errors.append(("steps", f"at most {MAX_STEPS} steps"))
    seen: set[str] = set()
    steps: list[Step] = []
    for index, step in enumerate(wanted):
        titles = {k: v.strip() for k, v in step.titles.items() if v.strip()}
        bodies = {k: v.strip() for k, v in step.bodies.items() if v.strip() and k in titles}
        if step.id is not None and (step.id not in known or step.id in seen):
            errors.append((f"steps.{index}.id", "not a step of the current path"))
        if not titles:
            errors.append((f"steps.{index}.titles", "a step needs a title in one language"))
        step_id = step.id if step.id is not None else str(new_id())
        seen.add(step_id)
        steps.append(Step(step_id, titles, bodies))
    return steps, errors


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done >= self.total


def progress(steps: Sequence[Step], done: Iterable[str]) -> Progress:
    """How far a person is on the path as it is now: a removed step no longer counts."""
    ids = {step.id for step in steps}
    return Progress(len(ids & set(done)), len(ids))


# -- who knows what, and what there is about it ----------------------------------------------


@dataclass(frozen=True)
class AreaRow:
    area: str
    people: int
    live_items: int

    @property
    def uncovered(self) -> bool:
        """People know about it and nothing live is about it."""
        return self.people > 0 and self.live_items == 0


def coverage(
    people_areas: Iterable[Iterable[str]], item_areas: Iterable[Iterable[str]]
) -> list[AreaRow]:
    """Each area somebody named: how many name it and how many live items are about it;
    the uncovered first, then by people (most first), then by name."""
    people: dict[str, int] = {}
    for named in people_areas:
        for name in set(named):
            people[name] = people.get(name, 0) + 1
    items: dict[str, int] = dict.fromkeys(people, 0)
    for topics in item_areas:
        for name in set(topics):
            if name in items:
                items[name] += 1
    rows = [AreaRow(name, count, items[name]) for name, count in people.items()]
    return sorted(rows, key=lambda r: (not r.uncovered, -r.people, r.area))
