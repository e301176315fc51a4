"""Advocates: who may share, under which guidelines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def cannot_share_as(
    advocate: dict[str, Any] | None, guidelines: dict[str, Any] | None, acknowledged: int
) -> str | None:
    """Why this employee may not share right now, or None."""
    if advocate is None or advocate.get("status") != "enrolled":
        return "join the advocacy program first (POST /api/v1/advocates/me)"
    if guidelines and guidelines.get("acknowledgement_required"):
        version = int(guidelines["version"])
        if acknowledged < version:
            return f"acknowledge the sharing guidelines version {version} first"
    return None


def audience_size(advocate: dict[str, Any] | None, network: str) -> int:
    networks: dict[str, Any] = (advocate or {}).get("networks") or {}
    return int((networks.get(network) or {}).get("audience_size", 0))


def is_leader(groups: Iterable[str], leaders_group: str | None) -> bool:
    """Whether someone counts as one of the tenant's leaders: a member of the group the
    program team named (the one place this is decided; events carry the answer)."""
    return bool(leaders_group) and leaders_group in set(groups)
