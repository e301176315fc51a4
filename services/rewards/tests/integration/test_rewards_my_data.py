"""The download of my data: the whole ledger a page at a time, and every other record of
mine (standing, badges, challenges, spending, leaderboard choice); nobody else's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from support import ref, token


def _entry(tenant: str, employee: str, n: int, at: datetime, points: int = 10) -> dict:
    return {
        "_id": f"{employee}-award-{n}",
        "tenant": tenant,
        "employee_id": employee,
        "points": points,
        "rule_id": "share",
        "rule_version": 1,
        "reason": "shared a post",
        "source_event_id": f"{employee}-event-{n}",
        "source_event_type": "io.chorus.post-shared.v1",
        "awarded_at": at,
    }


async def test_my_export_holds_my_whole_ledger_and_records_and_only_mine(
    rewards_api, rewards_db
) -> None:
    tenant = ref("mine")
    now = datetime.now(UTC).replace(microsecond=0)
    # Two entries of one moment, so paging must not lose one at a page's edge.
    moments = [now - timedelta(hours=h) for h in (5, 4, 3, 3, 1)]
    mine = [_entry(tenant, "emp-a", n, at) for n, at in enumerate(moments)]
    theirs = [_entry(tenant, "emp-b", n, now) for n in range(3)]
    elsewhere = [_entry(ref("other"), "emp-a", 99, now)]
    await rewards_db["ledger"].insert_many([*mine, *theirs, *elsewhere])
    await rewards_db["standings"].insert_many(
        [
            {
                "_id": f"{tenant}:emp-a",
                "tenant": tenant,
                "employee_id": "emp-a",
                "earned": 50,
                "month_key": now.strftime("%Y-%m"),
                "month_points": 50,
                "shares": 5,
                "streak": 2,
                "days": json.dumps({now.date().isoformat(): [50, {"share": 50}]}),
                "badges": {"first-share": {"name": "First share", "earned_at": moments[0]}},
                "challenges": {"spring": 2},
                "groups": ["sales"],
                "location": "Oslo",
                "_wm": {"chorus_post-shared_v1-0": 41},
            },
            {
                "_id": f"{tenant}:emp-b",
                "tenant": tenant,
                "employee_id": "emp-b",
                "earned": 30,
                "badges": {"ten-shares": {"name": "Ten shares", "earned_at": now}},
            },
        ]
    )
    await rewards_db["month_badges"].insert_one(
        {
            "_id": ref("badge-"),
            "tenant": tenant,
            "employee_id": "emp-a",
            "badge": "top-10-percent",
            "name": "Top 10% of 2026-01",
            "month": "2026-01",
            "points": 50,
            "earned_at": now - timedelta(days=1),
        }
    )
    admin = token(tenant, "adm", roles=("admin",))
    me, colleague = token(tenant, "emp-a"), token(tenant, "emp-b")
    async with httpx.AsyncClient(base_url=rewards_api.url, timeout=30) as http:
        challenge = await http.post(
            "/api/v1/challenges",
            headers=admin,
            json={
                "challenge_id": "spring",
                "name": "Share three jobs",
                "action": "share",
                "target": 3,
                "starts_at": (now - timedelta(days=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
            },
        )
        assert challenge.status_code == 201, challenge.text
        item = await http.put(
            "/api/v1/catalog/mug", headers=admin, json={"name": "Mug", "price": 20, "stock": 5}
        )
        assert item.status_code == 200, item.text
        redeemed = await http.post("/api/v1/redemptions", headers=me, json={"item_id": "mug"})
        assert redeemed.status_code == 201, redeemed.text
        hidden = await http.put(
            "/api/v1/me/leaderboard-visibility", headers=me, json={"hidden": True}
        )
        assert hidden.status_code == 200, hidden.text

        answer = await http.get("/api/v1/me/export", headers=me)
        assert answer.status_code == 200, answer.text
        export = answer.json()
        assert export["employee_id"] == "emp-a" and export["next_cursor"] is None
        assert sorted(e["award_id"] for e in export["ledger"]) == sorted(e["_id"] for e in mine)
        assert [e["awarded_at"] for e in export["ledger"]] == sorted(
            (e["awarded_at"] for e in export["ledger"]), reverse=True
        )
        records = export["records"]
        assert records["points"] == {"balance": 30, "earned": 50, "clawed_back": 0, "spent": 20}
        standing = records["standing"]
        assert (standing["earned"], standing["shares"], standing["streak"]) == (50, 5, 2)
        assert standing["daily_use"] == {
            now.date().isoformat(): {"total": 50, "per_action": {"share": 50}}
        }
        assert (standing["groups"], standing["location"]) == (["sales"], "Oslo")
        assert [(b["badge"], b["month"]) for b in records["badges"]] == [
            ("first-share", None),
            ("top-10-percent", "2026-01"),
        ]
        assert [(c["challenge_id"], c["name"], c["progress"]) for c in records["challenges"]] == [
            ("spring", "Share three jobs", 2)
        ]
        assert [(r["item_id"], r["points"]) for r in records["redemptions"]] == [("mug", 20)]
        assert [(s["seq"], s["points"], s["spent"]) for s in records["spends"]] == [(1, 20, 20)]
        assert records["leaderboard_visibility"] == {"hidden": True, "opt_in": None}
        text = answer.text
        assert "emp-b" not in text and "Ten shares" not in text and "award-99" not in text
        assert "_wm" not in text

        # Two at a time: every entry once, the tie at the page edge included.
        paged: list[str] = []
        cursor = None
        for _ in range(5):
            page = await http.get(
                "/api/v1/me/export", headers=me, params={"limit": 2, "cursor": cursor}
            )
            assert page.status_code == 200, page.text
            assert (page.json()["records"] is None) == (cursor is not None)
            paged.extend(e["award_id"] for e in page.json()["ledger"])
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert paged == [e["award_id"] for e in export["ledger"]]

        theirs_export = (await http.get("/api/v1/me/export", headers=colleague)).json()
        assert sorted(e["award_id"] for e in theirs_export["ledger"]) == sorted(
            e["_id"] for e in theirs
        )
        assert theirs_export["records"]["redemptions"] == []
        assert "emp-a" not in json.dumps(theirs_export)
        bad = await http.get("/api/v1/me/export", headers=me, params={"cursor": "nonsense"})
        assert bad.status_code == 400
