"""`GET /l/{code}`: the public short link. Answers from memory and Kafka (MongoDB when
Kafka is slow or away).

Every click on every shared link comes through here, so `answer` works on the raw request
line and headers, and two thin front ends serve it: `ShortLinks`, plain ASGI in front of
the api's FastAPI app (no routing, dependency resolution or middleware stack), and the
links listener (`links_server`), which skips ASGI too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from prometheus_client import Counter
from starlette.requests import cookie_parser

from share.domain.clicks import cookie_advocate, is_bot, visitor_hash
from share.domain.links import SHORT_CODE
from share.service_layer.handlers import Services

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/l/"
ADVOCATE_COOKIE = "chorus_advocate"

REDIRECTS = Counter(
    "chorus_share_redirects_total",
    "Requests to short links, by outcome; only `click` becomes an engagement event",
    ["outcome"],
)
_OUTCOMES = ("click", "bot", "head", "self", "stopped", "unknown", "unrecorded")
_COUNT = {outcome: REDIRECTS.labels(outcome) for outcome in _OUTCOMES}

_NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head>
<body><h1>Link not found</h1><p>There is no link <code>/l/{code}</code>. Check the address
you followed.</p></body></html>
"""
_HTML = (b"content-type", b"text/html; charset=utf-8")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


METHOD_NOT_ALLOWED = Answer(
    405,
    [(b"allow", b"GET, HEAD"), (b"content-type", b"application/problem+json")],
    b'{"type":"about:blank","title":"Method Not Allowed","status":405,'
    b'"detail":"method: short links answer GET and HEAD only"}',
)


async def answer(
    services: Services,
    method: str,
    path: str,
    headers: Iterable[tuple[bytes, bytes]],
    client_ip: str,
) -> Answer:
    """The answer to `method path` (path decoded, without the query, which never matters)."""
    if method not in ("GET", "HEAD"):
        return METHOD_NOT_ALLOWED
    code = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    share = await services.links_cache.get(code) if SHORT_CODE.fullmatch(code) else None
    if share is None:
        _COUNT["unknown"].inc()
        return Answer(404, [_HTML], _NOT_FOUND.format(code=escape(code[:64])).encode())
    outcome = await _count(services, share, method, headers, client_ip)
    _COUNT[outcome].inc()
    # Always the stored target: nothing in the request can change where this goes.
    return Answer(
        302,
        [(b"location", share["target_url"].encode()), (b"cache-control", b"private, no-store")],
    )


async def _count(
    services: Services,
    share: dict[str, Any],
    method: str,
    headers: Iterable[tuple[bytes, bytes]],
    client_ip: str,
) -> str:
    """Which kind of request this was; a human click is recorded before the answer."""
    if method == "HEAD":
        return "head"
    user_agent = cookies = ""
    for name, value in headers:
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
        elif name == b"cookie":
            cookies = value.decode("latin-1")
    if is_bot(user_agent):
        return "bot"
    if share.get("stopped"):
        return "stopped"
    if cookies and _is_advocate(cookies, services, share):
        return "self"
    if services.clicks is None:
        return "unrecorded"
    now = datetime.now(UTC)
    try:
        await services.clicks.record(
            share, visitor_hash(services.salts.today(now), client_ip, user_agent), now
        )
    except Exception as exc:
        # The visitor still gets where they were going; the loss is logged and counted.
        log.error("click not recorded", extra={"code": share["short_code"], "error": repr(exc)})
        return "unrecorded"
    return "click"


def _is_advocate(cookies: str, services: Services, share: dict[str, Any]) -> bool:
    cookie = cookie_parser(cookies).get(ADVOCATE_COOKIE)
    if not cookie:
        return False
    who = cookie_advocate(services.link_secret, cookie)
    return who == (share["tenant"], share["employee_id"])


class ShortLinks:
    """Answers `/l/...` itself; everything else goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        result = await answer(
            scope["app"].state.services,
            scope["method"],
            scope["path"],
            scope["headers"],
            client[0] if client else "",
        )
        headers = [*result.headers, (b"content-length", str(len(result.body)).encode())]
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        await send({"type": "http.response.body", "body": result.body})
