"""Share follows the tenant's engagement retention: the program team sets it (admins only,
within metrics' bounds), the worker's job forgets the engagement reports received before it
(a day late, as metrics), the shares' counters stay, and a report older than the retention
is refused, as a repeat of a forgotten one could no longer be told apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient
from share_stack import ShareStack, add_connector, publish_content

from chassis.domain_errors import Invalid
from chassis.kafka import EventPublisher
from chassis.outbox import Outbox
from contracts import EngagementKind, EngagementSource
from share.adapters.clicks import LinkCache
from share.adapters.mongo import ShareRepository
from share.adapters.networks import TokenVault
from share.domain.clicks import DailySalts
from share.service_layer import handlers
from support import MONGODB_URL, eventually, ref, token

PATH = "/api/v1/settings/retention"


async def test_admins_set_the_retention_and_older_engagement_is_refused(
    share_stack: ShareStack,
) -> None:
    tenant = ref("keep")
    admin = token(tenant, "a1", roles=("admin",))
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        assert (await http.get(PATH, headers=admin)).json() == {"detail_retention_days": 400}
        refused = await http.put(
            PATH, headers=token(tenant, "e1"), json={"detail_retention_days": 90}
        )
        assert refused.status_code == 403
        for wrong in (29, 3651, "a year"):
            answer = await http.put(PATH, headers=admin, json={"detail_retention_days": wrong})
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in answer.json()["errors"]] == ["detail_retention_days"]
        saved = await http.put(PATH, headers=admin, json={"detail_retention_days": 30})
        assert saved.status_code == 200 and saved.json() == {"detail_retention_days": 30}
        assert (await http.get(PATH, headers=admin)).json() == {"detail_retention_days": 30}
        # The tenant comes from the token only: another tenant keeps the default.
        other = token(ref("keep"), "a1", roles=("admin",))
        assert (await http.get(PATH, headers=other)).json() == {"detail_retention_days": 400}

        connector = await add_connector(http, tenant)
        me = token(tenant, "e1")
        joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
        assert joined.status_code in (200, 201)
        content_id = await publish_content(tenant)

        async def attempt() -> httpx.Response:
            return await http.post(
                "/api/v1/shares",
                headers=me,
                json={"content_id": content_id, "network": "linkedin"},
            )

        share = (await eventually(attempt, lambda r: r.status_code == 201)).json()
        now = datetime.now(UTC)
        for days_ago, status in ((31, 422), (29, 202)):
            raw, headers = connector.signed(
                {
                    "id": ref("r-"),
                    "kind": "reaction",
                    "share_id": share["id"],
                    "observed_at": (now - timedelta(days=days_ago)).isoformat(),
                }
            )
            answer = await http.post("/api/v1/engagements", content=raw, headers=headers)
            assert answer.status_code == status, answer.text
        assert answer.json()["status"] == "accepted"


class NoKafka(EventPublisher):
    """The engagement events of the reports below go nowhere."""

    def __init__(self) -> None:
        pass

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        return None


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_old_reports_are_forgotten_and_a_repeat_of_one_is_refused() -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    database = f"chorus_share_retention_{ref('')}"
    repo = ShareRepository(client[database])
    await repo.ensure_indexes()
    publisher = NoKafka()
    now = datetime.now(UTC)
    clock = Clock(now)
    services = handlers.Services(
        repo=repo,
        shares_outbox=Outbox(repo.shares, publisher, 10),
        advocates_outbox=Outbox(repo.advocates, publisher, 10),
        engagements_outbox=Outbox(repo.engagements, publisher, 10),
        clicks=None,
        links_cache=LinkCache(repo),
        salts=DailySalts(b"salt"),
        vault=TokenVault(repo, Fernet.generate_key().decode()),
        public_base_url="http://127.0.0.1:8090",
        default_daily_cap=20,
        link_secret=b"link",
        webhook_secret=b"webhook",
        clock=clock,
    )
    short, unset = ref("t"), ref("t")
    try:
        for tenant in (short, unset):
            await repo.shares.insert_one(
                {
                    "_id": f"{tenant}-share",
                    "tenant": tenant,
                    "employee_id": "e1",
                    "network": "linkedin",
                    "short_code": ref("c"),
                    "status": "shared",
                }
            )
        await handlers.set_retention_days(services, short, 30)

        async def received(tenant: str, report_id: str, days_ago: int) -> str:
            """A report received (and observed) `days_ago` days ago."""
            clock.now = now - timedelta(days=days_ago)
            engagement_id, status = await handlers.ingest_engagement(
                services, tenant, _report(report_id, f"{tenant}-share", clock.now)
            )
            assert status == "accepted"
            return engagement_id

        old = await received(short, "old", 32)
        recent = await received(short, "recent", 30)
        kept_by_default = await received(unset, "old", 32)
        too_old_by_default = await received(unset, "ancient", 402)
        # What the reports added up to, in the share's counters.
        await repo.count_engagements(
            [(f"{short}-share", "t", 0, offset, {"reaction": 1}) for offset in range(2)]
        )
        counted = await repo.counters([f"{short}-share"])
        clock.now = now

        assert await handlers.forget_engagements(services) == 2

        left = {doc["_id"] async for doc in repo.engagements.find({}, {"_id": 1})}
        assert left == {recent, kept_by_default}
        assert old not in left and too_old_by_default not in left
        assert (
            await repo.counters([f"{short}-share"])
            == counted
            == {f"{short}-share": {"reaction": 2}}
        )
        assert await handlers.forget_engagements(services) == 0

        # The forgotten report, sent again, cannot be a repeat: it is refused, not counted.
        with pytest.raises(Invalid) as refused:
            await handlers.ingest_engagement(
                services, short, _report("old", f"{short}-share", now - timedelta(days=32))
            )
        assert [name for name, _ in refused.value.errors] == ["observed_at"]
        assert await repo.engagements.count_documents({"tenant": short}) == 1
        # A repeat of one still kept is a duplicate, as ever.
        again = await handlers.ingest_engagement(
            services, short, _report("recent", f"{short}-share", now - timedelta(days=30))
        )
        assert again == (recent, "duplicate")
    finally:
        await client.drop_database(database)
        await client.close()


def _report(report_id: str, share_id: str, observed_at: datetime) -> handlers.EngagementReport:
    return handlers.EngagementReport(
        id=report_id,
        kind=EngagementKind.REACTION,
        share_id=share_id,
        short_code=None,
        count=1,
        observed_at=observed_at,
        source=EngagementSource.WEBHOOK,
    )
