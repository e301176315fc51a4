"""Reward suggestions against the real api, worker, Kafka and MongoDB server: suggesting,
one vote per person, the ranking, the program team's decision, my data and erasure."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from streams import start_group_at_end

from contracts import AdvocateOptedOut, AdvocateOptedOutData
from support import KAFKA, ServiceProcess, eventually, ref, token


def _admin(tenant: str) -> dict[str, str]:
    return token(tenant, "admin-1", roles=("employee", "admin"))


async def _suggest(
    http: httpx.AsyncClient, url: str, tenant: str, who: str, title: str, **more: str
) -> dict:
    answer = await http.post(
        f"{url}/api/v1/reward-suggestions",
        headers=token(tenant, who),
        json={"title": title, **more},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _listed(http: httpx.AsyncClient, url: str, tenant: str, who: str, **params) -> list:
    """The ranking as `who` sees it ("admin-1" is an admin)."""
    headers = _admin(tenant) if who == "admin-1" else token(tenant, who)
    answer = await http.get(f"{url}/api/v1/reward-suggestions", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["suggestions"])


async def test_suggest_vote_once_take_it_back_and_the_ranking(rewards_api) -> None:
    tenant, url = ref("ideas"), rewards_api.url
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=40)) as http:
        lunch = await _suggest(
            http, url, tenant, "e1", "  Team lunch  ", description="Once a quarter, any team"
        )
        assert (lunch["title"], lunch["description"]) == ("Team lunch", "Once a quarter, any team")
        assert (lunch["status"], lunch["votes"], lunch["voted"], lunch["mine"]) == (
            "open",
            1,
            True,
            True,
        )
        # Nobody but admins learns who suggested what.
        assert lunch["suggested_by"] is None
        books = await _suggest(http, url, tenant, "e2", "Conference ticket")
        course = await _suggest(http, url, tenant, "e3", "Online course")

        # Twenty clicks at once by one person are one vote; by four colleagues, four.
        one = f"{url}/api/v1/reward-suggestions/{books['suggestion_id']}/vote"
        answers = await asyncio.gather(
            *(http.put(one, headers=token(tenant, "e4")) for _ in range(20))
        )
        assert {a.status_code for a in answers} == {200}
        assert answers[-1].json()["voted"] is True
        for voter in ("e5", "e6", "e7"):
            assert (await http.put(one, headers=token(tenant, voter))).status_code == 200
        lunch_vote = f"{url}/api/v1/reward-suggestions/{lunch['suggestion_id']}/vote"
        assert (await http.put(lunch_vote, headers=token(tenant, "e4"))).json()["votes"] == 2

        ranking = await _listed(http, url, tenant, "e4")
        assert [(s["title"], s["votes"], s["voted"], s["mine"]) for s in ranking] == [
            ("Conference ticket", 5, True, False),
            ("Team lunch", 2, True, False),
            ("Online course", 1, False, False),
        ]

        # Taking a vote back, twice, or one never cast: the count moves once.
        for _ in range(2):
            back = await http.delete(one, headers=token(tenant, "e4"))
            assert (back.status_code, back.json()["votes"], back.json()["voted"]) == (200, 4, False)
        never = await http.delete(lunch_vote, headers=token(tenant, "e9"))
        assert (never.status_code, never.json()["votes"]) == (200, 2)

        # A page at a time, by cursor: each suggestion once, in ranking order.
        first = await http.get(
            f"{url}/api/v1/reward-suggestions", headers=token(tenant, "e1"), params={"limit": 2}
        )
        page = first.json()
        assert [s["title"] for s in page["suggestions"]] == ["Conference ticket", "Team lunch"]
        rest = await http.get(
            f"{url}/api/v1/reward-suggestions",
            headers=token(tenant, "e1"),
            params={"limit": 2, "cursor": page["next_cursor"]},
        )
        assert [s["suggestion_id"] for s in rest.json()["suggestions"]] == [course["suggestion_id"]]
        assert rest.json()["next_cursor"] is None

        # Another tenant sees none of it and cannot vote on it.
        other = ref("elsewhere")
        assert await _listed(http, url, other, "e1") == []
        foreign = await http.put(one, headers=token(other, "e1"))
        assert foreign.status_code == 404
        assert foreign.headers["content-type"] == "application/problem+json"


async def test_invalid_suggestions_are_422_naming_the_field_and_duplicates_409(
    rewards_api,
) -> None:
    tenant, url = ref("ideas-bad"), rewards_api.url
    me = token(tenant, "e1")
    async with httpx.AsyncClient(timeout=30) as http:
        cases = [
            ({"title": "x" * 121}, "title"),
            ({"title": "   "}, "title"),
            ({}, "title"),
            ({"title": "Fine", "description": "y" * 501}, "description"),
            ({"title": "Fine", "price": 3}, "price"),
        ]
        for body, field in cases:
            answer = await http.post(f"{url}/api/v1/reward-suggestions", headers=me, json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
        # At the limits, fine.
        await _suggest(http, url, tenant, "e1", "t" * 120, description="d" * 500)

        first = await _suggest(http, url, tenant, "e1", "Standing desk")
        again = await http.post(
            f"{url}/api/v1/reward-suggestions",
            headers=token(tenant, "e2"),
            json={"title": "  standing   DESK "},
        )
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["detail"].startswith("title:")
        assert again.json()["suggestion_id"] == first["suggestion_id"]

        unknown = await http.put(f"{url}/api/v1/reward-suggestions/nothing/vote", headers=me)
        assert unknown.status_code == 404
        bad_cursor = await http.get(
            f"{url}/api/v1/reward-suggestions", headers=me, params={"cursor": "nonsense"}
        )
        assert bad_cursor.status_code == 400


async def test_the_admin_marks_stocked_or_declined_and_sees_who_suggested(rewards_api) -> None:
    tenant, url = ref("ideas-admin"), rewards_api.url
    admin = _admin(tenant)
    async with httpx.AsyncClient(timeout=30) as http:
        hoodie = await _suggest(http, url, tenant, "e1", "Hoodie")
        karaoke = await _suggest(http, url, tenant, "e2", "Karaoke night")
        status = f"{url}/api/v1/admin/reward-suggestions/{hoodie['suggestion_id']}/status"

        refused = await http.put(status, headers=token(tenant, "e1"), json={"status": "stocked"})
        assert refused.status_code == 403
        no_item = await http.put(
            status, headers=admin, json={"status": "stocked", "item_id": "hoodie"}
        )
        assert no_item.status_code == 422
        assert no_item.json()["detail"].startswith("item_id:")
        wrong = await http.put(
            status, headers=admin, json={"status": "declined", "item_id": "hoodie"}
        )
        assert (wrong.status_code, wrong.json()["detail"].split(":")[0]) == (422, "item_id")
        bad = await http.put(status, headers=admin, json={"status": "maybe"})
        assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "status")

        put = await http.put(
            f"{url}/api/v1/catalog/hoodie",
            headers=admin,
            json={"name": "Team hoodie", "price": 300, "stock": 10},
        )
        assert put.status_code == 200
        stocked = await http.put(
            status, headers=admin, json={"status": "stocked", "item_id": "hoodie"}
        )
        assert stocked.status_code == 200, stocked.text
        marked = stocked.json()
        assert (marked["status"], marked["item_id"], marked["decided_by"]) == (
            "stocked",
            "hoodie",
            "admin-1",
        )
        # The same decision again, by another admin: the first one stands.
        again = await http.put(
            status,
            headers=token(tenant, "admin-2", roles=("admin",)),
            json={"status": "stocked", "item_id": "hoodie"},
        )
        assert (again.json()["decided_by"], again.json()["decided_at"]) == (
            "admin-1",
            marked["decided_at"],
        )
        declined = await http.put(
            f"{url}/api/v1/admin/reward-suggestions/{karaoke['suggestion_id']}/status",
            headers=admin,
            json={"status": "declined"},
        )
        assert declined.json()["status"] == "declined"

        # Decided: no new votes; a vote already cast can still be taken back.
        vote = f"{url}/api/v1/reward-suggestions/{hoodie['suggestion_id']}/vote"
        late = await http.put(vote, headers=token(tenant, "e3"))
        assert late.status_code == 409
        assert late.headers["content-type"] == "application/problem+json"
        assert (await http.put(vote, headers=token(tenant, "e1"))).status_code == 200
        assert (await http.delete(vote, headers=token(tenant, "e1"))).json()["votes"] == 0

        everything = await _listed(http, url, tenant, "admin-1")
        assert {(s["title"], s["suggested_by"], s["status"]) for s in everything} == {
            ("Hoodie", "e1", "stocked"),
            ("Karaoke night", "e2", "declined"),
        }
        answer = await http.get(
            f"{url}/api/v1/reward-suggestions",
            headers=token(tenant, "e9"),
            params=[("status", "stocked"), ("status", "declined")],
        )
        assert {s["suggested_by"] for s in answer.json()["suggestions"]} == {None}
        assert await _listed(http, url, tenant, "e9", status="open") == []

        # Open again: votes welcome again.
        reopened = await http.put(status, headers=admin, json={"status": "open"})
        assert (reopened.json()["status"], reopened.json()["decided_at"]) == ("open", None)
        assert (await http.put(vote, headers=token(tenant, "e3"))).json()["votes"] == 1


async def _my_export(http: httpx.AsyncClient, url: str, tenant: str, who: str) -> dict:
    answer = await http.get(f"{url}/api/v1/me/export", headers=token(tenant, who))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["records"])


async def test_my_data_holds_my_suggestions_and_votes_and_erasure_leaves_a_pseudonym(
    rewards_api, rewards_db
) -> None:
    tenant, url = ref("ideas-mine"), rewards_api.url
    async with httpx.AsyncClient(timeout=30) as http:
        bike = await _suggest(http, url, tenant, "e1", "Bike service", description="In spring")
        sauna = await _suggest(http, url, tenant, "e2", "Sauna evening")
        for voter in ("e3", "e4"):
            await http.put(
                f"{url}/api/v1/reward-suggestions/{bike['suggestion_id']}/vote",
                headers=token(tenant, voter),
            )
        await http.put(
            f"{url}/api/v1/reward-suggestions/{sauna['suggestion_id']}/vote",
            headers=token(tenant, "e1"),
        )

        mine = await _my_export(http, url, tenant, "e1")
        assert [
            (s["title"], s["description"], s["votes"], s["status"])
            for s in mine["reward_suggestions"]
        ] == [("Bike service", "In spring", 3, "open")]
        assert sorted(v["title"] for v in mine["reward_votes"]) == ["Bike service", "Sauna evening"]
        theirs = await _my_export(http, url, tenant, "e3")
        assert theirs["reward_suggestions"] == []
        assert [v["suggestion_id"] for v in theirs["reward_votes"]] == [bike["suggestion_id"]]

        # Erased twice (a retry): the person is gone, their suggestion and votes count on.
        for _ in range(2):
            erased = await http.post(f"{url}/api/v1/me/erasure", headers=token(tenant, "e1"))
            assert erased.status_code == 200, erased.text
        gone = await _my_export(http, url, tenant, "e1")
        assert (gone["reward_suggestions"], gone["reward_votes"]) == ([], [])
        ranking = await _listed(http, url, tenant, "admin-1", status="open")
        assert [(s["title"], s["votes"]) for s in ranking] == [
            ("Bike service", 3),
            ("Sauna evening", 2),
        ]
        assert not any(s["mine"] for s in await _listed(http, url, tenant, "e1"))
        authors = {s["title"]: s["suggested_by"] for s in ranking}
        assert authors["Sauna evening"] == "e2"
        assert authors["Bike service"].startswith("erased-")
        stored = [d async for d in rewards_db["votes"].find({"tenant": tenant})]
        assert "e1" not in {d["voter"] for d in stored}
        assert not any(d["_id"].endswith(":e1") for d in stored)
        assert len({d["voter"] for d in stored if d["voter"].startswith("erased-")}) == 1
        assert await rewards_db["erasures"].count_documents({}) >= 1
        assert not await rewards_db["erasures"].find_one({"pseudonym": "e1"})


async def test_an_opt_out_with_erasure_reaches_the_suggestions_through_kafka(
    rewards_api, rewards_database: str, tmp_path: Path
) -> None:
    tenant, url, group = ref("ideas-erase"), rewards_api.url, ref("rewards-ideas-")
    await start_group_at_end(group)
    env = {
        "REWARDS_DATABASE": rewards_database,
        "REWARDS_CONSUMER_GROUP": group,
        "REWARDS_TENANTS": tenant,
    }
    worker = ServiceProcess("rewards", "worker", env=env).start(tmp_path)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    try:
        await asyncio.to_thread(worker.wait_healthy)
        await producer.start()
        async with httpx.AsyncClient(timeout=30) as http:
            kept = await _suggest(http, url, tenant, "e1", "Gym membership")
            left = await _suggest(http, url, tenant, "e2", "Language course")
            await http.put(
                f"{url}/api/v1/reward-suggestions/{kept['suggestion_id']}/vote",
                headers=token(tenant, "e2"),
            )

            def opt_out(erase: bool) -> AdvocateOptedOut:
                return AdvocateOptedOut.create(
                    tenant_id=tenant,
                    subject="e2",
                    data=AdvocateOptedOutData(
                        employee_id="e2", opted_out_at=datetime.now(UTC), erase=erase
                    ),
                )

            # Leaving without erasure changes nothing here; with erasure, e2 is gone.
            for event in (opt_out(False), opt_out(True)):
                await producer.send_and_wait(
                    event.topic, event.to_json(), key=event.partition_key().encode()
                )

            async def authors() -> dict[str, str]:
                answer = await http.get(f"{url}/api/v1/reward-suggestions", headers=_admin(tenant))
                return {s["title"]: s["suggested_by"] for s in answer.json()["suggestions"]}

            found = await eventually(
                authors, lambda a: a.get("Language course", "e2").startswith("erased-"), 60
            )
            assert found["Gym membership"] == "e1"
            ranking = await _listed(http, url, tenant, "e1")
            assert [(s["suggestion_id"], s["votes"]) for s in ranking] == [
                (kept["suggestion_id"], 2),
                (left["suggestion_id"], 1),
            ]
            gone = await _my_export(http, url, tenant, "e2")
            assert (gone["reward_suggestions"], gone["reward_votes"]) == ([], [])
    finally:
        await producer.stop()
        worker.stop()
