"""The four services' HTTP APIs, called with the signed-in person's own token.

A page never fails because one service is slow or down: every call returns a `Reply`,
which is either the service's JSON, its problem+json (a 4xx the person can act on), or
"unavailable" (a timeout, a refused connection, a 5xx). Panels render each case.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Histogram

log = logging.getLogger(__name__)

BACKEND_SECONDS = Histogram(
    "chorus_web_backend_request_duration_seconds",
    "Time the web app waited for one call to a service's API",
    ["backend", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)


@dataclass
class Reply:
    """What a service answered."""

    status: int = 0
    data: Any = None
    problem: dict[str, Any] = field(default_factory=dict)
    unavailable: bool = False

    @property
    def ok(self) -> bool:
        return not self.unavailable and 200 <= self.status < 300

    def field_errors(self) -> dict[str, str]:
        """The problem's errors by field name: `[{field, message}]` or a `detail` naming one."""
        errors: dict[str, str] = {}
        for item in self.problem.get("errors") or []:
            if isinstance(item, dict) and item.get("field"):
                errors[str(item["field"])] = str(item.get("message") or "")
        detail = str(self.problem.get("detail") or "")
        name, sep, message = detail.partition(": ")
        if not errors and sep and name and " " not in name:
            errors[name] = message
        return errors


class Backend:
    """One service's API."""

    def __init__(
        self,
        name: str,
        base_url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            # Proxies from the environment are not for calls inside the platform.
            trust_env=False,
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Reply:
        started = time.perf_counter()
        request = self._client.build_request(
            method,
            path,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            json=json,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        try:
            try:
                response = await self._client.send(request)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # A kept-alive connection the api closed as the request went out (it was
                # stopping, or idle too long): nothing was answered, so a GET is asked
                # again once, on a new connection.
                if method != "GET":
                    raise
                response = await self._client.send(request)
        except httpx.HTTPError as exc:
            BACKEND_SECONDS.labels(self.name, "unavailable").observe(time.perf_counter() - started)
            log.warning("backend unavailable", extra={"backend": self.name, "error": repr(exc)})
            return Reply(unavailable=True)
        outcome = (
            "error" if response.status_code >= 500 else str(response.status_code // 100) + "xx"
        )
        BACKEND_SECONDS.labels(self.name, outcome).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            log.warning(
                "backend error", extra={"backend": self.name, "status": response.status_code}
            )
            return Reply(status=response.status_code, unavailable=True)
        if response.status_code == 204 or not response.content:
            return Reply(status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            return Reply(status=response.status_code, unavailable=True)
        if response.status_code >= 400:
            return Reply(
                status=response.status_code, problem=body if isinstance(body, dict) else {}
            )
        return Reply(status=response.status_code, data=body)


@dataclass
class Backends:
    content: Backend
    share: Backend
    rewards: Backend
    metrics: Backend
    people: Backend

    async def close(self) -> None:
        for backend in (self.content, self.share, self.rewards, self.metrics, self.people):
            await backend.close()
