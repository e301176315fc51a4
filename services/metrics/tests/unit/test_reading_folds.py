"""Who the advocates are and the names each share counts under are brought up to date with
the records added since, not built again: the breakdowns read from them must say what a
build from every record says, and a fact that changes no one keeps what was made."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from metrics.adapters.memory import FactTable
from metrics.service_layer.handlers import Services
from metrics.service_layer.reading import Figures, Slice

DAY = "2026-11-02"
WHERE = Slice(date(2026, 11, 1), date(2026, 11, 30))


def _fact(n: int, kind: str, advocate: str, **more: Any) -> dict[str, Any]:
    return {
        "_id": f"{kind}:{n}",
        "tenant": "t1",
        "type": kind,
        "day": DAY,
        "time": datetime.fromisoformat(DAY).replace(tzinfo=UTC),
        "advocate": advocate,
        "network": "linkedin",
        **more,
    }


def _enrolled(n: int, advocate: str, group: str) -> dict[str, Any]:
    return _fact(n, "advocate-enrolled", advocate, groups=[group])


def _shared(n: int, advocate: str, group: str, location: str, topics: list[str]) -> dict[str, Any]:
    return _fact(
        n,
        "post-shared",
        advocate,
        share=f"s{n}",
        groups=[group],
        share_location=location,
        topics=topics,
        shares=1,
    )


def _click(n: int, advocate: str, share: str) -> dict[str, Any]:
    return _fact(n, "engagement-observed", advocate, share=share, clicks=1)


def _services() -> Services:
    return Services(repo=None)  # type: ignore[arg-type]  # breakdowns read no settings


async def _rows(services: Services, table: FactTable) -> dict[str, list[dict[str, Any]]]:
    figures = Figures(services, "t1", table)
    return {
        d: await figures.breakdown(WHERE, d, "shares", 50) for d in ("group", "location", "topic")
    }


async def test_what_is_brought_up_to_date_says_what_a_build_from_every_record_says() -> None:
    table = FactTable(0)
    table.add(
        [
            _enrolled(1, "ann", "sales"),
            _enrolled(2, "bob", "hr"),
            _shared(3, "ann", "sales", "Berlin", ["ai", "jobs"]),
            _shared(4, "bob", "hr", "Lisbon", ["jobs"]),
            _click(5, "ann", "s3"),
        ]
    )
    kept = _services()
    before = await _rows(kept, table)
    assert {r["location"]: r["shares"] for r in before["location"]} == {"Berlin": 1, "Lisbon": 1}
    people = await Figures(kept, "t1", table).people()

    # A click and a share that change no one keep who the advocates are.
    table.add([_click(6, "bob", "s4"), _shared(7, "ann", "sales", "Berlin", ["ai"])])
    assert await Figures(kept, "t1", table).people() is people

    # A new advocate, a new group for one, a new location and topic.
    table.add(
        [
            _enrolled(8, "cy", "sales"),
            _shared(9, "bob", "leaders", "Porto", ["culture"]),
            _shared(10, "cy", "sales", "", []),
            _click(11, "cy", "s9"),
        ]
    )
    after = await _rows(kept, table)
    assert await Figures(kept, "t1", table).people() is not people
    assert after == await _rows(_services(), table)
    assert {r["topic"]: r["shares"] for r in after["topic"]} == {
        "ai": 2,
        "jobs": 2,
        "culture": 1,
    }
    assert {r["group"]: r["shares"] for r in after["group"]} == {
        "sales": 3,
        "hr": 2,
        "leaders": 2,
    }

    # An erasure changes records in place: everything is made again.
    table.erase("t1", "bob", "erased-1")
    erased = await _rows(kept, table)
    assert erased == await _rows(_services(), table)
    assert "bob" not in (await Figures(kept, "t1", table).people()).advocates
