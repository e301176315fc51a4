"""Leaders go first: the program team names the leaders' group, and a leader's shares say
so on the event, with their own post's link and title for colleagues to see."""

from __future__ import annotations

import httpx
from share_stack import ShareStack, TopicTail

from contracts.topics import POST_SHARED
from support import eventually, ref, token


async def _join(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    joined = await http.post("/api/v1/advocates/me", headers=headers, json={"accept": True})
    assert joined.status_code == 201, joined.text


async def test_a_leaders_own_post_is_stamped_and_carries_its_link(share_stack: ShareStack) -> None:
    tenant = ref("leaders")
    admin = token(tenant, "admin-1", roles=("admin",))
    curator = token(tenant, "curator-1", roles=("curator",))
    leader = token(tenant, "ceo", groups=("leadership", "oslo"))
    colleague = token(tenant, "dev-1", groups=("engineering",))
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=30) as http:
        unset = await http.get("/api/v1/settings/leaders", headers=curator)
        assert unset.status_code == 200, unset.text
        assert unset.json() == {"leaders_group": None}
        # Only admins name the group; an employee cannot even read it.
        refused = await http.put(
            "/api/v1/settings/leaders", headers=curator, json={"leaders_group": "leadership"}
        )
        assert refused.status_code == 403
        assert (await http.get("/api/v1/settings/leaders", headers=colleague)).status_code == 403
        bad = await http.put(
            "/api/v1/settings/leaders", headers=admin, json={"leaders_group": "not a group!"}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "leaders_group" in bad.text
        named = await http.put(
            "/api/v1/settings/leaders", headers=admin, json={"leaders_group": "leadership"}
        )
        assert named.status_code == 200, named.text
        assert (await http.get("/api/v1/settings/leaders", headers=curator)).json() == {
            "leaders_group": "leadership"
        }
        # The daily cap, set beside it, leaves the leaders' group alone.
        capped = await http.put(
            "/api/v1/settings/sharing", headers=admin, json={"daily_share_cap": 7}
        )
        assert capped.status_code == 200, capped.text
        assert (await http.get("/api/v1/settings/leaders", headers=curator)).json() == {
            "leaders_group": "leadership"
        }

        await _join(http, leader)
        await _join(http, colleague)
        # Each person can see whether colleagues are shown their own posts.
        assert (await http.get("/api/v1/advocates/me", headers=leader)).json()["leader"] is True
        assert (await http.get("/api/v1/advocates/me", headers=colleague)).json()["leader"] is False
        tail = await TopicTail(POST_SHARED).start()
        try:
            own = await http.post(
                "/api/v1/shares",
                headers=leader,
                json={
                    "network": "linkedin",
                    "url": "https://www.linkedin.com/posts/ceo_why-i-joined-activity-1",
                    "title": "Why I joined, and why you should too",
                    "text": "Five years in, here is what keeps me here.",
                },
            )
            assert own.status_code == 201, own.text
            assert own.json()["by_leader"] is True
            theirs = await http.post(
                "/api/v1/shares",
                headers=colleague,
                json={"network": "linkedin", "url": "https://example.com/my-talk"},
            )
            assert theirs.status_code == 201, theirs.text
            assert theirs.json()["by_leader"] is False
            records = await eventually(
                lambda: tail.poll(1),
                lambda rs: len([r for r in rs if r["tenantid"] == tenant]) >= 2,
                timeout=30,
            )
        finally:
            await tail.stop()
    by_person = {r["data"]["employee_id"]: r["data"] for r in records if r["tenantid"] == tenant}
    ceo = by_person["ceo"]
    assert ceo["by_leader"] is True
    # The link as the leader shared it, without the tracking parameters of their short link.
    assert ceo["post_url"] == "https://www.linkedin.com/posts/ceo_why-i-joined-activity-1"
    assert ceo["post_title"] == "Why I joined, and why you should too"
    dev = by_person["dev-1"]
    assert dev["by_leader"] is False
    assert dev["post_url"] is None and dev["post_title"] is None
