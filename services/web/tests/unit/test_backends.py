"""How the web app calls a service's api when a kept-alive connection was closed under it."""

from __future__ import annotations

import httpx

from web.adapters.backends import Backend


def _backend(failures: int) -> tuple[Backend, list[str]]:
    """A backend whose first `failures` requests meet a connection closed without an
    answer, as when the api stopped as the request went out."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) <= failures:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"ok": True})

    return Backend("content", "http://content", 2.0, httpx.MockTransport(answer)), seen


async def test_a_read_cut_off_before_its_answer_is_asked_again_once() -> None:
    backend, seen = _backend(failures=1)
    reply = await backend.call("GET", "/api/v1/feed", "token")
    assert reply.ok and reply.data == {"ok": True} and seen == ["GET", "GET"]

    backend, seen = _backend(failures=2)
    reply = await backend.call("GET", "/api/v1/feed", "token")
    assert reply.unavailable and seen == ["GET", "GET"]


async def test_a_write_cut_off_is_not_sent_again() -> None:
    backend, seen = _backend(failures=1)
    reply = await backend.call("POST", "/api/v1/shares", "token", json={})
    assert reply.unavailable and seen == ["POST"]
