"""The download of my data: my advocate record, every share of mine with its engagement,
my day counters; never a token, never another person's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from share_stack import ShareStack, add_connector
from share_user_agents import BROWSERS

from support import eventually, ref, token


async def _own_post(http: httpx.AsyncClient, headers: dict[str, str], network: str) -> dict:
    shared = await http.post(
        "/api/v1/shares",
        headers=headers,
        json={"url": "https://example.com/own", "network": network, "text": "Worth a read"},
    )
    assert shared.status_code == 201, shared.text
    return dict(shared.json())


async def test_my_export_holds_everything_of_mine_and_nothing_of_anyone_else(
    share_stack: ShareStack,
) -> None:
    tenant = ref("mine")
    me, colleague = token(tenant, "emp-a"), token(tenant, "emp-a:x")
    access_token = ref("li-token-")
    share_stack.linkedin.tokens.add(access_token)
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        nothing = await http.get("/api/v1/me/export", headers=me)
        assert nothing.status_code == 200, nothing.text
        assert nothing.json()["shares"] == []
        assert nothing.json()["records"]["advocate"] is None

        for headers in (me, colleague):
            joined = await http.post("/api/v1/advocates/me", headers=headers, json={"accept": True})
            assert joined.status_code == 201, joined.text
        connected = await http.put(
            "/api/v1/advocates/me/networks/linkedin",
            headers=me,
            json={
                "audience_size": 700,
                "access_token": access_token,
                "author": "urn:li:person:me123",
                "expires_in": 3600,
            },
        )
        assert connected.status_code == 200, connected.text
        first = await _own_post(http, me, "linkedin")
        second = await _own_post(http, me, "x")
        theirs = await _own_post(http, colleague, "linkedin")

        raw, headers = (await add_connector(http, tenant)).signed(
            {
                "id": ref("reaction-"),
                "kind": "reaction",
                "share_id": first["id"],
                "count": 4,
                "observed_at": datetime.now(UTC).isoformat(),
            }
        )
        assert (await http.post("/api/v1/engagements", content=raw, headers=headers)).is_success
        # A visitor of my link: counted as my engagement, never named in my data.
        clicked = await http.get(
            f"{share_stack.links_url}/l/{first['short_code']}",
            headers={"User-Agent": BROWSERS[0]},
        )
        # An own post off the tenant's link domains: the page saying where it leads, counted.
        assert clicked.status_code == 200

        async def export() -> dict:
            answer = await http.get("/api/v1/me/export", headers=me)
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        mine = await eventually(
            export,
            lambda m: (
                {s["id"]: s["engagement"] for s in m["shares"]}.get(first["id"], {}).get("click")
                == 1
                and m["shares"][-1]["engagement"].get("reaction") == 4
            ),
        )

    assert mine["employee_id"] == "emp-a"
    assert [s["id"] for s in mine["shares"]] == [second["id"], first["id"]]
    assert all(s["employee_id"] == "emp-a" for s in mine["shares"])
    assert mine["shares"][1]["audience_size"] == 700 and mine["shares"][1]["created_at"]
    records = mine["records"]
    advocate = records["advocate"]
    assert (advocate["employee_id"], advocate["status"]) == ("emp-a", "enrolled")
    assert advocate["consent_at"] and advocate["guidelines_version"] == 0
    assert advocate["networks"]["linkedin"]["audience_size"] == 700
    assert advocate["networks"]["linkedin"]["direct_posting"] is True
    assert [(t["network"], t["author"]) for t in records["network_tokens"]] == [
        ("linkedin", "urn:li:person:me123")
    ]
    assert records["network_tokens"][0]["expires_at"]
    today = datetime.now(UTC).date().isoformat()
    assert records["daily_share_counts"] == [{"day": today, "shares": 2}]

    text = json.dumps(mine)
    # No token, no visitor, and nothing of a colleague whose id begins with mine.
    assert access_token not in text and "token" not in json.dumps(records["network_tokens"][0])
    assert "visitor" not in text
    assert theirs["id"] not in text and "emp-a:x" not in text

    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        page = (await http.get("/api/v1/me/export", headers=me, params={"limit": 1})).json()
        assert [s["id"] for s in page["shares"]] == [second["id"]] and page["records"]
        rest = (
            await http.get(
                "/api/v1/me/export", headers=me, params={"limit": 1, "cursor": page["next_cursor"]}
            )
        ).json()
        assert [s["id"] for s in rest["shares"]] == [first["id"]] and rest["records"] is None
        theirs_export = (await http.get("/api/v1/me/export", headers=colleague)).json()
        assert [s["id"] for s in theirs_export["shares"]] == [theirs["id"]]
        assert theirs_export["records"]["daily_share_counts"] == [{"day": today, "shares": 1}]
        assert theirs_export["records"]["network_tokens"] == []
