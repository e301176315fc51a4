"""Buddy pairs: asking, pairing and accepting on both sides, drafts that the buddy comments
on and reacts to but never edits, posting a draft as an own post, and cheers."""

from __future__ import annotations

from typing import Any

import httpx
from share_stack import ShareStack, TopicTail

from chassis.auth import issue_token
from chassis.settings import LOCAL_JWT_SECRET
from support import ref


def _headers(tenant: str, sub: str, **claims: object) -> dict[str, str]:
    jwt = issue_token(LOCAL_JWT_SECRET, sub=sub, tenant=tenant, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def _feedback(tail: TopicTail, tenant: str, count: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for _ in range(60):
        # The tail gives every record so far at each poll.
        seen = [r["data"] for r in await tail.poll(0.2) if r["tenantid"] == tenant]
        if len(seen) >= count:
            break
    return seen


async def test_two_who_ask_are_proposed_to_each_other_and_both_must_accept(
    share_stack: ShareStack,
) -> None:
    tenant = ref("pair")
    ana = _headers(tenant, "ana", groups=["sales"])
    ben = _headers(tenant, "ben", groups=["sales", "oslo"])
    eve = _headers(tenant, "eve", groups=["hr"])
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        alone = await http.get("/api/v1/buddies/me", headers=ana)
        assert alone.status_code == 200, alone.text
        assert alone.json()["pair"] is None and alone.json()["notify_shares"] is True

        # A team that is not mine is refused, naming the field.
        wrong = await http.post("/api/v1/buddies/me/request", headers=ana, json={"team": "hr"})
        assert wrong.status_code == 422
        assert wrong.headers["content-type"].startswith("application/problem+json")
        assert wrong.json()["errors"][0]["field"] == "team"

        asked = await http.post(
            "/api/v1/buddies/me/request", headers=ana, json={"team": "sales", "name": "Ana"}
        )
        assert asked.json()["requested"] is True and asked.json()["pair"] is None
        # Eve is not in sales: Ana's request does not fit her.
        other = await http.post("/api/v1/buddies/me/request", headers=eve, json={})
        assert other.json()["pair"] is None
        matched = await http.post("/api/v1/buddies/me/request", headers=ben, json={"name": "Ben"})
        pair = matched.json()["pair"]
        assert pair["status"] == "pending" and pair["proposed_by"] == "match"
        assert {m["employee_id"] for m in pair["members"]} == {"ana", "ben"}
        assert matched.json()["buddy"] == {"employee_id": "ana", "name": "Ana"}

        # Opt-in on both sides: one acceptance leaves it pending.
        first = await http.post(f"/api/v1/buddies/pairs/{pair['id']}/accept", headers=ana, json={})
        assert first.json()["status"] == "pending" and first.json()["accepted"] == ["ana"]
        # Nobody else answers for them.
        stranger = await http.post(
            f"/api/v1/buddies/pairs/{pair['id']}/accept", headers=eve, json={}
        )
        assert stranger.status_code == 404
        both = await http.post(f"/api/v1/buddies/pairs/{pair['id']}/accept", headers=ben, json={})
        assert both.json()["status"] == "active"

        # One buddy per person: Ben cannot ask again, the program team cannot pair him.
        again = await http.post("/api/v1/buddies/me/request", headers=ben, json={})
        assert again.status_code == 409
        admin = _headers(tenant, "adm", roles=["admin"])
        taken = await http.post(
            "/api/v1/buddies/pairs", headers=admin, json={"employee_ids": ["ben", "eve"]}
        )
        assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "employee_ids"

        # The program team sees who waits and the pairs.
        overview = (await http.get("/api/v1/buddies/pairs", headers=admin)).json()
        assert [p["employee_id"] for p in overview["waiting"]] == ["eve"]
        assert [p["id"] for p in overview["pairs"]] == [pair["id"]]
        forbidden = await http.get("/api/v1/buddies/pairs", headers=ana)
        assert forbidden.status_code == 403

        # Either can end it; then both are free again.
        ended = await http.post(f"/api/v1/buddies/pairs/{pair['id']}/end", headers=ben)
        assert ended.json()["status"] == "ended"
        assert (await http.get("/api/v1/buddies/me", headers=ana)).json()["pair"] is None

        # Another tenant sees nothing of it.
        elsewhere = _headers(ref("other"), "ana")
        assert (await http.get("/api/v1/buddies/me", headers=elsewhere)).json()["pair"] is None


async def test_a_draft_gets_feedback_but_no_edits_and_is_posted_by_its_author(
    share_stack: ShareStack,
) -> None:
    tenant = ref("draft")
    admin = _headers(tenant, "adm", roles=["admin"])
    ana = _headers(tenant, "ana")
    ben = _headers(tenant, "ben")
    eve = _headers(tenant, "eve")
    tail = await TopicTail("chorus.buddy-feedback-given.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            none_yet = await http.post(
                "/api/v1/buddies/drafts", headers=ana, json={"network": "linkedin", "text": "Hi"}
            )
            assert none_yet.status_code == 409

            pair = (
                await http.post(
                    "/api/v1/buddies/pairs",
                    headers=admin,
                    json={"employee_ids": ["ana", "ben"], "names": {"ana": "Ana", "ben": "Ben"}},
                )
            ).json()
            assert pair["status"] == "pending" and pair["proposed_by"] == "program"
            for who in (ana, ben):
                await http.post(f"/api/v1/buddies/pairs/{pair['id']}/accept", headers=who, json={})

            blank = await http.post(
                "/api/v1/buddies/drafts", headers=ana, json={"network": "linkedin", "text": "  "}
            )
            assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "text"
            sent = await http.post(
                "/api/v1/buddies/drafts",
                headers=ana,
                json={
                    "network": "linkedin",
                    "text": "Proud of our team's new release.",
                    "url": "https://example.com/release",
                },
            )
            assert sent.status_code == 201, sent.text
            draft = sent.json()
            assert draft["buddy_id"] == "ben" and draft["status"] == "open"

            # Only the two of them see it.
            assert (
                await http.get(f"/api/v1/buddies/drafts/{draft['id']}", headers=eve)
            ).status_code == 404
            to_ben = (await http.get("/api/v1/buddies/drafts", headers=ben)).json()
            assert [d["id"] for d in to_ben["to_me"]] == [draft["id"]]

            # Ben comments and reacts; Ana gives herself no feedback; nobody edits.
            commented = await http.post(
                f"/api/v1/buddies/drafts/{draft['id']}/comments",
                headers=ben,
                json={"text": "Not too much at all. Say what you built."},
            )
            assert commented.status_code == 201, commented.text
            for name in ("heart", "idea"):
                reacted = await http.put(
                    f"/api/v1/buddies/drafts/{draft['id']}/reaction",
                    headers=ben,
                    json={"reaction": name},
                )
                assert reacted.json()["reaction"]["name"] == name
            assert reacted.json()["text"] == "Proud of our team's new release."
            bad = await http.put(
                f"/api/v1/buddies/drafts/{draft['id']}/reaction",
                headers=ben,
                json={"reaction": "fire"},
            )
            assert bad.status_code == 422
            own = await http.post(
                f"/api/v1/buddies/drafts/{draft['id']}/comments", headers=ana, json={"text": "x"}
            )
            assert own.status_code == 403
            edit = await http.put(
                f"/api/v1/buddies/drafts/{draft['id']}", headers=ben, json={"text": "mine"}
            )
            assert edit.status_code == 405

            # Ana decides and posts it as her own post, through the share of an own post.
            joined = await http.post("/api/v1/advocates/me", headers=ana, json={"accept": True})
            assert joined.status_code == 201, joined.text
            wrong = await http.post(
                "/api/v1/shares",
                headers=ben,
                json={
                    "network": "linkedin",
                    "url": "https://example.com/release",
                    "draft_id": draft["id"],
                },
            )
            assert wrong.status_code in (403, 422)
            shared = await http.post(
                "/api/v1/shares",
                headers=ana,
                json={
                    "network": "linkedin",
                    "url": "https://example.com/release",
                    "text": "Proud of what we built: the new release.",
                    "draft_id": draft["id"],
                },
            )
            assert shared.status_code == 201, shared.text
            posted = (await http.get(f"/api/v1/buddies/drafts/{draft['id']}", headers=ana)).json()
            assert posted["status"] == "posted" and posted["share_id"] == shared.json()["id"]
            twice = await http.post(
                "/api/v1/shares",
                headers=ana,
                json={
                    "network": "linkedin",
                    "url": "https://example.com/x",
                    "draft_id": draft["id"],
                },
            )
            assert twice.status_code == 409
            late = await http.post(
                f"/api/v1/buddies/drafts/{draft['id']}/comments", headers=ben, json={"text": "!"}
            )
            assert late.status_code == 409

            # Ben sees Ana's share, told of it, and cheers it once.
            mine = (await http.get("/api/v1/buddies/me", headers=ben)).json()
            assert [s["id"] for s in mine["shares"]] == [shared.json()["id"]]
            assert mine["new_shares"] == 1 and mine["shares"][0]["cheered"] is False
            cheer = await http.post(
                "/api/v1/buddies/cheers", headers=ben, json={"share_id": shared.json()["id"]}
            )
            assert cheer.json()["new"] is True
            repeat = await http.post(
                "/api/v1/buddies/cheers", headers=ben, json={"share_id": shared.json()["id"]}
            )
            assert repeat.json()["new"] is False
            not_buddy = await http.post(
                "/api/v1/buddies/cheers", headers=eve, json={"share_id": shared.json()["id"]}
            )
            assert not_buddy.status_code == 409
            await http.post("/api/v1/buddies/me/seen", headers=ben)
            seen = (await http.get("/api/v1/buddies/me", headers=ben)).json()
            assert seen["new_shares"] == 0 and seen["shares"][0]["cheered"] is True

            # Not told: the setting is respected.
            quiet = await http.put(
                "/api/v1/buddies/me/settings", headers=ana, json={"notify_shares": False}
            )
            assert quiet.json()["notify_shares"] is False

        feedback = await _feedback(tail, tenant, 3)
        assert sorted(d["kind"] for d in feedback) == ["cheer", "comment", "reaction"]
        assert {(d["employee_id"], d["buddy_id"]) for d in feedback} == {("ben", "ana")}
    finally:
        await tail.stop()


async def test_my_download_holds_my_buddy_data_and_erasure_removes_it(
    share_stack: ShareStack,
) -> None:
    tenant = ref("buddy-data")
    admin = _headers(tenant, "adm", roles=["admin"])
    ana = _headers(tenant, "ana")
    ben = _headers(tenant, "ben")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        pair = (
            await http.post(
                "/api/v1/buddies/pairs", headers=admin, json={"employee_ids": ["ana", "ben"]}
            )
        ).json()
        for who in (ana, ben):
            await http.post(f"/api/v1/buddies/pairs/{pair['id']}/accept", headers=who, json={})
        ben_draft = (
            await http.post(
                "/api/v1/buddies/drafts", headers=ben, json={"network": "x", "text": "Hello"}
            )
        ).json()
        await http.post(
            f"/api/v1/buddies/drafts/{ben_draft['id']}/comments",
            headers=ana,
            json={"text": "Short and sweet."},
        )
        await http.post(
            "/api/v1/buddies/drafts", headers=ana, json={"network": "linkedin", "text": "Mine"}
        )

        export = (await http.get("/api/v1/me/export", headers=ana)).json()
        held = export["records"]["buddies"]
        assert [p["_id"] for p in held["pairs"]] == [pair["id"]]
        assert [d["text"] for d in held["drafts"]] == ["Mine"]
        assert [c["text"] for c in held["comments_given"]] == ["Short and sweet."]

        # Ana leaves and erases her data: the pair ends, her words go.
        assert (
            await http.post("/api/v1/advocates/me", headers=ana, json={"accept": True})
        ).status_code == 201
        left = await http.post("/api/v1/advocates/me/opt-out", headers=ana, json={"erase": True})
        assert left.status_code == 200, left.text
        assert (await http.get("/api/v1/buddies/me", headers=ben)).json()["pair"] is None
        seen = (await http.get(f"/api/v1/buddies/drafts/{ben_draft['id']}", headers=ben)).json()
        assert seen["comments"] == []
        after = (await http.get("/api/v1/me/export", headers=ana)).json()["records"]["buddies"]
        assert after["drafts"] == [] and after["comments_given"] == [] and after["person"] is None
        assert after["pairs"] == []
        kept = (await http.get("/api/v1/buddies/drafts", headers=ben)).json()["mine"]
        assert [d["buddy_id"] for d in kept] == ["erased"]
