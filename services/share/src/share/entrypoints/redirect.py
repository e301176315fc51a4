"""`GET /l/{code}`: the public short link. Answers from memory and Kafka (MongoDB when
Kafka is slow or away).

Every click on every shared link comes through here, so `answer` works on the raw request
line and headers, and two thin front ends serve it: `ShortLinks`, plain ASGI in front of
the api's FastAPI app (no routing, dependency resolution or middleware stack), and the
links listener (`links_server`), which skips ASGI too.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlsplit

from cachetools import LRUCache
from prometheus_client import Counter
from starlette.requests import cookie_parser

from contracts.link_domains import link_host
from share.domain.clicks import cookie_advocate, is_bot, visitor_hash
from share.domain.links import SHORT_CODE
from share.domain.shares import Share
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
    # The response as the links listener writes it, by (keep-alive, HEAD): made once for
    # an answer given again and again (a link's 302).
    wire: dict[tuple[bool, bool], bytes] = field(default_factory=dict, compare=False, repr=False)


METHOD_NOT_ALLOWED = Answer(
    405,
    [(b"allow", b"GET, HEAD"), (b"content-type", b"application/problem+json")],
    b'{"type":"about:blank","title":"Method Not Allowed","status":405,'
    b'"detail":"method: short links answer GET and HEAD only"}',
)

UNAVAILABLE = Answer(
    503,
    [(b"content-type", b"application/problem+json"), (b"retry-after", b"1")],
    b'{"type":"about:blank","title":"Service Unavailable","status":503,'
    b'"detail":"the link could not be looked up; try again"}',
)

Reply = Callable[[Answer], None]
"""Given the answer that could not be given at once."""


async def answer(
    services: Services,
    method: str,
    path: str,
    headers: Iterable[tuple[bytes, bytes]],
    client_ip: str,
) -> Answer:
    """The answer to `method path` (path decoded, without the query, which never matters)."""
    replied: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    result = begin(services, method, path, headers, client_ip, functools.partial(_set, replied))
    return result if result is not None else await replied


def begin(
    services: Services,
    method: str,
    path: str,
    headers: Iterable[tuple[bytes, bytes]],
    client_ip: str,
    reply: Reply,
) -> Answer | None:
    """`answer`, at once where nothing has to be waited for; else None, and `reply` gets
    it later (never before this returns).

    A link in memory costs no task: a bot, a HEAD or a repeat click answers right away or
    when Kafka acknowledges the click. Only what needs MongoDB runs as a task.
    """
    try:
        if method not in ("GET", "HEAD"):
            return METHOD_NOT_ALLOWED
        code = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if not SHORT_CODE.fullmatch(code):
            return _not_found(code)
        share = services.links_cache.cached(code)
        if share is not None:
            return _answer_share(services, share, method, headers, client_ip, reply)
        looking = asyncio.ensure_future(
            _look_up(services, code, method, list(headers), client_ip, reply)
        )
    except Exception as exc:
        return unavailable(exc)
    _LOOKUPS.add(looking)
    looking.add_done_callback(functools.partial(_looked_up, reply))
    return None


def unavailable(exc: BaseException) -> Answer:
    # The store could not be asked about the link (clicks never fail this way).
    log.warning("short link not answered", extra={"error": repr(exc)})
    return UNAVAILABLE


async def _look_up(
    services: Services,
    code: str,
    method: str,
    headers: list[tuple[bytes, bytes]],
    client_ip: str,
    reply: Reply,
) -> Answer | None:
    share = await services.links_cache.get(code)
    if share is None:
        return _not_found(code)
    return _answer_share(services, share, method, headers, client_ip, reply)


def _looked_up(reply: Reply, looking: asyncio.Task[Answer | None]) -> None:
    _LOOKUPS.discard(looking)
    if looking.cancelled():
        reply(unavailable(asyncio.CancelledError()))
    elif looking.exception() is not None:
        reply(unavailable(looking.exception()))  # type: ignore[arg-type]
    elif (result := looking.result()) is not None:
        reply(result)
    # None: a click is being recorded, and its callback replies.


_LOOKUPS: set[asyncio.Task[Answer | None]] = set()


def _set(replied: asyncio.Future[Answer], result: Answer) -> None:
    if not replied.done():
        replied.set_result(result)


def _not_found(code: str) -> Answer:
    _COUNT["unknown"].inc()
    return Answer(404, [_HTML], _NOT_FOUND.format(code=escape(code[:64])).encode())


def _answer_share(
    services: Services,
    share: Share,
    method: str,
    headers: Iterable[tuple[bytes, bytes]],
    client_ip: str,
    reply: Reply,
) -> Answer | None:
    """Which kind of request this was; a human click is recorded before the answer."""
    if method == "HEAD":
        return _redirect(share, "head")
    user_agent = cookies = ""
    for name, value in headers:
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
        elif name == b"cookie":
            cookies = value.decode("latin-1")
    if is_bot(user_agent):
        return _redirect(share, "bot")
    if share.stopped:
        return _redirect(share, "stopped")
    if cookies and _is_advocate(cookies, services, share):
        return _redirect(share, "self")
    if services.clicks is None:
        return _redirect(share, "unrecorded")
    now = services.clock()
    visitor = visitor_hash(services.salts.today(now), client_ip, user_agent)
    services.clicks.record_soon(share, visitor, now, functools.partial(_clicked, share, reply))
    return None


def _clicked(share: Share, reply: Reply, error: BaseException | None) -> None:
    """The click is durable, or could not be made so: counted either way, and answered."""
    if error is not None:
        # The visitor still gets where they were going; the loss is logged and counted.
        log.error("click not recorded", extra={"code": share.short_code, "error": repr(error)})
    reply(_redirect(share, "click" if error is None else "unrecorded"))


def _redirect(share: Share, outcome: str) -> Answer:
    """Always the stored target: nothing in the request can change where this goes.

    An own post's link off the tenant's link domains (decided when it was shared, so no
    lookup here) answers the page saying where it leads instead, to everyone alike: the
    short link is never an open redirect for a spoofed user agent either.
    """
    _COUNT[outcome].inc()
    target = share.target_url
    if share.content_id is None and not share.target_allowed:
        return _stop_page(target)
    found: Answer | None = _REDIRECTS.get(target)
    if found is None:
        found = _REDIRECTS[target] = Answer(
            302, [(b"location", target.encode()), (b"cache-control", b"private, no-store")]
        )
    return found


# target URL -> its 302, made once: links are clicked again and again.
_REDIRECTS: LRUCache[str, Answer] = LRUCache(maxsize=100_000)

_STOP_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1f;background:#fff}"
    "main{max-width:40rem;margin:0 auto;padding:32px 16px}"
    "h1{font-size:24px;line-height:1.3}"
    ".target{overflow-wrap:anywhere;background:#f3f3f6;padding:12px;border-radius:8px}"
    "a{color:#0b57b3;display:inline-block;padding:8px 0;font-size:20px}"
    "a:focus{outline:2px solid #0b57b3;outline-offset:2px}"
    "@media (prefers-color-scheme:dark){body{color:#f1f1f4;background:#16161a}"
    ".target{background:#26262c}a{color:#8ab8ff}a:focus{outline-color:#8ab8ff}}"
)
_STOP_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_STOP_STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_STOP_HEADERS = [
    _HTML,
    (b"cache-control", b"no-store"),
    (b"x-robots-tag", b"noindex, nofollow"),
    (b"content-security-policy", _STOP_CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]
_STOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>This link leads to {domain}</title>
<style>{style}</style></head>
<body><main>
<h1>This link leads to <strong>{domain}</strong></h1>
<p>An employee shared this link. The company has not checked the page it leads to.</p>
<p>The full address:</p>
<p class="target"><code>{shown}</code></p>
{action}
<p>If you did not expect to go there, close this page.</p>
</main></body></html>
"""


def stop_page_html(target: str) -> str:
    """The page an own post's short link shows: where it leads (the full address, its host
    emphasised), who shared it, and a link to go on; no automatic redirect."""
    parts = urlsplit(target)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    domain = link_host(target) or parts.hostname or hostport or target
    lead = f"{parts.scheme}://{userinfo}{at}"
    if hostport and target.startswith(lead + hostport):
        rest = target[len(lead) + len(hostport) :]
        shown = f"{escape(lead)}<strong>{escape(hostport)}</strong>{escape(rest)}"
    else:
        shown = escape(target)
    action = ""
    if parts.scheme in ("http", "https"):
        action = (
            f'<p><a href="{escape(target, quote=True)}" rel="noopener noreferrer nofollow">'
            f"Continue to {escape(domain)}</a></p>"
        )
    return _STOP_PAGE.format(domain=escape(domain), style=_STOP_STYLE, shown=shown, action=action)


def _stop_page(target: str) -> Answer:
    found: Answer | None = _STOP_PAGES.get(target)
    if found is None:
        found = _STOP_PAGES[target] = Answer(200, _STOP_HEADERS, stop_page_html(target).encode())
    return found


# target URL -> its page, made once, like the redirects.
_STOP_PAGES: LRUCache[str, Answer] = LRUCache(maxsize=10_000)


def _is_advocate(cookies: str, services: Services, share: Share) -> bool:
    cookie = cookie_parser(cookies).get(ADVOCATE_COOKIE)
    if not cookie:
        return False
    who = cookie_advocate(services.link_secret, cookie)
    return who == (share.tenant, share.employee_id)


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
