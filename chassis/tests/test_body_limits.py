"""Body limits and the token check before the body, on a small app of our own; the rate limiter."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from chassis import errors
from chassis.auth import CurrentUser, TokenVerifier, issue_token
from chassis.errors import Problem
from chassis.limits import (
    DEFAULT_BODY_LIMIT,
    BodyLimits,
    RateLimiter,
    body_limit,
    requires_headers,
)

SECRET = "test-secret-with-enough-length-for-hs256"
FOREIGN = issue_token("another-secret-long-enough-for-hs256", sub="e", tenant="t")


class Note(BaseModel):
    text: str


def _app() -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(secret=SECRET)
    errors.install(app)
    app.add_middleware(BodyLimits)

    @app.post("/notes")
    async def note(body: Note, user: CurrentUser) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.put("/notes/{note_id}/big")
    @body_limit(1024 * 1024)
    async def big(note_id: str, body: Note, user: CurrentUser) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/hooks")
    @requires_headers("X-Signature")
    async def hook(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.post("/public")
    async def public(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


def _token() -> str:
    return issue_token(SECRET, sub="e1", tenant="acme")


class _Exchange:
    """One request through the raw ASGI app: the body in chunks, counting what was read."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.read >= len(self.chunks):
            return {"type": "http.disconnect"}
        chunk = self.chunks[self.read]
        self.read += 1
        return {"type": "http.request", "body": chunk, "more_body": self.read < len(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return {k.decode(): v.decode() for k, v in start["headers"]}

    @property
    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/problem+json"
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        result: dict[str, Any] = json.loads(body)
        return result


async def _call(
    app: FastAPI,
    method: str,
    path: str,
    chunks: list[bytes],
    headers: dict[str, str] | None = None,
    *,
    length: int | None = None,
) -> _Exchange:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if length is not None:
        raw.append((b"content-length", str(length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *raw],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    exchange = _Exchange(chunks)
    await app(scope, exchange.receive, exchange.send)
    return exchange


def _json(text: str) -> bytes:
    return json.dumps({"text": text}).encode()


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {_token()}"}


async def test_a_small_body_with_a_token_reaches_the_route() -> None:
    body = _json("hello")
    exchange = await _call(_app(), "POST", "/notes", [body], _bearer(), length=len(body))
    assert exchange.status == 200


async def test_a_content_length_past_the_limit_is_a_413_before_the_body_is_read() -> None:
    chunks = [b"x" * 65536] * 160  # 10 MB
    exchange = await _call(_app(), "POST", "/notes", chunks, _bearer(), length=10 * 1024 * 1024)
    assert exchange.status == 413
    assert exchange.problem["max_bytes"] == DEFAULT_BODY_LIMIT
    assert exchange.read == 0


async def test_a_chunked_body_past_the_limit_is_refused_as_it_grows() -> None:
    chunks = [b"x" * 16384] * 640  # 10 MB, without a length
    exchange = await _call(_app(), "POST", "/notes", chunks, _bearer())
    assert exchange.status == 413
    assert exchange.problem["status"] == 413
    # Read up to the first chunk past 64 KiB, not one more.
    assert exchange.read == DEFAULT_BODY_LIMIT // 16384 + 1
    # One answer: what the app sent after being told the client left is dropped.
    assert [m["type"] for m in exchange.sent].count("http.response.start") == 1


async def test_a_route_marked_larger_takes_a_larger_body() -> None:
    body = _json("y" * 500_000)
    big = await _call(_app(), "PUT", "/notes/n1/big", [body], _bearer(), length=len(body))
    assert big.status == 200
    default = await _call(_app(), "POST", "/notes", [body], _bearer(), length=len(body))
    assert default.status == 413
    too_big = await _call(_app(), "PUT", "/notes/n1/big", [b"x"], _bearer(), length=1024 * 1024 + 1)
    assert too_big.status == 413 and too_big.problem["max_bytes"] == 1024 * 1024


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Basic abc"}, "Authorization: Bearer"),
        ({"Authorization": "Bearer not-a-token"}, "not three base64url parts"),
        ({"Authorization": f"Bearer {FOREIGN}"}, "signature does not match"),
    ],
)
async def test_a_request_without_a_valid_token_is_a_401_before_the_body_is_read(
    headers: dict[str, str], detail: str
) -> None:
    chunks = [b"x" * 65536] * 160
    exchange = await _call(_app(), "POST", "/notes", chunks, headers, length=10 * 1024 * 1024)
    assert exchange.status == 401
    assert detail in exchange.problem["detail"]
    # RFC 6750: a token sent and refused is an invalid_token; none at all, the bare challenge.
    challenge = exchange.headers["www-authenticate"]
    if headers.get("Authorization", "").startswith("Bearer "):
        assert challenge.startswith('Bearer error="invalid_token", error_description="')
        assert detail in challenge
    else:
        assert challenge == "Bearer"
    assert exchange.read == 0


async def test_a_webhook_without_its_headers_is_a_401_before_the_body_is_read() -> None:
    exchange = await _call(_app(), "POST", "/hooks", [b"{}"] * 10, length=20)
    assert exchange.status == 401
    assert exchange.problem["detail"] == "X-Signature headers are required"
    assert exchange.read == 0
    signed = await _call(_app(), "POST", "/hooks", [b"{}"] * 10, {"X-Signature": "s"}, length=20)
    assert signed.status == 200 and signed.read == 10


async def test_a_route_without_auth_needs_no_token_but_keeps_the_size_limit() -> None:
    ok = await _call(_app(), "POST", "/public", [b"{}"], length=2)
    assert ok.status == 200
    big = await _call(_app(), "POST", "/public", [b"x" * 65536] * 2)
    assert big.status == 413


async def test_a_get_with_a_large_body_is_refused_unread() -> None:
    exchange = await _call(_app(), "GET", "/ping", [b"x"], length=10 * 1024 * 1024)
    assert exchange.status == 413 and exchange.read == 0


def test_through_a_real_server_the_413_comes_before_the_body_is_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(
                b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {_token()}\r\n".encode()
                + b"Content-Length: 10485760\r\n\r\n"
                + b"x" * 1000
            )
            # Not one more byte is sent: the answer must come on the headers alone.
            answer = conn.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert b"application/problem+json" in answer
    finally:
        server.should_exit = True
        thread.join(10)


def test_with_a_test_client_the_problem_is_json() -> None:
    client = TestClient(_app())
    response = client.post("/notes", content=b"x" * 70_000, headers=_bearer())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Request body too large"
    unauthenticated = client.post("/notes", json={"text": "hi"})
    assert unauthenticated.status_code == 401


def test_the_rate_limiter_allows_a_burst_then_answers_429_with_retry_after() -> None:
    now = [1000.0]
    limiter = RateLimiter(30, 60.0, clock=lambda: now[0])
    for _ in range(30):
        limiter.check("acme:e1")
    with pytest.raises(Problem) as refused:
        limiter.check("acme:e1")
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == "2"  # one token every 2 s
    limiter.check("acme:e2")  # someone else is not held back
    now[0] += 2.0
    limiter.check("acme:e1")
    with pytest.raises(Problem):
        limiter.check("acme:e1")


def test_the_rate_limiter_forgets_the_least_recent_keys_past_its_size() -> None:
    limiter = RateLimiter(1, 60.0, max_keys=2)
    for key in ("a", "b", "c"):
        limiter.check(key)
    limiter.check("a")  # forgotten, so full again
    with pytest.raises(Problem):
        limiter.check("c")
