"""Colleagues are offered different wordings of an item's text, and shares say which."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from pymongo import AsyncMongoClient
from share_stack import ShareStack, TopicTail, publish_content

from contracts.topics import POST_SHARED
from support import MONGODB_URL, eventually, ref, token

SUGGESTED = {"linkedin": "We are hiring: join my team", "x": "Join my team"}
VARIANTS = {
    "linkedin": [
        "My team is growing and I would love you to join us",
        "Know a platform engineer? We are hiring",
    ]
}


async def _known(http: httpx.AsyncClient, headers: dict[str, str], content_id: str) -> None:
    """Wait until the worker has learnt of the item (404 until then)."""

    async def probe() -> httpx.Response:
        return await http.get(f"/api/v1/content/{content_id}/variant", headers=headers)

    await eventually(probe, lambda r: r.status_code == 200, timeout=30)


async def _join(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    joined = await http.post("/api/v1/advocates/me", headers=headers, json={"accept": True})
    assert joined.status_code == 201, joined.text


async def test_thirty_colleagues_spread_over_three_variants(share_stack: ShareStack) -> None:
    """The acceptance rule: 3 variants, 30 colleagues sharing one item, none used over 11
    times, even when all of them open the share panel at the same moment."""
    tenant = ref("variants")
    people = [token(tenant, f"colleague-{n}") for n in range(30)]
    tail = await TopicTail(POST_SHARED).start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=60) as http:
            content_id = await publish_content(tenant, suggested=SUGGESTED, text_variants=VARIANTS)
            await asyncio.gather(*(_join(http, p) for p in people))
            await _known(http, people[0], content_id)

            async def offered(headers: dict[str, str]) -> int:
                reply = await http.get(
                    f"/api/v1/content/{content_id}/variant",
                    headers=headers,
                    params={"network": "linkedin"},
                )
                assert reply.status_code == 200, reply.text
                offer = reply.json()["networks"]["linkedin"]
                assert offer["variants"] == 3
                wordings = [SUGGESTED["linkedin"], *VARIANTS["linkedin"]]
                assert offer["text"] == wordings[offer["variant"]]
                return int(offer["variant"])

            variants = await asyncio.gather(*(offered(p) for p in people))
            # Asking again changes nothing: each person keeps their variant.
            assert await asyncio.gather(*(offered(p) for p in people[:5])) == variants[:5]

            async def share(headers: dict[str, str], variant: int) -> dict[str, object]:
                reply = await http.post(
                    "/api/v1/shares",
                    headers=headers,
                    json={"content_id": content_id, "network": "linkedin", "text_variant": variant},
                )
                assert reply.status_code == 201, reply.text
                return dict(reply.json())

            shares = await asyncio.gather(
                *(share(p, v) for p, v in zip(people, variants, strict=True))
            )
            assert all(s["text_edited"] is False for s in shares)
            events = await eventually(
                lambda: tail.poll(1),
                lambda rs: len([r for r in rs if r["tenantid"] == tenant]) >= 30,
                timeout=60,
            )
    finally:
        await tail.stop()
    used = Counter(r["data"]["text_variant"] for r in events if r["tenantid"] == tenant)
    assert sum(used.values()) == 30
    assert set(used) == {0, 1, 2}
    assert max(used.values()) <= 11, used


async def test_a_share_records_its_variant_and_whether_it_was_edited(
    share_stack: ShareStack,
) -> None:
    tenant = ref("variant-edit")
    anna, bo = token(tenant, "anna"), token(tenant, "bo")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=30) as http:
        content_id = await publish_content(tenant, suggested=SUGGESTED, text_variants=VARIANTS)
        await _join(http, anna)
        await _join(http, bo)
        await _known(http, anna, content_id)

        everything = await http.get(f"/api/v1/content/{content_id}/variant", headers=anna)
        networks = everything.json()["networks"]
        # One wording on X: nothing to spread there.
        assert networks["x"] == {
            "variant": 0,
            "variants": 1,
            "text": "Join my team",
            "shared": False,
        }
        annas = networks["linkedin"]["variant"]
        bos = (
            await http.get(f"/api/v1/content/{content_id}/variant?network=linkedin", headers=bo)
        ).json()["networks"]["linkedin"]["variant"]
        assert bos != annas

        wrong = await http.post(
            "/api/v1/shares",
            headers=anna,
            json={"content_id": content_id, "network": "linkedin", "text_variant": 3},
        )
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "text_variant"

        tail = await TopicTail(POST_SHARED).start()
        try:
            edited = await http.post(
                "/api/v1/shares",
                headers=anna,
                json={
                    "content_id": content_id,
                    "network": "linkedin",
                    "text_variant": annas,
                    "text": "In my own words: we are hiring, and I love working here",
                },
            )
            assert edited.status_code == 201, edited.text
            assert edited.json()["text_variant"] == annas
            assert edited.json()["text_edited"] is True
            # Without a text, the variant's own text is shared.
            plain = await http.post(
                "/api/v1/shares",
                headers=bo,
                json={"content_id": content_id, "network": "linkedin", "text_variant": bos},
            )
            wordings = [SUGGESTED["linkedin"], *VARIANTS["linkedin"]]
            assert plain.json()["text"] == wordings[bos]
            assert plain.json()["text_edited"] is False
            records = await eventually(
                lambda: tail.poll(1),
                lambda rs: len([r for r in rs if r["tenantid"] == tenant]) >= 2,
            )
        finally:
            await tail.stop()
        data = {r["data"]["employee_id"]: r["data"] for r in records if r["tenantid"] == tenant}
        assert (data["anna"]["text_variant"], data["anna"]["text_edited"]) == (annas, True)
        assert (data["bo"]["text_variant"], data["bo"]["text_edited"]) == (bos, False)

        # Once shared, the person keeps their variant, and it says so.
        again = await http.get(
            f"/api/v1/content/{content_id}/variant?network=linkedin", headers=anna
        )
        assert again.json()["networks"]["linkedin"] == {
            "variant": annas,
            "variants": 3,
            "text": wordings[annas],
            "shared": True,
        }


async def test_an_item_not_for_me_offers_nothing(share_stack: ShareStack) -> None:
    tenant = ref("variant-unknown")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=30) as http:
        missing = await http.get("/api/v1/content/nothing-here/variant", headers=token(tenant, "a"))
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        bad = await http.get(
            "/api/v1/content/nothing-here/variant?network=myspace", headers=token(tenant, "a")
        )
        assert bad.status_code == 422


async def test_leaving_with_erasure_forgets_which_variant_i_got(share_stack: ShareStack) -> None:
    tenant = ref("variant-erase")
    me = token(tenant, "cleo")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=30) as http:
        content_id = await publish_content(tenant, suggested=SUGGESTED, text_variants=VARIANTS)
        await _join(http, me)
        await _known(http, me, content_id)
        mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(MONGODB_URL)
        try:
            offers = mongo[share_stack.api.env["SHARE_DATABASE"]]["variant_offers"]
            mine = {"tenant": tenant, "employee_id": "cleo"}
            assert await offers.count_documents(mine) == 1
            left = await http.post("/api/v1/advocates/me/opt-out", headers=me, json={"erase": True})
            assert left.status_code == 200, left.text
            assert await offers.count_documents(mine) == 0
        finally:
            await mongo.close()
