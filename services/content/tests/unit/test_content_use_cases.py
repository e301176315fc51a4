"""The content hub's use cases against in-memory stores: items through the workflow, who
may change them, stale writes, guidelines and onboarding steps, and the events each one
commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chassis.auth import Principal
from chassis.domain_errors import Conflict, Forbidden, NotFound
from content.adapters.mongo import item_document
from content.domain import coaching as coaching_rules
from content.domain import feed, model
from content.domain.guidelines import Acknowledgement, Guidelines, TenantSettings
from content.domain.model import Item
from content.service_layer import coaching, handlers
from contracts import (
    AnyEvent,
    ContentKind,
    ContentPublished,
    ContentRetired,
    ContentUpdated,
    GuidelinesAcknowledged,
    OnboardingStepCompleted,
    audience,
)
from support import MemoryWrite, Units

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "acme"


class FakeRepository:
    """The collections the use cases below read and write, as dictionaries."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}
        self.guidelines: dict[tuple[str, int], Guidelines] = {}
        self.acks: dict[str, Acknowledgement] = {}
        self.paths: dict[str, coaching_rules.OnboardingPath] = {}
        self.progress: dict[str, coaching_rules.StepsDone] = {}
        self.published: list[AnyEvent] = []

    async def tenant_settings(self, tenant: str) -> TenantSettings:
        return TenantSettings(tenant)

    # -- items

    async def get(self, tenant: str, content_id: str) -> Item | None:
        return self.items.get((tenant, content_id))

    async def visible_item(
        self, tenant: str, content_id: str, viewer: audience.Viewer, now: datetime
    ) -> Item | None:
        item = await self.get(tenant, content_id)
        if item is None:
            return None
        doc = item_document(item)
        if doc["status"] != "published" or doc["live_until"] <= now:
            return None
        axes = (doc["aud_groups"], doc["aud_locations"], doc["aud_languages"])
        return item if audience.Audience.of(*axes).admits(viewer) else None

    def item_created(self, item: Item) -> MemoryWrite:
        key = (item.tenant, item.id)

        def insert() -> bool:
            if key in self.items:
                return False
            self.items[key] = item
            return True

        return MemoryWrite(insert, self.published, conflict=f"an item {item.id} exists already")

    def item_saved(self, before: Item, after: Item) -> MemoryWrite:
        key = (before.tenant, before.id)

        def save() -> bool:
            held = self.items.get(key)
            if held is None or held.rev != before.rev:
                return False
            self.items[key] = replace(after, rev=before.rev + 1)
            return True

        return MemoryWrite(
            save, self.published, conflict="the item changed meanwhile; read it again and retry"
        )

    async def due_for_release(self, now: datetime, limit: int) -> list[Item]:
        due = [i for i in self.items.values() if i.status is model.Status.SCHEDULED]
        return [i for i in due if i.publish_at is not None and i.publish_at <= now][:limit]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Item]:
        due = [i for i in self.items.values() if i.status is model.Status.PUBLISHED]
        return [i for i in due if (i.expires_at or now) <= now][:limit]

    # -- guidelines

    async def current_guidelines(self, tenant: str) -> Guidelines | None:
        mine = [g for (t, _), g in self.guidelines.items() if t == tenant]
        return max(mine, key=lambda g: g.version, default=None)

    async def guidelines_version(self, tenant: str, version: int) -> Guidelines | None:
        return self.guidelines.get((tenant, version))

    def guidelines_published(self, guidelines: Guidelines) -> MemoryWrite:
        key = (guidelines.tenant, guidelines.version)

        def insert() -> bool:
            if key in self.guidelines:
                return False
            self.guidelines[key] = guidelines
            return True

        return MemoryWrite(
            insert, self.published, conflict="another version was published meanwhile; retry"
        )

    async def acknowledgement(
        self, tenant: str, employee: str, version: int
    ) -> Acknowledgement | None:
        return self.acks.get(f"{tenant}:{employee}:{version}")

    def acknowledgement_recorded(self, ack: Acknowledgement) -> MemoryWrite:
        key = f"{ack.tenant}:{ack.employee_id}:{ack.version}"

        def insert() -> bool:
            if key in self.acks:
                return False
            self.acks[key] = ack
            return True

        return MemoryWrite(insert, self.published, must_land=False)

    # -- coaching

    async def onboarding_path(self, tenant: str) -> coaching_rules.OnboardingPath | None:
        return self.paths.get(tenant)

    async def progress_of(self, tenant: str, employee: str) -> coaching_rules.StepsDone | None:
        return self.progress.get(f"{tenant}:{employee}")

    def step_done(self, tenant: str, employee: str, step_id: str, at: datetime) -> MemoryWrite:
        key = f"{tenant}:{employee}"

        def mark() -> bool:
            held = self.progress.get(key) or coaching_rules.StepsDone(employee)
            if step_id in held.done:
                return False
            self.progress[key] = replace(held, done={**held.done, step_id: at})
            return True

        return MemoryWrite(mark, self.published, must_land=False)


class FakeFeed:
    """The feed's read model in memory: each tenant's feed with the changes recorded
    applied, and the changes themselves."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, feed.FeedChange]] = []
        self.feeds: dict[str, feed.TenantFeed] = {}

    async def tenant(self, tenant: str) -> feed.TenantFeed:
        return self.feeds.setdefault(tenant, feed.TenantFeed(tenant=tenant))

    async def record(self, tenant: str, change: feed.FeedChange) -> None:
        self.changes.append((tenant, change))
        (await self.tenant(tenant)).apply(change)

    async def written(self, tenant: str, items: Sequence[Item]) -> None:
        await self.record(tenant, feed.FeedChange(items=tuple(item_document(i) for i in items)))

    async def forget(self, tenant: str, employee: str) -> None:
        pass


class Hub:
    """The use cases wired to the fakes; `committed` holds the events of every unit of work
    that committed, in order."""

    def __init__(self) -> None:
        self.repo = FakeRepository()
        self.feed = FakeFeed()
        self.units = Units()
        self.services = handlers.Services(
            repo=self.repo,
            previewer=None,
            feed=self.feed,
            clock=lambda: NOW,
            uow=self.units,
        )

    @property
    def committed(self) -> list[AnyEvent]:
        return self.units.committed


def curator(employee: str = "cur-1") -> Principal:
    return Principal(employee_id=employee, tenant=TENANT, roles=frozenset({"curator"}))


def employee(employee: str = "emp-1") -> Principal:
    return Principal(employee_id=employee, tenant=TENANT, roles=frozenset({"employee"}))


ARTICLE = {
    "title": "Our new office",
    "kind": ContentKind.ARTICLE,
    "url": "https://example.com/office",
}


@pytest.fixture
def hub() -> Hub:
    return Hub()


async def stored_item(hub: Hub, content_id: str) -> Item:
    item = await hub.repo.get(TENANT, content_id)
    assert item is not None
    return item


# -- items -----------------------------------------------------------------------------------


async def test_a_curators_item_goes_live_at_once_and_says_so(hub: Hub) -> None:
    doc = await handlers.create_content(hub.services, curator(), dict(ARTICLE))

    assert doc.status == "published" and doc.approved_by == "cur-1"
    assert (await stored_item(hub, doc.id)).status == "published"
    [event] = hub.committed
    assert isinstance(event, ContentPublished) and event.data.title == "Our new office"
    assert hub.repo.published == [event]
    assert [change.items[0]["_id"] for _, change in hub.feed.changes] == [doc.id]


async def test_a_suggestion_is_submitted_approved_and_published(hub: Hub) -> None:
    author = employee()
    draft = await handlers.create_content(hub.services, author, dict(ARTICLE))
    assert draft.status == "draft" and draft.suggestion is True
    assert hub.committed == [] and hub.feed.changes == []

    submitted = await handlers.transition(hub.services, author, draft.id, model.Action.SUBMIT)
    assert submitted.status == "in_review" and submitted.rev == 2
    approved = await handlers.transition(
        hub.services, curator(), draft.id, model.Action.APPROVE, "welcome"
    )

    assert approved.status == "published" and approved.approved_by == "cur-1"
    stored = await stored_item(hub, draft.id)
    assert stored.status == "published" and stored.comment == "welcome"
    [event] = hub.committed
    assert isinstance(event, ContentPublished) and event.data.published_by == "cur-1"


async def test_a_published_item_that_is_edited_announces_its_change(hub: Hub) -> None:
    doc = await handlers.create_content(hub.services, curator(), dict(ARTICLE))

    after = await handlers.update_content(
        hub.services, curator(), doc.id, {"title": "Our new office in Lyon"}
    )

    assert after.rev == 2
    assert (await stored_item(hub, doc.id)).title == "Our new office in Lyon"
    _published, updated = hub.committed
    assert isinstance(updated, ContentUpdated) and updated.data.changed_fields == ["title"]


async def test_only_curators_change_an_item_once_it_left_draft(hub: Hub) -> None:
    author = employee()
    draft = await handlers.create_content(hub.services, author, dict(ARTICLE))
    await handlers.transition(hub.services, author, draft.id, model.Action.SUBMIT)

    with pytest.raises(Forbidden, match="only curators change an item once it left draft"):
        await handlers.update_content(hub.services, author, draft.id, {"title": "Mine"})
    with pytest.raises(Forbidden):
        await handlers.transition(hub.services, author, draft.id, model.Action.APPROVE)
    assert (await stored_item(hub, draft.id)).status == "in_review"


async def test_an_employee_sees_neither_others_drafts_nor_missing_items(hub: Hub) -> None:
    draft = await handlers.create_content(hub.services, curator(), dict(ARTICLE), draft=True)
    live = await handlers.create_content(hub.services, curator(), dict(ARTICLE))

    assert (await handlers.get_content(hub.services, employee(), live.id)).id
    for content_id in (draft.id, "nothing-here"):
        with pytest.raises(NotFound, match=f"no content item {content_id}"):
            await handlers.get_content(hub.services, employee(), content_id)


async def test_an_edit_over_a_stale_read_is_a_conflict_and_announces_nothing(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = await handlers.create_content(hub.services, curator(), dict(ARTICLE))
    stale = await stored_item(hub, doc.id)
    await handlers.update_content(hub.services, curator("cur-2"), doc.id, {"summary": "A"})
    before = len(hub.committed)

    async def read_before_the_other_edit(tenant: str, content_id: str) -> Item:
        return stale

    monkeypatch.setattr(hub.repo, "get", read_before_the_other_edit)
    with pytest.raises(Conflict, match="the item changed meanwhile; read it again and retry"):
        await handlers.update_content(hub.services, curator(), doc.id, {"summary": "B"})

    assert hub.repo.items[(TENANT, doc.id)].summary == "A"
    assert len(hub.committed) == before


async def test_a_refused_move_says_where_the_item_is(hub: Hub) -> None:
    doc = await handlers.create_content(hub.services, curator(), dict(ARTICLE))

    with pytest.raises(Conflict) as refused:
        await handlers.transition(hub.services, curator(), doc.id, model.Action.SUBMIT)

    assert refused.value.extensions == {"status_now": "published"}


async def test_an_item_told_twice_is_created_once(hub: Hub) -> None:
    fields = {"title": "A win", "kind": ContentKind.INTERNAL}
    first = await handlers.create_content(hub.services, curator(), fields, content_id="win-1")

    with pytest.raises(Conflict, match="an item win-1 exists already"):
        await handlers.create_content(hub.services, curator(), fields, content_id="win-1")

    assert [e.subject for e in hub.committed] == [first.id]


async def test_the_clock_publishes_what_is_due_and_expires_what_ran_out(hub: Hub) -> None:
    fields = {**ARTICLE, "expires_at": NOW + timedelta(hours=1)}
    doc = await handlers.create_content(hub.services, curator(), fields)
    hub.services.clock = lambda: NOW + timedelta(hours=2)

    assert await handlers.run_schedule(hub.services) == 1

    assert (await stored_item(hub, doc.id)).status == "expired"
    retired = hub.committed[-1]
    assert isinstance(retired, ContentRetired) and retired.data.reason.value == "expired"


# -- guidelines ------------------------------------------------------------------------------


async def test_guidelines_are_acknowledged_once_and_unknown_versions_are_not_found(
    hub: Hub,
) -> None:
    admin = Principal(employee_id="adm-1", tenant=TENANT, roles=frozenset({"admin"}))
    doc = await handlers.publish_guidelines(hub.services, admin, "Be kind", "Always.", True)
    assert doc.version == 1

    first, created = await handlers.acknowledge(hub.services, employee(), 1)
    again, created_again = await handlers.acknowledge(hub.services, employee(), 1)

    assert created and not created_again and again == first
    assert [type(e) for e in hub.committed[1:]] == [GuidelinesAcknowledged]
    for ask in (
        handlers.guidelines_version(hub.services, employee(), 2),
        handlers.acknowledge(hub.services, employee(), 2),
    ):
        with pytest.raises(NotFound, match="no guidelines version 2"):
            await ask


# -- coaching --------------------------------------------------------------------------------


async def test_a_coaching_step_is_done_once(hub: Hub) -> None:
    hub.repo.paths[TENANT] = coaching_rules.OnboardingPath(
        TENANT,
        version=3,
        steps=(
            coaching_rules.Step("s1", {"en": "Connect"}),
            coaching_rules.Step("s2", {"en": "Share"}),
        ),
    )

    mine, created = await coaching.complete_step(hub.services, employee(), "s1")
    again, created_again = await coaching.complete_step(hub.services, employee(), "s1")

    assert created and not created_again
    assert mine.done == {"s1": NOW} and again.done == {"s1": NOW}
    assert (mine.progress.done, mine.progress.total, mine.progress.complete) == (1, 2, False)
    [event] = hub.committed
    assert isinstance(event, OnboardingStepCompleted)
    assert (event.data.step_id, event.data.path_version, event.data.steps_done) == ("s1", 3, 1)
    with pytest.raises(NotFound, match="no step s9 on the onboarding path"):
        await coaching.complete_step(hub.services, employee(), "s9")
