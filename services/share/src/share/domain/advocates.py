"""Advocates: who may share, under which guidelines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contracts import Network
from share.domain.content import Guidelines


class AdvocateStatus(StrEnum):
    ENROLLED = "enrolled"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True, slots=True)
class ConnectedNetwork:
    audience_size: int
    connected_at: datetime
    direct_posting: bool = False  # a posting token of theirs is kept


@dataclass(frozen=True, slots=True)
class Advocate:
    """An employee's membership of the program, as they last joined or left it.

    `rev` counts the writes of it: a new state is written only over the one it came from.
    `pseudonym` is set while an erasure of the person is under way, with `erasure_request`,
    the id of the AdvocateOptedOut that asked for it (the request every service confirms);
    `deleted_version` is the directory's deletion of them that was announced. Someone the
    directory deleted without their ever joining has no `consent_at`.
    """

    tenant: str
    employee_id: str
    status: AdvocateStatus
    consent_at: datetime | None = None
    guidelines_version: int | None = None
    groups: tuple[str, ...] = ()
    location: str | None = None
    languages: tuple[str, ...] = ()
    networks: Mapping[Network, ConnectedNetwork] = field(default_factory=dict)
    opted_out_at: datetime | None = None
    pseudonym: str | None = None
    deleted_version: int | None = None
    rev: int = 0
    erasure_request: str | None = None


@dataclass(frozen=True, slots=True)
class Erased:
    """What is remembered of an erased person, under a key that does not name them."""

    opted_out_at: datetime
    pseudonym: str
    deleted_version: int | None = None
    request_id: str | None = None  # the erasure request share confirmed


@dataclass(frozen=True, slots=True)
class UnfinishedErasure:
    """An erasure begun and not finished (a crash cut it short)."""

    tenant: str
    employee_id: str
    pseudonym: str


@dataclass(frozen=True, slots=True)
class NetworkToken:
    """What is kept of a posting token, without the token itself."""

    network: str
    author: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DailyCount:
    """How many shares count against a day's cap."""

    day: str  # YYYY-MM-DD
    shares: int


def cannot_share_as(
    advocate: Advocate | None, guidelines: Guidelines | None, acknowledged: int
) -> str | None:
    """Why this employee may not share right now, or None."""
    if advocate is None or advocate.status != AdvocateStatus.ENROLLED:
        return "join the advocacy program first (POST /api/v1/advocates/me)"
    if guidelines and guidelines.acknowledgement_required:
        version = guidelines.version
        if acknowledged < version:
            return f"acknowledge the sharing guidelines version {version} first"
    return None


def audience_size(advocate: Advocate | None, network: str) -> int:
    connected = advocate.networks.get(Network(network)) if advocate else None
    return connected.audience_size if connected else 0


def is_leader(groups: Iterable[str], leaders_group: str | None) -> bool:
    """Whether someone counts as one of the tenant's leaders: a member of the group the
    program team named (the one place this is decided; events carry the answer)."""
    return bool(leaders_group) and leaders_group in set(groups)
