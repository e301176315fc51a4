"""Request bodies: too large is a 413, no token a 401, both before the body is read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from content_helpers import article, curator

from support import ref

PROBLEM = "application/problem+json"


class _Body:
    """A 10 MB body sent in chunks, counting how many the server asked for."""

    def __init__(self, chunks: int = 160, size: int = 65536) -> None:
        self.chunks = chunks
        self.size = size
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b"x" * self.size


async def test_a_10_mb_body_is_a_413(hub) -> None:
    response = await hub.http.post(
        "/api/v1/content", headers=curator(ref("lim")), content=b"x" * (10 * 1024 * 1024)
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["max_bytes"] == 2 * 1024 * 1024


async def test_a_chunked_body_is_refused_once_past_the_limit(hub) -> None:
    body = _Body()
    response = await hub.http.post("/api/v1/content", headers=curator(ref("lim")), content=body)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    # 2 MiB of the 10 MB, and the chunk past it.
    assert body.read == 2 * 1024 * 1024 // 65536 + 1


async def test_a_body_without_a_token_is_a_401_before_it_is_read(hub) -> None:
    for path in ("/api/v1/content", "/api/v1/previews", "/api/v1/guidelines"):
        body = _Body()
        response = await hub.http.post(path, content=body)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        assert body.read == 0, path
    forged = _Body()
    response = await hub.http.post(
        "/api/v1/content", headers={"Authorization": "Bearer a.b.c"}, content=forged
    )
    assert response.status_code == 401 and forged.read == 0


async def test_an_item_at_its_limits_fits(hub) -> None:
    # Every character one JSON escapes (6 bytes): far past the default 64 KiB.
    item = article(body="\u2028" * 20000, summary="\u2028" * 2000)
    raw = json.dumps(item).encode()
    assert len(raw) > 64 * 1024
    response = await hub.http.post(
        "/api/v1/content",
        headers={**curator(ref("lim")), "Content-Type": "application/json"},
        content=raw,
    )
    assert response.status_code == 201, response.text


async def test_a_small_route_keeps_the_default_limit(hub) -> None:
    response = await hub.http.post(
        "/api/v1/previews",
        headers=curator(ref("lim")),
        json={"url": "http://example.com/" + "a" * 70_000},
    )
    assert response.status_code == 413, response.text
    assert response.json()["max_bytes"] == 64 * 1024
