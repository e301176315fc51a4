"""Traffic for the tests that disturb a running platform (tests/e2e/test_rolling_restart.py,
tests/faults/): a steady load of what people do, a Kubernetes Service in miniature in
front of the apis, and the records that topics received meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from support import KAFKA, ServiceProcess, free_port, ref, token

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass
class Route:
    """A Kubernetes Service in miniature: each connection to `port` goes to one of the
    ready backends, taken in turn; a backend's readiness is polled every 100 ms."""

    name: str
    # a backend process (by its port) -> (its port for this route, its /readyz)
    backends: dict[int, tuple[int, str]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    ready: list[int] = field(default_factory=list)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _server: asyncio.Server | None = None
    _poller: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, process: ServiceProcess, port: int) -> None:
        self.backends[process.port] = (port, process.ops_url + "/readyz")

    def remove(self, process: ServiceProcess) -> None:
        self.backends.pop(process.port, None)
        with contextlib.suppress(ValueError):
            self.ready.remove(process.port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        if self._server is not None:
            self._server.close()

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=1) as http:
            while True:
                answers = {}
                for backend, (_, readyz) in list(self.backends.items()):
                    try:
                        answers[backend] = (await http.get(readyz)).status_code == 200
                    except httpx.HTTPError:
                        answers[backend] = False
                self.ready = [b for b in self.backends if answers.get(b)]
                await asyncio.sleep(0.1)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        deadline = time.monotonic() + 10
        while not self.ready and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not self.ready:
            writer.close()
            return
        # A backend that refuses the connection (it stopped accepting before a poll saw it
        # say so) is tried no more, and the next ready one is: as a connection refused
        # reaches the client of a real Service, which connects again. Only when none
        # accepts is the client's connection closed.
        tried: set[int] = set()
        while True:
            candidates = [b for b in self.ready if b not in tried]
            if not candidates:
                writer.close()
                return
            chosen = candidates[next(self._turn) % len(candidates)]
            tried.add(chosen)
            port = self.backends.get(chosen, (chosen, ""))[0]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    finally:
        if reader.at_eof():
            writer.close()


@dataclass
class Load:
    """A steady load of people sharing, clicking, reading and HR's directory writing, and
    what the apis confirmed of it.

    `urls` names where each service's api answers ("links": the short links). Each click
    comes from a visitor of its own, so every click is a unique one, and goes to a share of
    the employee clicked least yet, so clicks spread evenly over the people who share.
    """

    tenant: str
    urls: Mapping[str, str]
    employees: int = 40
    scim_token: str = ""
    # The web app's session cookie of an employee signed in through the development sign-in.
    web_cookie: str = ""
    shares: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (code, employee)
    clicks: Counter[str] = field(default_factory=Counter)  # share id -> clicks answered
    people: list[str] = field(default_factory=list)  # user names created
    requests: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # Requests sent whose outcome the client cannot know (a server error, or no answer):
    # the platform may have done what they asked.
    unsure: Counter[str] = field(default_factory=Counter)
    running: bool = True
    # Clicks stop going to an employee who has had this many (a cap on points per day).
    max_clicks_per_employee: int | None = None
    _visitors: itertools.count[int] = field(default_factory=itertools.count)
    _clicked: Counter[str] = field(default_factory=Counter)  # employee -> clicks asked

    async def enroll(self) -> None:
        """Every employee joins the advocacy program."""
        async with httpx.AsyncClient(base_url=self.urls["share"], timeout=30) as http:
            for n in range(self.employees):
                joined = await http.post(
                    "/api/v1/advocates/me",
                    headers=token(self.tenant, f"e{n}"),
                    json={"accept": True},
                )
                assert joined.status_code == 201, joined.text

    async def call(
        self, http: httpx.AsyncClient, what: str, expected: tuple[int, ...], **request: Any
    ) -> httpx.Response | None:
        """One request; refused connections are tried again, anything else counts."""
        for _ in range(50):
            try:
                response = await http.request(**request)
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
                continue
            except httpx.HTTPError as exc:
                self.failures.append(f"{what}: {exc!r}")
                self.unsure[what] += 1
                return None
            self.requests[what] += 1
            if response.status_code >= 500:
                self.unsure[what] += 1
            if response.status_code not in expected:
                where = response.headers.get("location", "")
                text = response.text[:200]
                self.failures.append(f"{what}: {response.status_code} {where} {text}")
                return None
            return response
        self.failures.append(f"{what}: connection refused for 5 s")
        return None

    async def repeat(
        self, every: float, step: Callable[[httpx.AsyncClient], Awaitable[None]]
    ) -> None:
        # A connection per request, as many clients behind a load balancer make them.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            while self.running:
                await step(http)
                await asyncio.sleep(every)

    async def share(self, http: httpx.AsyncClient) -> None:
        employee = f"e{random.randrange(self.employees)}"
        response = await self.call(
            http,
            "share",
            (201,),
            method="POST",
            url=self.urls["share"] + "/api/v1/shares",
            headers=token(self.tenant, employee),
            json={"network": "x", "url": f"https://example.com/post/{ref('')}"},
        )
        if response is not None:
            body = response.json()
            self.shares[body["id"]] = (body["short_code"], employee)

    async def click(self, http: httpx.AsyncClient) -> None:
        if not self.shares:
            return
        # A share of whoever has had the fewest clicks yet: clicks spread over everyone.
        sharers: dict[str, list[str]] = {}
        for share_id, (_, employee) in self.shares.items():
            sharers.setdefault(employee, []).append(share_id)
        employee = min(sharers, key=lambda e: self._clicked[e])
        if self.max_clicks_per_employee is not None:
            if self._clicked[employee] >= self.max_clicks_per_employee:
                return
        share_id = random.choice(sharers[employee])
        self._clicked[employee] += 1
        n = next(self._visitors)
        visitor = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        response = await self.call(
            http,
            "click",
            (200, 302),
            method="GET",
            url=f"{self.urls['links']}/l/{self.shares[share_id][0]}",
            headers={"User-Agent": BROWSER, "X-Forwarded-For": visitor},
        )
        if response is not None:
            self.clicks[share_id] += 1

    async def person(self, http: httpx.AsyncClient) -> None:
        response = await self.call(
            http,
            "person",
            (201,),
            method="POST",
            url=self.urls["people"] + "/scim/v2/Users",
            headers={"Authorization": f"Bearer {self.scim_token}"},
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"person-{ref('')}",
                "active": True,
            },
        )
        if response is not None:
            self.people.append(response.json()["userName"])

    async def page(self, http: httpx.AsyncClient) -> None:
        response = await self.call(
            http,
            "web feed",
            (200,),
            method="GET",
            url=self.urls["web"] + "/feed",
            headers={"Cookie": self.web_cookie},
        )
        if response is not None and 'class="unavailable"' in response.text:
            self.failures.append("web feed: a part of the page was unavailable")

    def reads(self) -> list[Callable[[httpx.AsyncClient], Awaitable[None]]]:
        reader = token(self.tenant, "e0")
        admin = token(self.tenant, "admin-1", roles=("admin",))
        scim = {"Authorization": f"Bearer {self.scim_token}"}
        paths = [
            ("content", "/api/v1/feed", reader),
            ("rewards", "/api/v1/me/points", reader),
            ("metrics", "/api/v1/summary", admin),
            ("people", "/scim/v2/Users?count=1", scim),
        ]

        def read(service: str, path: str, headers: dict[str, str]) -> Any:
            async def step(http: httpx.AsyncClient) -> None:
                url = self.urls[service] + path
                await self.call(
                    http, f"read {service}", (200,), method="GET", url=url, headers=headers
                )

            return step

        return [read(*path) for path in paths]


class Tail:
    """What `topics` receive from `start()` on."""

    def __init__(self, topics: Sequence[str], bootstrap_servers: str = KAFKA) -> None:
        self.topics = list(topics)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False
        )
        self.start_at: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self.consumer.start()
        partitions = []
        for topic in self.topics:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                await self.consumer._client.force_metadata_update()
                found = self.consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self.start_at = await self.consumer.end_offsets(partitions)

    async def read(self) -> dict[str, list[dict[str, Any]]]:
        """Every record from the start offsets to the current ends, by topic; each event
        with where it was read (`_at`: partition/offset)."""
        partitions = list(self.start_at)
        ends = await self.consumer.end_offsets(partitions)
        self.consumer.assign(partitions)
        for tp, offset in self.start_at.items():
            self.consumer.seek(tp, offset)
        records: dict[str, list[dict[str, Any]]] = {topic: [] for topic in self.topics}
        while [tp for tp in partitions if await self.consumer.position(tp) < ends[tp]]:
            batch = await self.consumer.getmany(timeout_ms=500)
            for tp, items in batch.items():
                records[tp.topic] += [
                    {**json.loads(r.value), "_at": f"{tp.partition}/{r.offset}"}
                    for r in items
                    if r.offset < ends[tp]
                ]
        return records

    async def stop(self) -> None:
        await self.consumer.stop()
