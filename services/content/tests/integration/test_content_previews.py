"""Link previews: a real fetch of an allowed local page, and the SSRF set refused with 422."""

from __future__ import annotations

import asyncio
import time

import pytest
from content_helpers import curator

from support import ref, token


async def _preview(hub, url: str, headers=None):
    return await hub.http.post(
        "/api/v1/previews", headers=headers or token(ref("prev")), json={"url": url}
    )


def _refused(response, why: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["url"]
    assert why in body["detail"], body["detail"]


async def test_an_allowed_local_page_is_previewed(hub, page_server) -> None:
    response = await _preview(hub, f"http://{page_server}/page", curator(ref("prev")))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "url": f"http://{page_server}/page",
        "title": "Chorus & friends",
        "description": "What advocacy looks like.",
        "image_url": f"http://{page_server}/img/cover.png",
        "site_name": None,
    }
    moved = await _preview(hub, f"http://{page_server}/moved")
    assert moved.status_code == 200 and moved.json()["url"] == f"http://{page_server}/page"
    # Larger than the size limit: read up to the limit, the head is enough.
    huge = await _preview(hub, f"http://{page_server}/huge")
    assert huge.status_code == 200 and huge.json()["title"] == "Chorus & friends"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://localhost:8081/api", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "not a public"),
    ],
)
async def test_internal_addresses_are_refused(hub, url, why) -> None:
    _refused(await _preview(hub, url), why)


async def test_a_name_that_resolves_to_loopback_is_refused(hub, monkeypatch) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        # A public-looking name whose DNS answer is 127.0.0.1 (a rebinding attacker's).
        return ["127.0.0.1"] if host == "innocent.example.test" else []

    monkeypatch.setattr(hub.services.previewer, "resolver", resolver)
    _refused(
        await _preview(hub, "http://innocent.example.test/"), "innocent.example.test (127.0.0.1)"
    )


@pytest.mark.parametrize(
    ("path", "why"),
    [("/to-private", "10.0.0.1 is a private"), ("/to-metadata", "link-local")],
)
async def test_a_redirect_to_an_internal_address_is_refused(hub, page_server, path, why) -> None:
    _refused(await _preview(hub, f"http://{page_server}{path}"), why)


async def test_the_allow_list_is_per_port(hub, page_server) -> None:
    # The test server's host:port is allowed; the same host on another port is not.
    host = page_server.split(":")[0]
    _refused(await _preview(hub, f"http://{host}:1/"), "loopback")


@pytest.mark.parametrize(
    ("path", "why"),
    [("/loop", "more than 5 redirects"), ("/json", "not an HTML page"), ("/missing", "404")],
)
async def test_pages_that_cannot_be_previewed(hub, page_server, path, why) -> None:
    _refused(await _preview(hub, f"http://{page_server}{path}"), why)


async def test_only_http_links(hub) -> None:
    response = await _preview(hub, "file:///etc/passwd")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["url"]


@pytest.mark.parametrize("path", ["/gzip", "/deflate"])
async def test_a_compressed_page_is_decoded(hub, page_server, path) -> None:
    response = await _preview(hub, f"http://{page_server}{path}")
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Chorus & friends"
    assert response.json()["description"] == "What advocacy looks like."


async def test_a_gzip_bomb_is_inflated_only_up_to_the_size_limit(hub, page_server) -> None:
    started = time.perf_counter()
    response = await _preview(hub, f"http://{page_server}/bomb")
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Chorus & friends"
    # Inflating all 50 MB would take longer than this, and the memory with it.
    assert time.perf_counter() - started < 1.0


async def test_an_encoding_we_cannot_decode_is_a_422(hub, page_server) -> None:
    _refused(await _preview(hub, f"http://{page_server}/brotli"), "'br', which is not supported")


async def test_a_page_that_takes_too_long_to_read_is_a_422(hub, page_server, monkeypatch) -> None:
    monkeypatch.setattr(hub.services.previewer, "parse_budget_seconds", 0.01)
    _refused(
        await _preview(hub, f"http://{page_server}/angles"),
        "cannot preview: the page took too long to read",
    )


async def test_a_slow_preview_does_not_hold_up_other_requests(hub, page_server) -> None:
    # The page takes a few tenths of a second to parse: on the event loop, every request
    # of the process would wait for it.
    began = time.perf_counter()
    preview = asyncio.create_task(_preview(hub, f"http://{page_server}/angles"))
    waits = []
    while not preview.done():
        started = time.perf_counter()
        health = await hub.http.get("/healthz")
        waits.append(time.perf_counter() - started)
        assert health.status_code == 200
        # In process, a request need not wait for anything: let the preview run too.
        await asyncio.sleep(0.01)
    response = await preview
    took = time.perf_counter() - began
    assert response.status_code == 200, response.text
    assert len(waits) >= 3, waits
    # Parsed on the loop, one request would have waited for about all of it. Measured
    # against the preview itself, so a machine busy with other work slows both alike.
    assert max(waits) < took / 2, (took, waits)


async def test_previews_are_limited_per_person(hub) -> None:
    person = token(ref("prev"))
    # Refused links are cheap to ask for and count all the same.
    for _ in range(30):
        assert (await _preview(hub, "http://127.0.0.1/", person)).status_code == 422
    limited = await _preview(hub, "http://127.0.0.1/", person)
    assert limited.status_code == 429, limited.text
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert "at most 30 requests per 60 s" in limited.json()["detail"]
    # Someone else is not held back.
    assert (await _preview(hub, "http://127.0.0.1/")).status_code == 422
