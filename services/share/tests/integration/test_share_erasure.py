"""An erased person leaves nothing in share's database that names them: their shares go by
the pseudonym of their AdvocateOptedOut (as in every service), what must be remembered is
kept under their person key, and the rest is gone. Asked for by the person or done for HR,
announced once, finished after a crash; and they may join again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from bson import json_util
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from share_stack import ShareStack, TopicTail, publish_content

from chassis.auth import issue_token
from chassis.directory import PERSON_TOPICS
from chassis.settings import LOCAL_JWT_SECRET
from contracts import (
    GuidelinesAcknowledged,
    GuidelinesAcknowledgedData,
    PersonDeleted,
    PersonDeletedData,
    derived_event_id,
)
from contracts.erasure import person_key, pseudonym
from contracts.topics import (
    ADVOCATE_OPTED_OUT,
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    ENGAGEMENT_OBSERVED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
)
from support import (
    MONGODB_URL,
    ServiceProcess,
    eventually,
    free_port,
    produce,
    produce_in_order,
    ref,
    start_group_at_end,
)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
VARIANTS = {"linkedin": ["My team is growing", "Know an engineer? We are hiring"]}


def _headers(tenant: str, sub: str, **claims: Any) -> dict[str, str]:
    jwt = issue_token(LOCAL_JWT_SECRET, sub=sub, tenant=tenant, **claims)
    return {"Authorization": f"Bearer {jwt}"}


async def _naming(db: AsyncDatabase[dict[str, Any]], who: str) -> list[str]:
    """Every document of every collection whose JSON holds `who`, as "collection: _id"."""
    found = []
    for name in sorted(await db.list_collection_names()):
        async for doc in db[name].find({}):
            if who in json_util.dumps(doc):
                found.append(f"{name}: {doc['_id']}")
    return found


def _acknowledged(tenant: str, who: str, at: datetime) -> GuidelinesAcknowledged:
    return GuidelinesAcknowledged.create(
        tenant_id=tenant,
        subject=who,
        data=GuidelinesAcknowledgedData(employee_id=who, guidelines_version=1, acknowledged_at=at),
    )


def _opted_out(records: list[dict[str, Any]], tenant: str, who: str) -> list[dict[str, Any]]:
    return [r for r in records if r["tenantid"] == tenant and r["data"]["employee_id"] == who]


async def test_an_erasure_request_leaves_nothing_that_names_me(share_stack: ShareStack) -> None:
    tenant, who, ben, cai = ref("erasure-"), ref("erin-"), ref("ben-"), ref("cai-")
    me = _headers(
        tenant,
        who,
        roles=["employee", "admin"],
        groups=["sales"],
        location="oslo",
        languages=["nb"],
    )
    others = {name: _headers(tenant, name) for name in (ben, cai)}
    access_token = ref("li-token-")
    share_stack.linkedin.tokens.add(access_token)
    tail = await TopicTail(ADVOCATE_OPTED_OUT).start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    db = client[share_stack.api.env["SHARE_DATABASE"]]
    acknowledged_at = datetime.now(UTC)
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            content_id = await publish_content(tenant, text_variants=VARIANTS)
            await produce_in_order(_acknowledged(tenant, who, acknowledged_at))
            joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert joined.status_code == 201, joined.text
            connected = await http.put(
                "/api/v1/advocates/me/networks/linkedin",
                headers=me,
                json={
                    "audience_size": 300,
                    "access_token": access_token,
                    "author": "urn:li:person:erin",
                },
            )
            assert connected.status_code == 200, connected.text
            offered = await eventually(
                lambda: http.get(f"/api/v1/content/{content_id}/variant", headers=me),
                lambda r: r.status_code == 200,
            )
            variant = offered.json()["networks"]["linkedin"]["variant"]
            now = await http.post(
                "/api/v1/shares",
                headers=me,
                json={"content_id": content_id, "network": "linkedin", "text_variant": variant},
            )
            assert now.status_code == 201, now.text
            later = await http.post(
                "/api/v1/shares",
                headers=me,
                json={
                    "url": "https://example.com/own",
                    "network": "linkedin",
                    "scheduled_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                },
            )
            assert later.status_code == 201, later.text
            assert later.json()["status"] == "scheduled"
            tracked = now.json()["tracked_url"]
            clicked = await http.get(tracked, headers={"User-Agent": BROWSER})
            assert clicked.status_code == 302

            # A buddy, a comment on their draft; as the program team, a pair of two others
            # ended, and the company page's followers counted.
            pair = await http.post(
                "/api/v1/buddies/pairs",
                headers=me,
                json={"employee_ids": [who, ben], "names": {who: "Erin"}},
            )
            assert pair.status_code == 201, pair.text
            for headers in (me, others[ben]):
                accepted = await http.post(
                    f"/api/v1/buddies/pairs/{pair.json()['id']}/accept", headers=headers, json={}
                )
                assert accepted.status_code == 200, accepted.text
            draft = await http.post(
                "/api/v1/buddies/drafts", headers=others[ben], json={"network": "x", "text": "Hi"}
            )
            commented = await http.post(
                f"/api/v1/buddies/drafts/{draft.json()['id']}/comments",
                headers=me,
                json={"text": "Short and sweet."},
            )
            assert commented.status_code == 201, commented.text
            theirs = await http.post(
                "/api/v1/buddies/pairs", headers=me, json={"employee_ids": [cai, ref("dan-")]}
            )
            ended = await http.post(f"/api/v1/buddies/pairs/{theirs.json()['id']}/end", headers=me)
            assert ended.json()["status"] == "declined"
            counted = await http.post(
                "/api/v1/company/followers",
                headers=me,
                json={"network": "linkedin", "followers": 1200},
            )
            assert counted.status_code == 201, counted.text
            await eventually(
                lambda: db["acknowledgements"].find_one({"_id": f"{tenant}:{who}"}),
                lambda doc: doc is not None,
            )
            before = await _naming(db, who)
            for collection in ("advocates", "shares", "daily_counts", "network_tokens"):
                assert any(f.startswith(f"{collection}: ") for f in before), before

            left = await http.post("/api/v1/advocates/me/opt-out", headers=me, json={"erase": True})
            assert left.status_code == 200, left.text
            assert left.json()["status"] == "opted_out"

            # Nothing names me any more (a click Kafka was slow to take waits in the spool
            # for a moment; everything else is done when the answer comes).
            await eventually(lambda: _naming(db, who), lambda found: found == [], timeout=10)
            [event] = _opted_out(await tail.poll(1), tenant, who)
            assert event["data"]["erase"] is True
            name = pseudonym(event["id"])
            shares = [doc async for doc in db["shares"].find({"tenant": tenant})]
            assert len(shares) == 2
            for doc in shares:
                assert doc["employee_id"] == name and doc["stopped"] is True
                assert "viewer" not in doc
                assert doc["employee_groups"] == ["sales"] and doc["network"] == "linkedin"
            assert {d["_id"]: d["status"] for d in shares} == {
                now.json()["id"]: "shared",
                later.json()["id"]: "cancelled",
            }
            kept = await db["advocates"].find_one({"_id": "erased:" + person_key(tenant, who)})
            assert kept is not None
            assert {k for k in kept if not k.startswith("_")} == {
                "tenant",
                "status",
                "opted_out_at",
                "pseudonym",
                "request_id",
            }
            assert (kept["status"], kept["pseudonym"]) == ("erased", name)
            # The request every service confirms is the opt-out's: share confirmed it.
            assert kept["request_id"] == event["id"]
            confirmed = await db["erasure_confirmations"].find_one(
                {"request_id": event["id"], "tenant": tenant}
            )
            assert confirmed is not None and confirmed.get("_outbox_n", 0) == 0
            recorded = await db["company_followers"].find_one({"tenant": tenant})
            assert recorded is not None and recorded["recorded_by"] == name

            # The link still leads where it led; its click no longer counts.
            again = await http.get(tracked, headers={"User-Agent": BROWSER})
            assert again.status_code == 302
            assert again.headers["location"] == now.json()["target_url"]
            # The program team still sees the share, under the pseudonym.
            admin = _headers(tenant, ref("adm-"), roles=["admin"])
            listed = await http.get(
                "/api/v1/shares", headers=admin, params={"content_id": content_id}
            )
            assert [s["employee_id"] for s in listed.json()["items"]] == [name]
            one = await http.get(f"/api/v1/shares/{now.json()['id']}", headers=admin)
            assert one.status_code == 200 and one.json()["employee_id"] == name
            assert (await http.get("/api/v1/buddies/me", headers=others[ben])).json()[
                "pair"
            ] is None

            # Asked again, nothing happens twice.
            twice = await http.post(
                "/api/v1/advocates/me/opt-out", headers=me, json={"erase": True}
            )
            assert twice.status_code == 403
            gone = await http.get("/api/v1/advocates/me", headers=me)
            assert gone.status_code == 404
            # A late acknowledgement from before the erasure does not bring me back (a
            # colleague's, after it on the same partition, says when it was handled).
            marker = ref("marker-")
            await produce_in_order(
                _acknowledged(tenant, who, acknowledged_at),
                _acknowledged(tenant, marker, datetime.now(UTC)),
            )
            await eventually(
                lambda: db["acknowledgements"].find_one({"_id": f"{tenant}:{marker}"}),
                lambda doc: doc is not None,
            )
            assert await _naming(db, who) == []
            assert _opted_out(await tail.poll(1), tenant, who) == [event]

            # I may join again, as someone new: none of the old shares are mine.
            rejoined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert rejoined.status_code == 201, rejoined.text
            assert rejoined.json()["networks"] == {}
            mine = await http.get("/api/v1/shares", headers=me, params={"employee_id": who})
            assert mine.json()["items"] == []
            export = (await http.get("/api/v1/me/export", headers=me)).json()
            assert export["shares"] == [] and export["records"]["advocate"]["status"] == "enrolled"
            await produce_in_order(_acknowledged(tenant, who, datetime.now(UTC)))
            await eventually(
                lambda: db["acknowledgements"].find_one({"_id": f"{tenant}:{who}"}),
                lambda doc: doc is not None,
            )
    finally:
        await tail.stop()
        await client.close()


async def test_a_person_hr_deleted_is_erased_to_the_end_after_a_crash(tmp_path: Any) -> None:
    """The worker dies right after writing the erasure with its event; a worker after it
    gets the deletion again and finishes the erasure, under the same pseudonym, announced
    once."""
    suffix = ref("")
    group = f"share-erase-{suffix}"
    env = {
        "SHARE_DATABASE": f"chorus_share_erase_{suffix}",
        "SHARE_CONSUMER_GROUP": group,
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    # Only this test's events: a fresh group would read every other test's first.
    await start_group_at_end(
        group,
        [
            *PERSON_TOPICS,
            CONTENT_PUBLISHED,
            CONTENT_UPDATED,
            CONTENT_RETIRED,
            GUIDELINES_PUBLISHED,
            GUIDELINES_ACKNOWLEDGED,
        ],
    )
    await start_group_at_end(f"{group}-engagement-counters", [ENGAGEMENT_OBSERVED])
    api = ServiceProcess("share", "api", env=env).start(tmp_path)
    doomed = ServiceProcess("share", "worker", env={**env, "CHORUS_FAULTS": "after-outbox-write"})
    doomed.start(tmp_path)
    worker: ServiceProcess | None = None
    tail = await TopicTail(ADVOCATE_OPTED_OUT).start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    db = client[env["SHARE_DATABASE"]]
    tenant, who = ref("hr-erasure-"), ref("hana-")
    me = _headers(tenant, who, groups=["sales"], location="oslo")
    try:
        api.wait_healthy()
        doomed.wait_healthy()
        async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
            joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert joined.status_code == 201, joined.text
            shared = await http.post(
                "/api/v1/shares",
                headers=me,
                json={"url": "https://example.com/own", "network": "x", "text": "Worth a read"},
            )
            assert shared.status_code == 201, shared.text

        gone = PersonDeleted.create(
            tenant_id=tenant,
            subject=who,
            data=PersonDeletedData(employee_id=who, version=1, deleted_at=datetime.now(UTC)),
        )
        await produce(gone.topic, gone.to_json(), gone.partition_key().encode())
        assert doomed.proc is not None
        assert doomed.proc.wait(30) == 137, "the fault point should have killed the worker"
        # Cut short: the erasure and its events (AdvocateOptedOut, ErasureRequested) are
        # written, nothing else is done.
        event_id = derived_event_id("advocate-erased", gone.id)
        name = pseudonym(event_id)
        half = await db["advocates"].find_one({"_id": f"{tenant}:{who}"})
        assert half is not None and half["pseudonym"] == name and half["_outbox_n"] == 2
        assert await db["shares"].count_documents({"employee_id": who}) == 1

        worker = ServiceProcess("share", "worker", env=env).start(tmp_path)
        worker.wait_healthy()
        await eventually(lambda: _naming(db, who), lambda found: found == [], timeout=60)
        [share] = [doc async for doc in db["shares"].find({"tenant": tenant})]
        assert share["employee_id"] == name and share["stopped"] is True
        kept = await db["advocates"].find_one({"_id": "erased:" + person_key(tenant, who)})
        assert kept is not None
        assert (kept["pseudonym"], kept["deleted_version"]) == (name, 1)

        # Delivered once more (a colleague's deletion after it says when it was handled):
        # announced once all the same (a crash may publish an event twice, under one id).
        marker = ref("marker-")
        await produce_in_order(
            gone,
            PersonDeleted.create(
                tenant_id=tenant,
                subject=marker,
                data=PersonDeletedData(employee_id=marker, version=1, deleted_at=datetime.now(UTC)),
            ),
        )
        await eventually(
            lambda: db["advocates"].find_one({"_id": "erased:" + person_key(tenant, marker)}),
            lambda doc: doc is not None,
        )
        records = _opted_out(await tail.poll(1), tenant, who)
        assert {r["id"] for r in records} == {event_id}
        assert await _naming(db, who) == []
    finally:
        await tail.stop()
        await client.drop_database(env["SHARE_DATABASE"])
        await client.close()
        api.stop()
        doomed.stop()
        if worker is not None:
            worker.stop()
