"""Engagement connectors: each tenant's own, each with its own secret, reporting only on that
tenant's shares, and only on shares with a post."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from share_stack import Connector, ShareStack, add_connector, publish_content

from support import eventually, ref, token

PATH = "/api/v1/settings/connectors"
# The installation's key (SHARE_WEBHOOK_SECRET of a local run): it signs for nobody.
INSTALLATION_KEY = "chorus-share-local-development-only"


def _admin(tenant: str) -> dict[str, str]:
    return token(tenant, "a1", roles=("admin",))


def _report(**fields: object) -> dict[str, object]:
    return {
        "id": ref("r-"),
        "kind": "reaction",
        "observed_at": datetime.now(UTC).isoformat(),
        **fields,
    }


async def _post(http: httpx.AsyncClient, connector: Connector, body: dict) -> httpx.Response:
    raw, headers = connector.signed(body)
    return await http.post("/api/v1/engagements", content=raw, headers=headers)


async def _shared(http: httpx.AsyncClient, tenant: str) -> dict:
    me = token(tenant, "e1")
    joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
    assert joined.status_code in (200, 201)
    content_id = await publish_content(tenant)

    async def attempt() -> httpx.Response:
        return await http.post(
            "/api/v1/shares", headers=me, json={"content_id": content_id, "network": "linkedin"}
        )

    return dict((await eventually(attempt, lambda r: r.status_code == 201)).json())


async def test_admins_add_list_rotate_and_delete_connectors(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    admin = _admin(tenant)
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        assert (await http.get(PATH, headers=token(tenant, "e1"))).status_code == 403
        refused = await http.post(PATH, headers=token(tenant, "e1"), json={"name": "x"})
        assert refused.status_code == 403

        made = await http.post(PATH, headers=admin, json={"name": "  LinkedIn poller "})
        assert made.status_code == 201, made.text
        connector = made.json()
        assert connector["name"] == "LinkedIn poller"
        assert len(connector["secret"]) == 64
        listed = await http.get(PATH, headers=admin)
        assert listed.status_code == 200
        assert listed.json()["items"] == [
            {k: v for k, v in connector.items() if k != "secret"} | {"rotated_at": None}
        ]
        assert "secret" not in listed.text
        # Another tenant sees none of them, and cannot touch them.
        other = _admin(ref("acme"))
        assert (await http.get(PATH, headers=other)).json()["items"] == []
        for answer in (
            await http.post(f"{PATH}/{connector['id']}/rotate", headers=other),
            await http.delete(f"{PATH}/{connector['id']}", headers=other),
        ):
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"

        for bad in ("", "   ", "x" * 101, "tab\there"):
            invalid = await http.post(PATH, headers=admin, json={"name": bad})
            assert invalid.status_code == 422, bad
            assert invalid.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in invalid.json()["errors"]] == ["name"], bad
        malformed = await http.post(f"{PATH}/not-an-id/rotate", headers=admin)
        assert malformed.status_code == 422
        assert malformed.json()["errors"][0]["field"] == "connector_id"

        first = Connector(tenant, connector["id"], connector["secret"])
        share = await _shared(http, tenant)
        assert (await _post(http, first, _report(share_id=share["id"]))).status_code == 202

        rotated = await http.post(f"{PATH}/{first.id}/rotate", headers=admin)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["id"] == first.id and rotated.json()["rotated_at"]
        assert rotated.json()["secret"] != first.secret
        # The old secret stops working at once; the new one works.
        assert (await _post(http, first, _report(share_id=share["id"]))).status_code == 401
        second = replace(first, secret=rotated.json()["secret"])
        assert (await _post(http, second, _report(share_id=share["id"]))).status_code == 202

        assert (await http.delete(f"{PATH}/{first.id}", headers=admin)).status_code == 204
        assert (await _post(http, second, _report(share_id=share["id"]))).status_code == 401
        assert (await http.delete(f"{PATH}/{first.id}", headers=admin)).status_code == 404
        assert (await http.get(PATH, headers=admin)).json()["items"] == []


async def test_a_tenant_has_a_bounded_number_of_connectors(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        for n in range(20):
            await add_connector(http, tenant, f"c{n}")
        over = await http.post(PATH, headers=_admin(tenant), json={"name": "one more"})
        assert over.status_code == 429
        assert over.headers["content-type"] == "application/problem+json"
        assert over.json()["max_connectors"] == 20
        assert "name" in over.json()["detail"]
        assert len((await http.get(PATH, headers=_admin(tenant))).json()["items"]) == 20


async def test_a_secret_signs_for_its_own_tenant_only(share_stack: ShareStack) -> None:
    ours, theirs = ref("acme"), ref("globex")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        mine = await add_connector(http, ours)
        other = await add_connector(http, theirs)
        share = await _shared(http, ours)
        body = _report(share_id=share["id"])

        # Our secret, sent as the other tenant's connector (or naming ours with theirs).
        for forged in (replace(other, secret=mine.secret), replace(mine, id=other.id)):
            answer = await _post(http, forged, body)
            assert answer.status_code == 401, answer.text
        # The installation's key signs for no tenant.
        assert (await _post(http, replace(mine, secret=INSTALLATION_KEY), body)).status_code == 401

        # An unknown tenant or connector is told what a wrong signature is told.
        wrong = await _post(http, replace(mine, secret="0" * 64), body)
        for unknown in (
            replace(mine, tenant=ref("nobody")),
            replace(mine, id="0" * 24),
            replace(mine, id="not-an-id"),
        ):
            answer = await _post(http, unknown, body)
            assert (answer.status_code, answer.json()) == (401, wrong.json())

        # The other tenant's connector, signing well, finds none of our shares.
        for named in ({"share_id": share["id"]}, {"short_code": share["short_code"]}):
            answer = await _post(http, other, _report(**named))
            assert answer.status_code == 404, answer.text
            assert answer.json()["detail"] == f"{next(iter(named))}: no such share"
        assert (await _post(http, mine, _report(short_code=share["short_code"]))).status_code == 202


async def test_reports_on_a_scheduled_or_cancelled_share_are_refused(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    me = token(tenant, "e1")
    access_token = ref("li-token-")
    share_stack.linkedin.tokens.add(access_token)
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        connector = await add_connector(http, tenant)
        assert (
            await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
        ).status_code == 201
        connected = await http.put(
            "/api/v1/advocates/me/networks/linkedin",
            headers=me,
            json={"audience_size": 10, "access_token": access_token, "author": "urn:li:person:a"},
        )
        assert connected.status_code == 200, connected.text
        content_id = await publish_content(tenant)
        later = datetime.now(UTC) + timedelta(days=1)

        async def schedule() -> httpx.Response:
            return await http.post(
                "/api/v1/shares",
                headers=me,
                json={
                    "content_id": content_id,
                    "network": "linkedin",
                    "scheduled_at": later.isoformat(),
                },
            )

        scheduled = (await eventually(schedule, lambda r: r.status_code == 201)).json()
        assert scheduled["status"] == "scheduled"

        refused = await _post(http, connector, _report(share_id=scheduled["id"]))
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["share_status"] == "scheduled"
        assert refused.json()["detail"].startswith("share_id: the share is scheduled")

        # Leaving the program cancels it.
        left = await http.post("/api/v1/advocates/me/opt-out", headers=me, json={})
        assert left.status_code == 200
        refused = await _post(http, connector, _report(short_code=scheduled["short_code"]))
        assert refused.status_code == 409, refused.text
        assert refused.json()["share_status"] == "cancelled"
        assert refused.json()["detail"].startswith("short_code: the share is cancelled")
