"""Headers nobody should send: non-ASCII or malformed signatures and advocate cookies get a
4xx (the webhook) or are ignored (the redirect), never a 5xx."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import httpx
import pytest
from share_stack import Connector, ShareStack, add_connector, publish_content

from share.domain.signatures import sign
from support import eventually, ref, token

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


async def _new_share(http: httpx.AsyncClient, tenant: str) -> dict:
    me = token(tenant, "e1")
    joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
    assert joined.status_code in (200, 201)
    content_id = await publish_content(tenant, url="https://careers.example.com/jobs/42")

    async def attempt() -> httpx.Response:
        return await http.post(
            "/api/v1/shares", headers=me, json={"content_id": content_id, "network": "linkedin"}
        )

    return (await eventually(attempt, lambda r: r.status_code == 201)).json()


def _webhook_headers(
    connector: Connector, timestamp: bytes, signature: bytes
) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"x-chorus-tenant", connector.tenant.encode("utf-8")),
        (b"x-chorus-connector", connector.id.encode("utf-8")),
        (b"x-chorus-timestamp", timestamp),
        (b"x-chorus-signature", signature),
    ]


async def test_a_webhook_signature_that_is_not_ascii_or_a_time_out_of_range_is_a_401(
    share_stack: ShareStack,
) -> None:
    raw = json.dumps({"id": ref("w-"), "kind": "reaction", "share_id": "s"}).encode()
    stamp = str(int(time.time()))
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        connector = await add_connector(http, ref("acme"))
        good = sign(connector.secret.encode(), stamp, raw)
        cases = [
            (connector, stamp.encode(), "sha256=é".encode("latin-1")),
            # UTF-8 bytes, read as Latin-1 by the server
            (connector, stamp.encode(), "sha256=ł".encode()),
            (connector, stamp.encode(), good.encode()[:-1] + "é".encode("latin-1")),
            (connector, "1700000000é".encode("latin-1"), good.encode()),
            (connector, b"1" + b"0" * 400, good.encode()),  # a whole number no float can hold
            (connector, b"-" + b"9" * 30, good.encode()),
            (replace(connector, tenant="acmé"), stamp.encode(), good.encode()),
            (replace(connector, id="ł" * 24), stamp.encode(), good.encode()),
        ]
        for sender, timestamp, signature in cases:
            response = await http.post(
                "/api/v1/engagements",
                content=raw,
                headers=_webhook_headers(sender, timestamp, signature),
            )
            assert response.status_code == 401, (timestamp, signature, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert "X-Chorus-" in response.json()["detail"]


@pytest.mark.parametrize("front", ["links listener", "api"])
async def test_a_bad_advocate_cookie_is_ignored_and_the_link_still_redirects(
    share_stack: ShareStack, front: str
) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as api:
        share = await _new_share(api, tenant)
    base = share_stack.links_url if front == "links listener" else share_stack.url
    cookies = [
        f"chorus_advocate={tenant}:e1:".encode() + "é".encode("latin-1") * 32,
        f"chorus_advocate={tenant}:e1:".encode() + "ł".encode() * 16,
        "chorus_advocate=é:é:é".encode("latin-1"),
        b"chorus_advocate=:::",
        b"chorus_advocate=nothing",
        b'chorus_advocate="unterminated; other=1',
        b"chorus_advocate=\xff\xfe",
    ]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for cookie in cookies:
            response = await http.get(
                f"/l/{share['short_code']}",
                headers=[(b"user-agent", BROWSER.encode()), (b"cookie", cookie)],
            )
            assert response.status_code == 302, (cookie, response.text)
            assert response.headers["location"] == share["target_url"]


async def test_an_advocate_whose_id_is_not_ascii_gets_a_link_cookie(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        response = await http.post(
            "/api/v1/advocates/me/link-cookie", headers=token(tenant, "łukasz.ærø")
        )
        assert response.status_code == 204, response.text
        assert response.headers["set-cookie"].isascii()
