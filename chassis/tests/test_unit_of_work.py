"""The unit of work's order: apply every write, then publish what landed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chassis.domain_errors import Conflict
from chassis.uow import UnitOfWork
from contracts import AnyEvent
from support import post_shared


class FakeWrite:
    def __init__(self, log: list[str], name: str, lands: bool | None = True) -> None:
        self.log, self.name, self.lands = log, name, lands

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        self.log.append(f"apply {self.name}")
        if self.lands is None:
            raise Conflict("changed meanwhile")
        return self.lands

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        self.log.append(f"publish {self.name} {len(events)}")


async def test_writes_are_applied_in_order_before_any_event_is_published() -> None:
    log: list[str] = []
    events = [post_shared(1), post_shared(2)]
    async with UnitOfWork() as uow:
        uow.add(FakeWrite(log, "a"), events[:1])
        uow.add(FakeWrite(log, "b"), events[1:])
        assert uow.events == events and log == []
    assert log == ["apply a", "apply b", "publish a 1", "publish b 1"]
    assert uow.committed == events


async def test_a_repeat_is_not_published() -> None:
    log: list[str] = []
    async with UnitOfWork() as uow:
        uow.add(FakeWrite(log, "a", lands=False), [post_shared(1)])
    assert log == ["apply a"] and uow.committed == []


async def test_a_conflict_keeps_the_events_of_the_writes_that_landed_before_it() -> None:
    log: list[str] = []
    first = post_shared(1)
    with pytest.raises(Conflict):
        async with UnitOfWork() as uow:
            uow.add(FakeWrite(log, "a"), [first])
            uow.add(FakeWrite(log, "b", lands=None), [post_shared(2)])
            uow.add(FakeWrite(log, "c"), [post_shared(3)])
    assert log == ["apply a", "apply b", "publish a 1"]
    assert uow.committed == [first]


async def test_an_error_in_the_block_writes_nothing() -> None:
    log: list[str] = []
    with pytest.raises(RuntimeError):
        async with UnitOfWork() as uow:
            uow.add(FakeWrite(log, "a"), [post_shared(1)])
            raise RuntimeError("the use case failed")
    assert log == [] and uow.events == []
