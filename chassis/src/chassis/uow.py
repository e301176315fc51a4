"""The unit of work: what a use case changes, and the events that say so, land together.

A use case opens one unit, lets its repositories add their writes with the domain events
each write raises, and leaves the block; on a clean exit the unit commits. Committing
applies every write in order, each one a single-document write that carries its events
(see `chassis.outbox`), then hands the events of the writes that landed to the relay's
fast path. A write whose condition no longer holds (someone changed the document
meanwhile, or its key is taken) raises `Conflict`; writes applied before it keep their
events, because an event exists exactly when its write landed.

    async with UnitOfWork() as uow:
        uow.add(services.repo.advocate_saved(before, after), [AdvocateEnrolled(...)])

The unit knows nothing of the store: a write is anything with `apply` and `publish`.
The MongoDB write is `chassis.outbox.DocumentWrite`; tests of use cases give in-memory
writes of their own repositories' fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

from contracts import AnyEvent


class Write(Protocol):
    """One document's change, built by a repository."""

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        """Write the change with `events` staged in it: whether it landed. A write that
        must land raises `Conflict` instead; one that may be a repeat (an idempotent
        insert) returns False, and its events are not published."""

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        """Publish the staged events now; on failure they stay staged for the relay."""


class UnitOfWork:
    """Collects writes and their events; `commit` applies them, then publishes.

    `committed` holds the events of the writes that landed, for the caller and for tests.
    """

    def __init__(self) -> None:
        self._writes: list[tuple[Write, tuple[AnyEvent, ...]]] = []
        self.committed: list[AnyEvent] = []

    @property
    def events(self) -> list[AnyEvent]:
        """The events collected and not yet committed, in order."""
        return [event for _, events in self._writes for event in events]

    def add(self, write: Write, events: Sequence[AnyEvent] = ()) -> None:
        self._writes.append((write, tuple(events)))

    async def commit(self) -> None:
        writes, self._writes = self._writes, []
        landed: list[tuple[Write, tuple[AnyEvent, ...]]] = []
        try:
            for write, events in writes:
                if await write.apply(events):
                    landed.append((write, events))
        finally:
            for write, events in landed:
                if events:
                    await write.publish(events)
                self.committed.extend(events)

    def rollback(self) -> None:
        """Forget what was collected; nothing was written."""
        self._writes = []

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.commit()
        else:
            self.rollback()
