"""What the use cases need from the outside world, beyond the item repository."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from content.domain.feed import FeedChange, TenantFeed
from content.domain.model import Item


class FeedReadModel(Protocol):
    """The feed's read model: each tenant's live items and shared marks, kept current."""

    async def tenant(self, tenant: str) -> TenantFeed:
        """What the feed shows of `tenant` now (loaded on first use)."""
        ...

    async def record(self, tenant: str, change: FeedChange) -> None:
        """After a write: apply `change` here at once and announce it to every process."""
        ...

    async def written(self, tenant: str, items: Sequence[Item]) -> None:
        """After a write of `items`: show them as written (or no longer, when they left the
        feed), here at once and in every process."""
        ...

    async def forget(self, tenant: str, employee: str) -> None:
        """After an erasure: drop the person here and in every process, and from the
        change log."""
        ...
