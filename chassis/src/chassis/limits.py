"""What a request may cost before it is turned away: body sizes, and requests per person.

`BodyLimits` is a raw ASGI middleware every api runs. It decides from the headers alone,
before a byte of the body is read:
- a route that needs a bearer token (it depends on `current_principal`) gets a 401 when the
  request has none or an invalid one;
- a route marked with `requires_headers` (a webhook signed by HMAC) gets a 401 when those
  headers are missing; the signature itself is checked by the route, over a bounded body;
- a `Content-Length` over the route's limit gets a 413.
A body sent without a length (chunked) is counted as the app reads it: past the limit the
413 is sent at once and the app is told the client went away, so nothing past the limit is
ever buffered. The limit is 64 KiB unless the route says otherwise with `body_limit`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from chassis.auth import bearer_token, current_principal
from chassis.errors import PROBLEM_JSON, Problem

DEFAULT_BODY_LIMIT = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_BODY_LIMIT = "__chorus_body_limit__"
_REQUIRED_HEADERS = "__chorus_required_headers__"

F = TypeVar("F", bound=Callable[..., Any])


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Mark a route whose body may be larger (or must be smaller) than the default."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _BODY_LIMIT, max_bytes)
        return endpoint

    return mark


def requires_headers(*names: str) -> Callable[[F], F]:
    """Mark a route that authenticates by these headers (no bearer token): a request
    without them is a 401 before its body is read."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, _REQUIRED_HEADERS, names)
        return endpoint

    return mark


@dataclass(frozen=True)
class _Rule:
    path: re.Pattern[str]
    methods: frozenset[str]
    max_bytes: int
    bearer: bool
    headers: tuple[str, ...]


def _needs_bearer(dependant: Dependant) -> bool:
    return dependant.call is current_principal or any(
        _needs_bearer(sub) for sub in dependant.dependencies
    )


def _api_routes(routes: Iterable[Any]) -> Iterable[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            # FastAPI keeps an included router whole (its routes under their own path,
            # which is the full path when it was included without a prefix of its own).
            yield from _api_routes(router.routes)


def _rules(routes: Iterable[Any]) -> list[_Rule]:
    rules = []
    for route in _api_routes(routes):
        if not isinstance(route, APIRoute) or not (route.methods or set()) & _BODY_METHODS:
            continue
        rules.append(
            _Rule(
                path=route.path_regex,
                methods=frozenset(route.methods or ()),
                max_bytes=getattr(route.endpoint, _BODY_LIMIT, DEFAULT_BODY_LIMIT),
                bearer=_needs_bearer(route.dependant),
                headers=getattr(route.endpoint, _REQUIRED_HEADERS, ()),
            )
        )
    return rules


class BodyLimits:
    """Raw ASGI: refuse what is too large or unauthenticated before reading the body."""

    def __init__(self, app: Any, routes: Callable[[], Iterable[Any]] | None = None) -> None:
        """`routes`: the app's routes with their full paths; by default the app's own."""
        self.app = app
        self.routes = routes
        # Built on the first request, when the routes are all in: keyed by the app.
        self._rules: dict[int, list[_Rule]] = {}

    def _rule(self, scope: dict[str, Any]) -> _Rule | None:
        app = scope.get("app")
        rules = self._rules.get(id(app))
        if rules is None:
            routes = self.routes() if self.routes else getattr(app, "routes", ())
            rules = self._rules[id(app)] = _rules(routes)
        path, method = scope["path"], scope["method"]
        for rule in rules:
            if method in rule.methods and rule.path.match(path):
                return rule
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            # Bodies of other methods are not read by any route: only their size is bound.
            if scope["type"] == "http" and _length(scope) > DEFAULT_BODY_LIMIT:
                await _problem(send, _too_large(DEFAULT_BODY_LIMIT))
                return
            await self.app(scope, receive, send)
            return
        rule = self._rule(scope)
        limit = rule.max_bytes if rule else DEFAULT_BODY_LIMIT
        if rule is not None:
            if problem := await self._unauthenticated(scope, rule):
                await _problem(send, problem)
                return
        if _length(scope) > limit:
            await _problem(send, _too_large(limit))
            return
        await self._bounded(scope, receive, send, limit)

    async def _unauthenticated(self, scope: dict[str, Any], rule: _Rule) -> Problem | None:
        headers = dict(scope["headers"])
        missing = [name for name in rule.headers if not headers.get(name.lower().encode())]
        if missing:
            return Problem(
                401, "Authentication required", f"{' and '.join(missing)} headers are required"
            )
        if not rule.bearer:
            return None
        verifier = getattr(getattr(scope.get("app"), "state", None), "token_verifier", None)
        try:
            token = bearer_token(
                {"authorization": headers.get(b"authorization", b"").decode("latin-1")}
            )
            if verifier is not None:
                # Kept for the route's own check (`current_principal`): verified once.
                scope.setdefault("state", {})["principal"] = await verifier.verify(token)
        except Problem as problem:
            return problem
        return None

    async def _bounded(self, scope: dict[str, Any], receive: Any, send: Any, limit: int) -> None:
        received = 0
        refused = started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _problem(send, _too_large(limit))
                    # The app stops reading as if the client had left; what it sends after
                    # is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            # The app's way of hearing the client left (ClientDisconnect, a 400 of its own):
            # the 413 is sent, nothing went wrong.
            if not refused:
                raise


def _length(scope: dict[str, Any]) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # The server refuses a malformed length before we see it.
    return 0


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "Request body too large", f"this route takes at most {limit} bytes", max_bytes=limit
    )


async def _problem(send: Any, problem: Problem) -> None:
    body: dict[str, Any] = {"type": problem.type, "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    body.update(problem.extensions)
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        # The rest of the body is not read: the connection cannot carry another request.
        (b"connection", b"close"),
        *((k.lower().encode(), v.encode()) for k, v in problem.headers.items()),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class RateLimiter:
    """Token buckets per key, in this process's memory: `rate` requests per `per` seconds,
    in bursts of up to `rate`. With N api processes a person gets up to N times the rate;
    that bounds the cost each process takes on, which is what it is for. Keys idle long
    enough to be full again are forgotten, at most `max_keys` are kept (least recent out).
    """

    def __init__(
        self,
        rate: int,
        per: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.per = per
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, key: str) -> float:
        """Take one token for `key`: 0 when allowed, else the seconds until one is free."""
        now = self.clock()
        refill = self.rate / self.per
        tokens, at = self._buckets.pop(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - at) * refill)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / refill
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def check(self, key: str) -> None:
        """Raise a 429 problem with Retry-After when `key` is over its rate."""
        wait = self.acquire(key)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise Problem(
                429,
                "Too many requests",
                f"at most {self.rate} requests per {self.per:g} s; try again in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
