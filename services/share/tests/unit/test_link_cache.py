"""The short-link cache asks the store once per link and period, however many clicks come."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from contracts import Network
from share.adapters.clicks import LinkCache
from share.adapters.mongo import ShareRepository
from share.domain.shares import Share, ShareStatus


@dataclass
class FakeShares:
    docs: dict[str, Share] = field(default_factory=dict)
    lookups: int = 0

    queries: list[list[str]] = field(default_factory=list)

    async def shares_by_code(self, codes: Sequence[str]) -> dict[str, Share]:
        self.lookups += len(codes)
        self.queries.append(list(codes))
        await asyncio.sleep(0.01)
        return {code: self.docs[code] for code in codes if code in self.docs}


def _share(status: str = "shared", stopped: bool = False, code: str = "Abcd1234") -> Share:
    return Share(
        id="sh_1",
        tenant="acme",
        employee_id="e1",
        network=Network.X,
        short_code=code,
        target_url="https://example.com",
        status=ShareStatus(status),
        stopped=stopped,
    )


def _cache(shares: FakeShares, ttl: float) -> LinkCache:
    return LinkCache(cast(ShareRepository, shares), ttl=ttl)


async def test_concurrent_clicks_on_a_new_link_make_one_lookup() -> None:
    shares = FakeShares({"Abcd1234": _share()})
    cache = _cache(shares, ttl=30)
    found = await asyncio.gather(*(cache.get("Abcd1234") for _ in range(50)))
    assert all(share == _share() for share in found)
    assert shares.lookups == 1
    await cache.get("Abcd1234")
    assert shares.lookups == 1


async def test_an_expired_link_answers_while_one_lookup_refreshes_it() -> None:
    shares = FakeShares({"Abcd1234": _share()})
    cache = _cache(shares, ttl=0.05)
    await cache.get("Abcd1234")
    await asyncio.sleep(0.1)
    shares.docs["Abcd1234"] = _share(stopped=True)
    stale = await asyncio.gather(*(cache.get("Abcd1234") for _ in range(20)))
    assert all(share is not None and not share.stopped for share in stale)
    await asyncio.sleep(0.05)
    assert shares.lookups == 2
    refreshed = await cache.get("Abcd1234")
    assert refreshed is not None and refreshed.stopped is True


async def test_unknown_and_withdrawn_links_are_not_kept() -> None:
    shares = FakeShares({"Abcd1234": _share("scheduled")})
    cache = _cache(shares, ttl=30)
    assert await cache.get("Abcd1234") is None
    assert await cache.get("Zzzz9999") is None
    shares.docs["Abcd1234"] = _share()
    assert await cache.get("Abcd1234") is not None
    assert shares.lookups == 3


async def test_new_links_clicked_while_a_lookup_runs_share_the_next_query() -> None:
    codes = [f"Code{n:04d}" for n in range(200)]
    shares = FakeShares({code: _share(code=code) for code in codes})
    cache = _cache(shares, ttl=30)
    found = await asyncio.gather(*(cache.get(code) for code in [*codes, "Zzzz9999"]))
    assert [share.short_code for share in found if share is not None] == codes
    assert found[-1] is None
    # The first query takes the first link; the links clicked meanwhile share the next.
    assert len(shares.queries) <= 3
    assert sorted(code for query in shares.queries for code in query) == sorted(
        [*codes, "Zzzz9999"]
    )
