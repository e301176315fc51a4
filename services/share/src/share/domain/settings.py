"""A tenant's sharing settings, each unset until the program team sets it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TenantSettings:
    daily_share_cap: int | None = None
    # The directory group whose members are the tenant's leaders.
    leaders_group: str | None = None
    # The domains own posts may lead to without a stop; None: the default list.
    link_domains: tuple[str, ...] | None = None
