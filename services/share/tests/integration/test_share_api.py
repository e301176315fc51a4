"""Advocates, shares, scheduled and direct posting, webhooks: the real processes and servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from share_stack import ShareStack, TopicTail, add_connector, publish_content, publish_event

from contracts import (
    Audience,
    ContentRetired,
    ContentRetiredData,
    GuidelinesAcknowledged,
    GuidelinesAcknowledgedData,
    GuidelinesPublished,
    GuidelinesPublishedData,
)
from support import eventually, ref, token


def _headers(tenant: str, sub: str, **claims: object) -> dict[str, str]:
    from chassis.auth import issue_token
    from chassis.settings import LOCAL_JWT_SECRET

    jwt = issue_token(LOCAL_JWT_SECRET, sub=sub, tenant=tenant, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def _join(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    joined = await http.post("/api/v1/advocates/me", headers=headers, json={"accept": True})
    assert joined.status_code == 201, joined.text


async def _share_when_known(
    http: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object]
) -> httpx.Response:
    """Share once the worker has learnt of the content (404 until then)."""

    async def attempt() -> httpx.Response:
        return await http.post("/api/v1/shares", headers=headers, json=body)

    return await eventually(attempt, lambda r: r.status_code != 404, timeout=30)


async def test_joining_is_opt_in_and_opting_out_stops_shares(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    me = token(tenant, "emp-1")
    enrolled = await TopicTail("chorus.advocate-enrolled.v1").start()
    opted_out = await TopicTail("chorus.advocate-opted-out.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            content_id = await publish_content(tenant)
            # Advocacy comes first: not a member, no share, whatever the content.
            refused = await http.post(
                "/api/v1/shares", headers=me, json={"content_id": content_id, "network": "linkedin"}
            )
            assert refused.status_code == 403, refused.text
            assert "join" in refused.json()["detail"]

            no_consent = await http.post("/api/v1/advocates/me", headers=me, json={})
            assert no_consent.status_code == 422
            assert no_consent.json()["errors"][0]["field"] == "accept"

            joined = await http.post(
                "/api/v1/advocates/me", headers=me, json={"accept": True, "guidelines_version": 2}
            )
            assert joined.status_code == 201, joined.text
            assert joined.json()["guidelines_version"] == 2
            assert joined.json()["consent_at"]
            again = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert again.status_code == 200

            connected = await http.put(
                "/api/v1/advocates/me/networks/linkedin", headers=me, json={"audience_size": 500}
            )
            assert connected.json()["networks"]["linkedin"]["audience_size"] == 500
            updated = await http.put(
                "/api/v1/advocates/me/networks/linkedin", headers=me, json={"audience_size": 800}
            )
            assert updated.json()["networks"]["linkedin"]["audience_size"] == 800

            shared = await _share_when_known(
                http, me, {"content_id": content_id, "network": "linkedin"}
            )
            assert shared.status_code == 201, shared.text

            left = await http.post("/api/v1/advocates/me/opt-out", headers=me, json={})
            assert left.json()["status"] == "opted_out"
            assert left.json()["opted_out_at"]
            stopped = await http.post(
                "/api/v1/shares", headers=me, json={"content_id": content_id, "network": "linkedin"}
            )
            assert stopped.status_code == 403
            not_again = await http.post("/api/v1/advocates/me/opt-out", headers=me, json={})
            assert not_again.status_code == 403

            rejoined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert rejoined.status_code == 201
            assert rejoined.json()["networks"]["linkedin"]["audience_size"] == 800

        def ours(records: list[dict]) -> list[dict]:
            return [r for r in records if r["tenantid"] == tenant]

        joins = ours(await enrolled.poll(3))
        # Joining, two audience updates and joining again.
        assert [r["data"]["audience_sizes"].get("linkedin") for r in joins] == [None, 500, 800, 800]
        assert joins[0]["data"]["guidelines_version"] == 2
        outs = ours(await opted_out.poll(1))
        assert [r["data"]["employee_id"] for r in outs] == ["emp-1"]
    finally:
        await enrolled.stop()
        await opted_out.stop()


async def test_targeting_expiry_and_retirement_decide_what_can_be_shared(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    sales = _headers(tenant, "s1", groups=["sales"], location="berlin", languages=["de-DE"])
    hr = _headers(tenant, "h1", groups=["hr"], location="berlin", languages=["de"])
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        await _join(http, sales)
        await _join(http, hr)
        targeted = await publish_content(
            tenant, audience=Audience(groups=["sales"], locations=["berlin"], languages=["de"])
        )
        ok = await _share_when_known(http, sales, {"content_id": targeted, "network": "x"})
        assert ok.status_code == 201, ok.text
        other = await http.post(
            "/api/v1/shares", headers=hr, json={"content_id": targeted, "network": "x"}
        )
        assert other.status_code == 403
        assert "not targeted" in other.json()["detail"]

        expired = await publish_content(tenant, expires_at=datetime.now(UTC) - timedelta(seconds=1))
        late = await _share_when_known(http, sales, {"content_id": expired, "network": "x"})
        assert late.status_code == 409
        assert "expired" in late.json()["detail"]

        future = await publish_content(tenant, publish_at=datetime.now(UTC) + timedelta(hours=1))
        early = await _share_when_known(http, sales, {"content_id": future, "network": "x"})
        assert early.status_code == 409
        assert "not published" in early.json()["detail"]

        retired = await publish_content(tenant)
        assert (
            await _share_when_known(http, sales, {"content_id": retired, "network": "x"})
        ).status_code == 201
        await publish_event(
            ContentRetired.create(
                tenant_id=tenant,
                subject=retired,
                data=ContentRetiredData(
                    content_id=retired, reason="withdrawn", retired_at=datetime.now(UTC)
                ),
            )
        )

        async def retired_share() -> httpx.Response:
            return await http.post(
                "/api/v1/shares", headers=sales, json={"content_id": retired, "network": "x"}
            )

        gone = await eventually(retired_share, lambda r: r.status_code == 409)
        assert "retired" in gone.json()["detail"]

        unknown = await http.post(
            "/api/v1/shares", headers=sales, json={"content_id": "nope", "network": "x"}
        )
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"


async def test_daily_cap_is_a_tenant_setting(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    me, colleague = token(tenant, "e1"), token(tenant, "e2")
    admin = token(tenant, "boss", roles=("admin",))
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        forbidden = await http.put(
            "/api/v1/settings/sharing", headers=me, json={"daily_share_cap": 2}
        )
        assert forbidden.status_code == 403
        invalid = await http.put(
            "/api/v1/settings/sharing", headers=admin, json={"daily_share_cap": 0}
        )
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["field"] == "daily_share_cap"
        saved = await http.put(
            "/api/v1/settings/sharing", headers=admin, json={"daily_share_cap": 2}
        )
        assert saved.json() == {"daily_share_cap": 2}
        await _join(http, me)
        await _join(http, colleague)
        content_id = await publish_content(tenant)
        body = {"content_id": content_id, "network": "linkedin"}
        assert (await _share_when_known(http, me, body)).status_code == 201
        assert (await http.post("/api/v1/shares", headers=me, json=body)).status_code == 201
        capped = await http.post("/api/v1/shares", headers=me, json=body)
        assert capped.status_code == 429
        assert capped.json()["cap"] == 2
        assert (await http.post("/api/v1/shares", headers=colleague, json=body)).status_code == 201


async def test_each_network_gets_its_exact_intent_url(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    me = token(tenant, "e1")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        await _join(http, me)
        content_id = await publish_content(
            tenant, suggested={"x": "Hiring! #jobs", "whatsapp": "Look at this"}
        )
        seen = {}
        for network in ("linkedin", "x", "facebook", "xing", "whatsapp", "email", "instagram"):
            response = await _share_when_known(
                http, me, {"content_id": content_id, "network": network}
            )
            assert response.status_code == 201, response.text
            seen[network] = response.json()
    for network, body in seen.items():
        link = f"{share_stack.links_url}/l/{body['short_code']}"
        assert body["tracked_url"] == link
        assert body["target_url"] == (
            f"https://example.com/jobs/42?utm_source={network}&utm_medium=employee_advocacy"
            f"&utm_campaign=content-{content_id}&utm_content={body['id']}"
        )
    q = {n: quote(f"{share_stack.links_url}/l/{b['short_code']}", safe="") for n, b in seen.items()}
    assert seen["linkedin"]["intent"]["url"] == (
        f"https://www.linkedin.com/sharing/share-offsite/?url={q['linkedin']}"
    )
    assert seen["x"]["intent"]["url"] == (
        f"https://x.com/intent/tweet?text=Hiring%21%20%23jobs&url={q['x']}"
    )
    assert seen["facebook"]["intent"]["url"] == (
        f"https://www.facebook.com/sharer/sharer.php?u={q['facebook']}"
    )
    assert seen["xing"]["intent"]["url"] == f"https://www.xing.com/spi/shares/new?url={q['xing']}"
    assert seen["whatsapp"]["intent"]["url"] == (
        f"https://wa.me/?text=Look%20at%20this%20{q['whatsapp']}"
    )
    assert seen["email"]["intent"]["url"] == (
        f"mailto:?subject=We%20are%20hiring%20platform%20engineers&body={q['email']}"
    )
    assert seen["instagram"]["intent"] == {
        "url": None,
        "copy_text": f"{share_stack.links_url}/l/{seen['instagram']['short_code']}",
        "image_url": None,
    }


async def test_sharing_waits_for_required_guidelines_acknowledgement(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    me = token(tenant, "e1")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        await _join(http, me)
        content_id = await publish_content(tenant)
        body = {"content_id": content_id, "network": "linkedin"}
        assert (await _share_when_known(http, me, body)).status_code == 201
        await publish_event(
            GuidelinesPublished.create(
                tenant_id=tenant,
                subject="3",
                data=GuidelinesPublishedData(
                    version=3,
                    title="Be kind",
                    published_at=datetime.now(UTC),
                    published_by="hr",
                    acknowledgement_required=True,
                ),
            )
        )

        async def attempt() -> httpx.Response:
            return await http.post("/api/v1/shares", headers=me, json=body)

        refused = await eventually(attempt, lambda r: r.status_code == 403)
        assert "version 3" in refused.json()["detail"]
        await publish_event(
            GuidelinesAcknowledged.create(
                tenant_id=tenant,
                subject="e1",
                data=GuidelinesAcknowledgedData(
                    employee_id="e1", guidelines_version=3, acknowledged_at=datetime.now(UTC)
                ),
            )
        )
        await eventually(attempt, lambda r: r.status_code == 201)


async def test_linkedin_direct_post_and_scheduled_share(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    me = _headers(tenant, "e1", location="oslo")
    access_token = ref("li-token-")
    share_stack.linkedin.tokens.add(access_token)
    posted = await TopicTail("chorus.post-shared.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            await _join(http, me)
            content_id = await publish_content(tenant, topics=["engineering", "hiring"])
            no_token = await _share_when_known(
                http, me, {"content_id": content_id, "network": "linkedin", "method": "api"}
            )
            assert no_token.status_code == 409
            not_linkedin = await http.post(
                "/api/v1/shares",
                headers=me,
                json={"content_id": content_id, "network": "x", "method": "api"},
            )
            assert not_linkedin.status_code == 422

            connected = await http.put(
                "/api/v1/advocates/me/networks/linkedin",
                headers=me,
                json={
                    "audience_size": 1200,
                    "access_token": access_token,
                    "author": "urn:li:person:abc123",
                },
            )
            assert connected.status_code == 200, connected.text
            assert connected.json()["networks"]["linkedin"]["direct_posting"] is True

            direct = await http.post(
                "/api/v1/shares",
                headers=me,
                json={
                    "content_id": content_id,
                    "network": "linkedin",
                    "method": "api",
                    "text": "Proud of this",
                },
            )
            assert direct.status_code == 201, direct.text
            assert direct.json()["status"] == "shared"
            assert direct.json()["network_post_id"].startswith("urn:li:share:")
            sent = share_stack.linkedin.posts[-1]
            assert sent["body"]["author"] == "urn:li:person:abc123"
            assert sent["body"]["commentary"] == "Proud of this"
            assert sent["body"]["content"]["article"]["source"] == direct.json()["tracked_url"]
            assert sent["headers"]["Authorization"] == f"Bearer {access_token}"

            due = datetime.now(UTC) + timedelta(seconds=2)
            scheduled = await http.post(
                "/api/v1/shares",
                headers=me,
                json={
                    "content_id": content_id,
                    "network": "linkedin",
                    "scheduled_at": due.isoformat(),
                },
            )
            assert scheduled.status_code == 201, scheduled.text
            assert scheduled.json()["status"] == "scheduled"
            assert scheduled.json()["shared_at"] is None
            share_id = scheduled.json()["id"]

            async def state() -> httpx.Response:
                return await http.get(f"/api/v1/shares/{share_id}", headers=me)

            fired = await eventually(state, lambda r: r.json()["status"] == "shared", timeout=20)
            assert datetime.fromisoformat(fired.json()["shared_at"]) >= due
            assert fired.json()["method"] == "scheduled"

            past = await http.post(
                "/api/v1/shares",
                headers=me,
                json={
                    "content_id": content_id,
                    "network": "linkedin",
                    "scheduled_at": "2020-01-01T00:00:00Z",
                },
            )
            assert past.status_code == 422

            # A token LinkedIn refuses: the share fails, the caller learns why.
            share_stack.linkedin.tokens.discard(access_token)
            refused = await http.post(
                "/api/v1/shares",
                headers=me,
                json={"content_id": content_id, "network": "linkedin", "method": "api"},
            )
            assert refused.status_code == 424
            assert "401" in refused.json()["detail"]

        events = [r for r in await posted.poll(3) if r["tenantid"] == tenant]
        methods = sorted(r["data"]["method"] for r in events)
        assert methods == ["api", "scheduled"]
        assert all(r["data"]["audience_size"] == 1200 for r in events)
        # The sharer's location and the item's topics travel with the share.
        assert all(r["data"]["employee_location"] == "oslo" for r in events)
        assert all(r["data"]["content_topics"] == ["engineering", "hiring"] for r in events)
    finally:
        await posted.stop()


async def test_engagement_webhooks_are_signed_idempotent_and_counted(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    me = token(tenant, "e1")
    observed = await TopicTail("chorus.engagement-observed.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            await _join(http, me)
            connector = await add_connector(http, tenant)
            content_id = await publish_content(tenant)
            share = (
                await _share_when_known(http, me, {"content_id": content_id, "network": "linkedin"})
            ).json()
            report = {
                "id": ref("li-reaction-"),
                "kind": "reaction",
                "share_id": share["id"],
                "count": 3,
                "observed_at": datetime.now(UTC).isoformat(),
            }
            raw, headers = connector.signed(report)
            assert (
                await http.post(
                    "/api/v1/engagements", content=raw, headers={"Content-Type": "application/json"}
                )
            ).status_code == 401
            assert (
                await http.post(
                    "/api/v1/engagements",
                    content=raw,
                    headers={**headers, "X-Chorus-Signature": "sha256=00"},
                )
            ).status_code == 401
            _, wrong_key = replace(connector, secret="not-the-secret").signed(report)
            assert (
                await http.post("/api/v1/engagements", content=raw, headers=wrong_key)
            ).status_code == 401
            stale_raw, stale = connector.signed(report, skew=-3600)
            assert (
                await http.post("/api/v1/engagements", content=stale_raw, headers=stale)
            ).status_code == 401

            first = await http.post("/api/v1/engagements", content=raw, headers=headers)
            assert first.status_code == 202, first.text
            assert first.json()["status"] == "accepted"
            again = await http.post("/api/v1/engagements", content=raw, headers=headers)
            assert again.json() == {**first.json(), "status": "duplicate"}

            conversion = {
                "id": ref("ats-"),
                "kind": "conversion",
                "short_code": share["short_code"],
                "observed_at": datetime.now(UTC).isoformat(),
            }
            raw, headers = connector.signed(conversion)
            assert (
                await http.post("/api/v1/engagements", content=raw, headers=headers)
            ).status_code == 202

            raw, headers = connector.signed({**report, "id": ref(), "share_id": "unknown"})
            assert (
                await http.post("/api/v1/engagements", content=raw, headers=headers)
            ).status_code == 404
            raw, headers = connector.signed({**report, "id": ref(), "kind": "click"})
            invalid = await http.post("/api/v1/engagements", content=raw, headers=headers)
            assert invalid.status_code == 422
            assert invalid.json()["errors"][0]["field"] == "kind"

            async def history() -> httpx.Response:
                return await http.get(f"/api/v1/shares?content_id={content_id}", headers=me)

            counted = await eventually(
                history,
                lambda r: r.json()["items"][0]["engagement"] == {"reaction": 3, "conversion": 1},
                timeout=90,
            )
            assert counted.json()["items"][0]["id"] == share["id"]

        events = [r for r in await observed.poll(2) if r["tenantid"] == tenant]
        assert sorted(r["data"]["kind"] for r in events) == ["conversion", "reaction"]
        assert all(r["data"]["source"] == "webhook" for r in events)
    finally:
        await observed.stop()


async def test_share_history_per_advocate_and_content(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    one, two = token(tenant, "e1"), token(tenant, "e2")
    admin = token(tenant, "boss", roles=("admin",))
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        await _join(http, one)
        await _join(http, two)
        content_id = await publish_content(tenant)
        body = {"content_id": content_id, "network": "linkedin"}
        assert (await _share_when_known(http, one, body)).status_code == 201
        for caller in (one, one, two):
            assert (await http.post("/api/v1/shares", headers=caller, json=body)).status_code == 201
        own = await http.post(
            "/api/v1/shares",
            headers=two,
            json={"network": "x", "url": "https://blog.example.org/post", "text": "My post"},
        )
        assert own.status_code == 201, own.text
        assert own.json()["target_url"].startswith("https://blog.example.org/post?utm_source=x")

        mine = await http.get("/api/v1/shares", headers=one)
        assert [s["employee_id"] for s in mine.json()["items"]] == ["e1"] * 3
        assert (await http.get("/api/v1/shares?employee_id=e2", headers=one)).status_code == 403
        per_content = await http.get(f"/api/v1/shares?content_id={content_id}", headers=admin)
        assert len(per_content.json()["items"]) == 4
        first = await http.get(f"/api/v1/shares?content_id={content_id}&limit=3", headers=admin)
        rest = await http.get(
            f"/api/v1/shares?content_id={content_id}&limit=3&cursor={first.json()['next_cursor']}",
            headers=admin,
        )
        ids = [s["id"] for s in first.json()["items"] + rest.json()["items"]]
        assert ids == [s["id"] for s in per_content.json()["items"]]
        bad = await http.get("/api/v1/shares?cursor=%%%", headers=admin)
        assert bad.status_code == 400
