"""Sharing's use cases against an in-memory share repository: joining, networks, leaving,
shares and their daily cap, engagement reports, follower counts, and the events each
one commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from chassis.auth import Principal
from chassis.domain_errors import Conflict, Forbidden, Invalid, LimitReached, NotFound
from chassis.outbox import Outbox
from contracts import (
    AdvocateEnrolled,
    AdvocateOptedOut,
    AnyEvent,
    AudienceMeasured,
    EngagementKind,
    EngagementObserved,
    EngagementSource,
    FollowersMeasured,
    Network,
    PostShared,
)
from share.adapters.clicks import LinkCache
from share.adapters.mongo import ShareRepository
from share.adapters.networks import Credentials, TokenVault
from share.domain.advocates import Advocate, ConnectedNetwork
from share.domain.clicks import DailySalts
from share.domain.content import ContentItem, Guidelines
from share.domain.followers import FollowersMeasurement
from share.domain.settings import TenantSettings
from share.domain.shares import Share, ShareStatus
from share.service_layer import handlers
from support import MemoryWrite, Units

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TENANT = "acme"
ALICE = Principal(
    employee_id="alice", tenant=TENANT, roles=frozenset({"employee"}), groups=frozenset({"sales"})
)
BOB = Principal(employee_id="bob", tenant=TENANT, roles=frozenset({"employee"}))
CURATOR = Principal(employee_id="carol", tenant=TENANT, roles=frozenset({"curator"}))
# The repository's writes need no outbox here: the fakes below apply them in memory.
NO_BOX = cast(Outbox, object())


@dataclass
class FakeShareRepository:
    """The share repository's records in dictionaries."""

    advocates: dict[str, Advocate] = field(default_factory=dict)
    content: dict[str, ContentItem] = field(default_factory=dict)
    shares: dict[str, Share] = field(default_factory=dict)
    engagements: dict[str, dict[str, Any]] = field(default_factory=dict)
    followers: dict[str, FollowersMeasurement] = field(default_factory=dict)
    counted: dict[str, dict[str, int]] = field(default_factory=dict)
    settings_of: dict[str, TenantSettings] = field(default_factory=dict)
    daily: dict[str, int] = field(default_factory=dict)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    taken_codes: set[str] = field(default_factory=set)
    collisions: int = 0  # how many short codes drawn next are taken already

    async def advocate(self, tenant: str, employee_id: str) -> Advocate | None:
        return self.advocates.get(f"{tenant}:{employee_id}")

    def advocate_saved(self, box: Outbox, before: Advocate | None, after: Advocate) -> MemoryWrite:
        key = f"{after.tenant}:{after.employee_id}"

        def change() -> bool:
            stored = self.advocates.get(key)
            if (stored.rev if stored else None) != (before.rev if before else None):
                return False
            self.advocates[key] = replace(after, rev=after_rev)
            return True

        after_rev = (before.rev if before else 0) + 1
        return MemoryWrite(change, conflict="the advocate changed concurrently; try again")

    async def current_guidelines(self, tenant: str) -> Guidelines | None:
        return None

    async def acknowledged_version(self, tenant: str, employee_id: str) -> int:
        return 0

    async def enrolled_viewers(self, tenant: str) -> list[Any]:
        return []

    async def settings(self, tenant: str) -> TenantSettings:
        return self.settings_of.get(tenant, TenantSettings())

    async def shareable(self, tenant: str, content_id: str) -> ContentItem | None:
        return self.content.get(f"{tenant}:{content_id}")

    async def take_daily_slot(self, key: str, cap: int, day: datetime) -> bool:
        if self.daily.get(key, 0) >= cap:
            return False
        self.daily[key] = self.daily.get(key, 0) + 1
        return True

    async def give_back_daily_slot(self, key: str) -> None:
        self.daily[key] = max(0, self.daily.get(key, 0) - 1)

    def share_created(self, box: Outbox, share: Share) -> MemoryWrite:
        def change() -> bool:
            if self.collisions:
                self.collisions -= 1
                return False
            if share.short_code in self.taken_codes:
                return False
            self.taken_codes.add(share.short_code)
            self.shares[share.id] = share
            return True

        return MemoryWrite(change, conflict="could not allocate a short code")

    async def stop_shares_of(self, tenant: str, employee_id: str) -> None:
        self.stopped.append((tenant, employee_id))

    async def share(self, tenant: str, share_id: str) -> Share | None:
        found = self.shares.get(share_id)
        return found if found and found.tenant == tenant else None

    async def share_by_code(self, tenant: str, code: str) -> Share | None:
        return next(
            (s for s in self.shares.values() if s.short_code == code and s.tenant == tenant), None
        )

    async def counters(self, share_ids: list[str]) -> dict[str, dict[str, int]]:
        return {i: self.counted[i] for i in share_ids if i in self.counted}

    def engagement_recorded(self, box: Outbox, doc: dict[str, Any]) -> MemoryWrite:
        def change() -> bool:
            if doc["_id"] in self.engagements:
                return False
            self.engagements[doc["_id"]] = doc
            return True

        return MemoryWrite(change, must_land=False)

    def followers_recorded(self, box: Outbox, measured: FollowersMeasurement) -> MemoryWrite:
        return MemoryWrite(lambda: self.followers.setdefault(measured.id, measured) is measured)


@dataclass
class FakeVault:
    forgotten: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def load(self, tenant: str, employee_id: str, network: str) -> Credentials | None:
        return None

    async def forget(self, tenant: str, employee_id: str, network: str | None = None) -> None:
        self.forgotten.append((tenant, employee_id, network))


@dataclass
class World:
    repo: FakeShareRepository
    vault: FakeVault
    units: Units
    services: handlers.Services


@pytest.fixture
def world() -> World:
    repo, vault, units = FakeShareRepository(), FakeVault(), Units()
    services = handlers.Services(
        repo=cast(ShareRepository, repo),
        shares_outbox=NO_BOX,
        advocates_outbox=NO_BOX,
        engagements_outbox=NO_BOX,
        followers_outbox=NO_BOX,
        clicks=None,
        links_cache=cast(LinkCache, None),
        salts=DailySalts(b"salt"),
        vault=cast(TokenVault, vault),
        public_base_url="https://go.example",
        default_daily_cap=2,
        link_secret=b"link",
        webhook_secret=b"webhook",
        clock=lambda: NOW,
        uow=units,
    )
    return World(repo, vault, units, services)


def kinds(events: Sequence[AnyEvent]) -> list[type]:
    return [type(event) for event in events]


async def joined(world: World, user: Principal = ALICE) -> Advocate:
    advocate, _ = await handlers.enroll(world.services, user, None)
    return advocate


def own_post(url: str | None = "https://example.com/post") -> handlers.ShareRequest:
    return handlers.ShareRequest(network=Network.LINKEDIN, url=url, text="Look")


# -- advocates ------------------------------------------------------------------------------


async def test_joining_enrolls_the_advocate_and_announces_it(world: World) -> None:
    advocate, new = await handlers.enroll(world.services, ALICE, 3)

    assert new is True
    assert advocate.status == "enrolled" and advocate.guidelines_version == 3
    assert advocate.consent_at == NOW and advocate.rev == 1
    assert world.repo.advocates[f"{TENANT}:alice"].groups == ("sales",)
    assert kinds(world.units.committed) == [AdvocateEnrolled]


async def test_joining_again_changes_nothing(world: World) -> None:
    await joined(world)

    advocate, new = await handlers.enroll(world.services, ALICE, None)

    assert new is False and advocate.rev == 1
    assert kinds(world.units.committed) == [AdvocateEnrolled]


async def test_an_advocate_changed_meanwhile_is_a_conflict(world: World) -> None:
    await joined(world)
    current = await world.repo.advocate(TENANT, "alice")
    assert current is not None
    # Someone else wrote it since.
    world.repo.advocates[f"{TENANT}:alice"] = replace(current, rev=2)

    with pytest.raises(Conflict) as refused:
        await handlers._write_advocate(
            world.services, current, current, handlers._enrolled_event(current)
        )

    assert refused.value.title == "Changed meanwhile"
    assert refused.value.detail == "the advocate changed concurrently; try again"
    assert kinds(world.units.committed) == [AdvocateEnrolled]


async def test_membership_of_someone_who_never_joined_is_not_found(world: World) -> None:
    with pytest.raises(NotFound) as refused:
        await handlers.membership(world.services, BOB)

    assert refused.value.detail == "you have not joined the advocacy program"


async def test_membership_says_whether_the_advocate_is_a_leader(world: World) -> None:
    await joined(world)
    world.repo.settings_of[TENANT] = TenantSettings(leaders_group="sales")

    advocate, leader = await handlers.membership(world.services, ALICE)

    assert advocate.employee_id == "alice" and leader is True


async def test_connecting_a_network_measures_the_audience(world: World) -> None:
    await joined(world)

    advocate = await handlers.connect_network(
        world.services, ALICE, Network.LINKEDIN, 500, None, None
    )

    assert advocate.networks[Network.LINKEDIN] == ConnectedNetwork(
        connected_at=NOW, audience_size=500
    )
    assert world.repo.advocates[f"{TENANT}:alice"].rev == 2
    assert kinds(world.units.committed[1:]) == [AdvocateEnrolled, AudienceMeasured]


async def test_connecting_a_network_takes_an_advocate(world: World) -> None:
    with pytest.raises(Forbidden) as refused:
        await handlers.connect_network(world.services, BOB, Network.LINKEDIN, 5, None, None)

    assert refused.value.title == "Not an advocate"


def test_a_posting_token_needs_its_author() -> None:
    with pytest.raises(Invalid) as refused:
        handlers.posting_credentials("token", None)

    assert refused.value.detail == "access_token and author go together"
    assert refused.value.errors == (("author", "required with access_token"),)
    assert handlers.posting_credentials(None, None) is None


async def test_disconnecting_a_network_not_connected_is_not_found(world: World) -> None:
    await joined(world)

    with pytest.raises(NotFound, match="network: x is not connected"):
        await handlers.disconnect_network(world.services, ALICE, Network.X)


async def test_opting_out_stops_shares_and_forgets_tokens(world: World) -> None:
    await joined(world)

    advocate = await handlers.opt_out(world.services, ALICE, erase=False)

    assert advocate.status == "opted_out" and advocate.opted_out_at == NOW
    assert world.repo.stopped == [(TENANT, "alice")]
    assert world.vault.forgotten == [(TENANT, "alice", None)]
    assert kinds(world.units.committed) == [AdvocateEnrolled, AdvocateOptedOut]


# -- shares -----------------------------------------------------------------------------------


async def test_an_own_post_is_shared_with_its_short_link(world: World) -> None:
    await joined(world)

    made = await handlers.share(world.services, ALICE, own_post())

    assert made.status == "shared" and made.shared_at == NOW
    assert world.repo.shares[made.id].short_code == made.short_code
    posted = world.units.committed[-1]
    assert isinstance(posted, PostShared)
    assert str(posted.data.tracked_url) == f"https://go.example/l/{made.short_code}"
    assert world.repo.daily == {f"{TENANT}:alice:{NOW.date().isoformat()}": 1}


async def test_a_short_code_taken_is_drawn_again(world: World) -> None:
    await joined(world)
    world.repo.collisions = 1

    made = await handlers.share(world.services, ALICE, own_post())

    assert world.repo.collisions == 0 and world.repo.taken_codes == {made.short_code}
    assert kinds(world.units.committed)[-1] is PostShared


async def test_short_codes_taken_again_and_again_are_a_conflict(world: World) -> None:
    await joined(world)
    world.repo.collisions = 5

    with pytest.raises(Conflict) as refused:
        await handlers.share(world.services, ALICE, own_post())

    assert refused.value.title == "Try again"
    assert world.repo.shares == {} and sum(world.repo.daily.values()) == 0


async def test_the_daily_cap_refuses_one_share_too_many(world: World) -> None:
    await joined(world)
    for _ in range(2):
        await handlers.share(world.services, ALICE, own_post())

    with pytest.raises(LimitReached) as refused:
        await handlers.share(world.services, ALICE, own_post())

    assert refused.value.title == "Daily share cap reached"
    assert refused.value.extensions == {"cap": 2}
    assert len(world.repo.shares) == 2


async def test_only_an_advocate_shares(world: World) -> None:
    with pytest.raises(Forbidden) as refused:
        await handlers.share(world.services, BOB, own_post())

    assert refused.value.title == "Cannot share"


async def test_unknown_content_cannot_be_shared(world: World) -> None:
    await joined(world)
    request = handlers.ShareRequest(network=Network.LINKEDIN, content_id="nope")

    with pytest.raises(NotFound, match="no shareable content item"):
        await handlers.share(world.services, ALICE, request)


async def test_an_own_post_needs_its_link(world: World) -> None:
    await joined(world)

    with pytest.raises(Invalid) as refused:
        await handlers.share(world.services, ALICE, own_post(url=None))

    assert refused.value.errors == (("url", "required without content_id"),)


async def test_a_share_is_seen_by_its_advocate_and_curators_only(world: World) -> None:
    await joined(world)
    made = await handlers.share(world.services, ALICE, own_post())
    world.repo.counted[made.id] = {"click": 3}

    mine = await handlers.share_of(world.services, ALICE, made.id)
    assert mine.engagement == {"click": 3}
    assert (await handlers.share_of(world.services, CURATOR, made.id)).id == made.id
    with pytest.raises(NotFound) as refused:
        await handlers.share_of(world.services, BOB, made.id)
    assert refused.value.detail == f"no share {made.id}"


# -- engagements and follower counts -------------------------------------------------------


def report(**overrides: Any) -> handlers.EngagementReport:
    fields: dict[str, Any] = {
        "id": "r1",
        "kind": EngagementKind.REACTION,
        "share_id": None,
        "short_code": None,
        "count": 2,
        "observed_at": NOW,
        "source": EngagementSource.WEBHOOK,
    }
    return handlers.EngagementReport(**{**fields, **overrides})


async def test_an_engagement_is_recorded_once(world: World) -> None:
    await joined(world)
    made = await handlers.share(world.services, ALICE, own_post())

    first = await handlers.ingest_engagement(world.services, TENANT, report(share_id=made.id))
    again = await handlers.ingest_engagement(
        world.services, TENANT, report(short_code=made.short_code)
    )

    assert first[1] == "accepted" and again == (first[0], "duplicate")
    observed = [e for e in world.units.committed if isinstance(e, EngagementObserved)]
    assert len(observed) == 1 and observed[0].data.count == 2


async def test_an_engagement_names_its_share_one_way(world: World) -> None:
    with pytest.raises(Invalid) as refused:
        await handlers.ingest_engagement(world.services, TENANT, report())

    assert refused.value.detail == "share_id: give either share_id or short_code"
    with pytest.raises(NotFound, match="share_id: no such share"):
        await handlers.ingest_engagement(world.services, TENANT, report(share_id="nope"))


async def test_an_engagement_finds_only_its_own_tenants_share(world: World) -> None:
    await joined(world)
    made = await handlers.share(world.services, ALICE, own_post())

    with pytest.raises(NotFound, match="share_id: no such share"):
        await handlers.ingest_engagement(world.services, "globex", report(share_id=made.id))
    with pytest.raises(NotFound, match="short_code: no such share"):
        await handlers.ingest_engagement(
            world.services, "globex", report(short_code=made.short_code)
        )
    assert world.repo.engagements == {}


async def test_two_tenants_may_report_the_same_id(world: World) -> None:
    other = replace(ALICE, tenant="globex")
    await joined(world)
    await joined(world, other)
    ours = await handlers.share(world.services, ALICE, own_post())
    theirs = await handlers.share(world.services, other, own_post())

    first = await handlers.ingest_engagement(world.services, TENANT, report(share_id=ours.id))
    second = await handlers.ingest_engagement(world.services, "globex", report(share_id=theirs.id))

    assert first[1] == second[1] == "accepted" and first[0] != second[0]
    assert {d["tenant"] for d in world.repo.engagements.values()} == {TENANT, "globex"}


@pytest.mark.parametrize(
    ("days", "oldest_taken"),
    # Unset: 400 days. The oldest day taken is `days` before today (NOW's day).
    [(None, NOW - timedelta(days=400)), (30, NOW - timedelta(days=30))],
)
async def test_an_engagement_older_than_the_retention_is_refused(
    world: World, days: int | None, oldest_taken: datetime
) -> None:
    world.repo.settings_of[TENANT] = TenantSettings(detail_retention_days=days)
    await joined(world)
    made = await handlers.share(world.services, ALICE, own_post())
    too_old = oldest_taken.replace(hour=0, minute=0) - timedelta(microseconds=1)

    with pytest.raises(Invalid) as refused:
        await handlers.ingest_engagement(
            world.services, TENANT, report(id="old", share_id=made.id, observed_at=too_old)
        )

    assert [name for name, _ in refused.value.errors] == ["observed_at"]
    assert f"older than the {days or 400} days" in refused.value.detail
    assert world.repo.engagements == {}
    taken = await handlers.ingest_engagement(
        world.services,
        TENANT,
        report(id="kept", share_id=made.id, observed_at=oldest_taken.replace(hour=0, minute=0)),
    )
    assert taken[1] == "accepted"


async def test_an_engagement_dated_more_than_a_day_ahead_is_refused(world: World) -> None:
    await joined(world)
    made = await handlers.share(world.services, ALICE, own_post())
    ahead = world.services.clock() + timedelta(days=1)

    with pytest.raises(Invalid) as refused:
        await handlers.ingest_engagement(
            world.services,
            TENANT,
            report(id="ahead", share_id=made.id, observed_at=ahead + timedelta(seconds=1)),
        )

    assert [name for name, _ in refused.value.errors] == ["observed_at"]
    assert world.repo.engagements == {}
    taken = await handlers.ingest_engagement(
        world.services, TENANT, report(id="soon", share_id=made.id, observed_at=ahead)
    )
    assert taken[1] == "accepted"


@pytest.mark.parametrize(
    ("status", "taken"),
    [
        (ShareStatus.SHARED, True),
        (ShareStatus.POSTING, True),
        (ShareStatus.SCHEDULED, False),
        (ShareStatus.CANCELLED, False),
        (ShareStatus.FAILED, False),
    ],
)
async def test_an_engagement_needs_a_share_with_a_post(
    world: World, status: ShareStatus, taken: bool
) -> None:
    await joined(world)
    made = await handlers.share(world.services, ALICE, own_post())
    world.repo.shares[made.id] = replace(made, status=status)

    if taken:
        got = await handlers.ingest_engagement(world.services, TENANT, report(share_id=made.id))
        assert got[1] == "accepted"
        return
    with pytest.raises(Conflict) as refused:
        await handlers.ingest_engagement(world.services, TENANT, report(share_id=made.id))
    assert refused.value.field == "share_id"
    assert refused.value.extensions == {"share_status": status.value}
    assert world.repo.engagements == {}


async def test_a_follower_count_is_recorded_and_announced(world: World) -> None:
    measured = await handlers.record_followers(
        world.services, CURATOR, Network.LINKEDIN, 1200, None
    )

    assert measured.measured_at == NOW and world.repo.followers[measured.id] is measured
    assert kinds(world.units.committed) == [FollowersMeasured]


async def test_a_follower_count_from_the_future_is_refused(world: World) -> None:
    later = NOW + timedelta(minutes=6)

    with pytest.raises(Invalid) as refused:
        await handlers.record_followers(world.services, CURATOR, Network.LINKEDIN, 1, later)

    assert refused.value.detail == "measured_at: must not be in the future"
    assert world.repo.followers == {}


async def test_an_audience_axis_has_a_limit(world: World) -> None:
    many = [f"g{i}" for i in range(201)]

    with pytest.raises(Invalid) as refused:
        await handlers.audience_count(world.services, CURATOR, many, [], [])

    assert refused.value.field == "groups"
    assert await handlers.audience_count(world.services, CURATOR, ["sales"], [], []) == 0
