"""Reward suggestions: employees propose rewards and vote; the program team decides.

Pure rules, no I/O:

- a suggestion is open until the program team marks it stocked (optionally naming the
  catalog item that now answers it) or declined; either can be undone (back to open);
- one vote per person and suggestion; voting again or taking back a vote not cast changes
  nothing; votes are cast on open suggestions only, and can be taken back at any time;
- the one who suggests votes for it too, so a suggestion starts with one vote;
- two open suggestions never have the same title (compared without case and extra spaces):
  a second one is a vote for the first;
- the ranking is by votes, most first; of equal votes the older suggestion first (it has
  waited longer);
- on erasure, a person's suggestions and votes stay (the ranking others see does not
  move) under a pseudonym instead of their id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# The name an erased person's records carry: the platform's rule, so every service names
# them alike.
from contracts.erasure import person_key
from contracts.erasure import pseudonym as pseudonym

TITLE_MAX = 120
DESCRIPTION_MAX = 500
# Open suggestions one person may have at a time: a list stays a dialogue, not a flood.
OPEN_PER_PERSON = 10


class SuggestionStatus(StrEnum):
    OPEN = "open"
    STOCKED = "stocked"
    DECLINED = "declined"


def title_key(title: str) -> str:
    """What two titles are compared by: case, accents' composition and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def can_vote(status: SuggestionStatus, already_voted: bool) -> bool:
    """A vote is cast on an open suggestion; one already cast stands whatever the status."""
    return already_voted or status is SuggestionStatus.OPEN


def links_item(status: SuggestionStatus, item_id: str | None) -> bool:
    """Only a stocked suggestion names the catalog item that answers it."""
    return item_id is None or status is SuggestionStatus.STOCKED


@dataclass(frozen=True)
class Ranked:
    suggestion_id: str
    votes: int


def ranking_key(votes: int, suggestion_id: str) -> tuple[int, str]:
    """Most votes first; then by id, which is time-ordered: the older first."""
    return (-votes, suggestion_id)


def rank(entries: Iterable[Ranked]) -> list[Ranked]:
    return sorted(entries, key=lambda e: ranking_key(e.votes, e.suggestion_id))


def after(entry: Ranked, position: tuple[int, str]) -> bool:
    """Whether `entry` comes after the ranking position (votes, suggestion id) of a cursor."""
    votes, suggestion_id = position
    return ranking_key(entry.votes, entry.suggestion_id) > ranking_key(votes, suggestion_id)


def erasure_key(tenant: str, employee_id: str) -> str:
    """How an erasure is listed: the platform's keyed `person_key`, never the id itself."""
    return person_key(tenant, employee_id)


@dataclass(frozen=True, slots=True)
class RewardSuggestion:
    """A reward someone suggested, and the program team's decision on it."""

    suggestion_id: str
    title: str
    description: str | None
    suggested_by: str
    suggested_at: datetime
    status: SuggestionStatus = SuggestionStatus.OPEN
    item_id: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None

    @property
    def title_key(self) -> str:
        return title_key(self.title)


@dataclass(frozen=True, slots=True)
class Vote:
    suggestion_id: str
    voter: str
    voted_at: datetime
