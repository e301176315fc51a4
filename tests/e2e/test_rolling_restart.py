"""A rolling restart under a steady load: every api and worker of every service, the web
app's included, is replaced while people share, click, read (through the web app too) and
HR's directory writes, and nothing fails, is lost or is doubled.

Each process is restarted the way a Deployment's rolling update does it (one surge pod,
none unavailable): a new process starts on ports of its own, and once it is ready the old
one gets SIGTERM. The services restart side by side, as `kubectl rollout restart` of every
Deployment does. Clients reach the apis through `Route`, which plays a Kubernetes Service:
a stable port that sends each new connection to a ready process, and learns readiness
from /readyz as the endpoints controller does. On SIGTERM a process says "not ready"
(here for 1 s, CHORUS_SHUTDOWN_DELAY_SECONDS; Kubernetes' preStop sleep does that part),
then stops accepting, answers what is in flight and closes: the clicks waiting for Kafka,
the outbox, the consumers' commits and their leaving the group.

Afterwards:
- no request failed: the load client opens a connection per request and retries only
  connections refused, which a process that stopped accepting would cause, and no other
  failure; no page of the web app said a service was unavailable;
- every share, click and directory entry the apis confirmed is on its topic exactly once
  (no event lost, none published twice), and every share earned its points exactly once;
- metrics counts every one of them;
- every old process ended by its SIGTERM within the grace period, not by a SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import topics
from support import (
    KAFKA,
    SERVICES,
    ServiceProcess,
    csrf_of,
    eventually,
    free_port,
    ref,
    start_group_at_end,
    token,
    web_people,
)

pytestmark = pytest.mark.long

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
# Kubernetes' default grace period; the manifests keep it.
GRACE_SECONDS = 30
EMPLOYEES = 40
# The apis, then the web app in front of them.
ROLLED = (*SERVICES, "web")
SCIM_TOKEN = "rolling-restart-scim-token-" + "x" * 32
WATCHED = (
    topics.POST_SHARED,
    topics.ENGAGEMENT_OBSERVED,
    topics.POINTS_AWARDED,
    topics.PERSON_UPSERTED,
)


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
        chosen = self.ready[next(self._turn) % len(self.ready)]
        port = self.backends.get(chosen, (chosen, ""))[0]
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
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
    """The steady load and what the apis confirmed."""

    tenant: str
    routes: dict[str, Route]
    # The web app's session cookie of an employee signed in through the development sign-in.
    web_cookie: str = ""
    shares: dict[str, str] = field(default_factory=dict)  # share id -> short code
    clicks: Counter[str] = field(default_factory=Counter)  # share id -> clicks answered
    people: list[str] = field(default_factory=list)  # user names created
    requests: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    running: bool = True

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
                return None
            self.requests[what] += 1
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
        employee = f"e{random.randrange(EMPLOYEES)}"
        response = await self.call(
            http,
            "share",
            (201,),
            method="POST",
            url=self.routes["share"].url + "/api/v1/shares",
            headers=token(self.tenant, employee),
            json={"network": "x", "url": f"https://example.com/post/{ref('')}"},
        )
        if response is not None:
            body = response.json()
            self.shares[body["id"]] = body["short_code"]

    async def click(self, http: httpx.AsyncClient) -> None:
        if not self.shares:
            return
        share_id = random.choice(list(self.shares))
        visitor = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(256)}"
        response = await self.call(
            http,
            "click",
            (200, 302),
            method="GET",
            url=f"{self.routes['links'].url}/l/{self.shares[share_id]}",
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
            url=self.routes["people"].url + "/scim/v2/Users",
            headers={"Authorization": f"Bearer {SCIM_TOKEN}"},
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
            url=self.routes["web"].url + "/feed",
            headers={"Cookie": self.web_cookie},
        )
        if response is not None and 'class="unavailable"' in response.text:
            self.failures.append("web feed: a part of the page was unavailable")

    def reads(self) -> list[Callable[[httpx.AsyncClient], Awaitable[None]]]:
        reader = token(self.tenant, "e0")
        admin = token(self.tenant, "admin-1", roles=("admin",))
        scim = {"Authorization": f"Bearer {SCIM_TOKEN}"}
        paths = [
            ("content", "/api/v1/feed", reader),
            ("rewards", "/api/v1/me/points", reader),
            ("metrics", "/api/v1/summary", admin),
            ("people", "/scim/v2/Users?count=1", scim),
        ]

        def read(service: str, path: str, headers: dict[str, str]) -> Any:
            async def step(http: httpx.AsyncClient) -> None:
                url = self.routes[service].url + path
                await self.call(
                    http, f"read {service}", (200,), method="GET", url=url, headers=headers
                )

            return step

        return [read(*path) for path in paths]


class Tail:
    """What the watched topics received from now on."""

    def __init__(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.start_at: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        await self.consumer.start()
        partitions = []
        for topic in WATCHED:
            found = self.consumer.partitions_for_topic(topic)
            if not found:
                await self.consumer._client.force_metadata_update()
                found = self.consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self.start_at = await self.consumer.end_offsets(partitions)

    async def read(self) -> dict[str, list[dict[str, Any]]]:
        """Every record from the start offsets to the current ends, by topic."""
        partitions = list(self.start_at)
        ends = await self.consumer.end_offsets(partitions)
        self.consumer.assign(partitions)
        for tp, offset in self.start_at.items():
            self.consumer.seek(tp, offset)
        records: dict[str, list[dict[str, Any]]] = {topic: [] for topic in WATCHED}
        while [tp for tp in partitions if await self.consumer.position(tp) < ends[tp]]:
            batch = await self.consumer.getmany(timeout_ms=500)
            for tp, items in batch.items():
                records[tp.topic] += [json.loads(r.value) for r in items if r.offset < ends[tp]]
        return records

    async def stop(self) -> None:
        await self.consumer.stop()


def _env(service: str, suffix: str, routes: dict[str, Route], tenant: str) -> dict[str, str]:
    env = {
        f"{service.upper()}_DATABASE": f"chorus_{service}_roll_{suffix}",
        f"{service.upper()}_CONSUMER_GROUP": f"{service}-roll-{suffix}",
        "SHARE_PUBLIC_BASE_URL": routes["links"].url,
        "PEOPLE_SCIM_TOKENS": json.dumps({tenant: SCIM_TOKEN}),
        "CHORUS_SHUTDOWN_DELAY_SECONDS": "1",
    }
    if service == "web":
        apis = ("content", "share", "rewards", "metrics")
        env |= {f"WEB_{api.upper()}_URL": routes[api].url for api in apis}
        env["WEB_DEV_PEOPLE"] = json.dumps(web_people(tenant))
    return env


def _attach(routes: dict[str, Route], process: ServiceProcess) -> None:
    if process.role != "api":
        return
    routes[process.service].add(process, process.port)
    if process.service == "share":
        routes["links"].add(process, process.links_port)


def _detach(routes: dict[str, Route], process: ServiceProcess) -> None:
    for route in routes.values():
        route.remove(process)


async def _roll(
    processes: dict[tuple[str, str], ServiceProcess],
    routes: dict[str, Route],
    service: str,
    log_dir: Path,
    ended: dict[tuple[str, str], int | None],
) -> None:
    """Replace the service's api, then its worker: the new one ready, then the old one's
    SIGTERM, waiting for it to end."""
    for role in ("api", "worker"):
        old = processes[(service, role)]
        new = ServiceProcess(service, role, env=dict(old.env)).start(log_dir)
        await asyncio.to_thread(new.wait_healthy, 120)
        _attach(routes, new)
        # Wait until the routes send to it, as a Service does once the pod is ready.
        async with asyncio.timeout(30):
            while any(new.port in r.backends and new.port not in r.ready for r in routes.values()):
                await asyncio.sleep(0.05)
        processes[(service, role)] = new
        started = time.monotonic()
        ended[(service, role)] = await asyncio.to_thread(old.stop, signal.SIGTERM, GRACE_SECONDS)
        assert time.monotonic() - started < GRACE_SECONDS, (service, role, old.log_tail())
        _detach(routes, old)
        await asyncio.sleep(1)


async def test_a_rolling_restart_under_load_fails_no_request_and_loses_or_doubles_no_event(
    tmp_path: Path,
) -> None:
    suffix = ref("")
    tenant = ref("roll")
    routes = {name: Route(name) for name in (*ROLLED, "links")}
    processes: dict[tuple[str, str], ServiceProcess] = {}
    tail = Tail()
    for route in routes.values():
        await route.start()
    try:
        for service in ROLLED:
            module = __import__(f"{service}.bootstrap", fromlist=["DEFINITION"])
            consumes = module.DEFINITION.consumes
            if consumes:
                await start_group_at_end(f"{service}-roll-{suffix}", consumes)
            for role in ("api", "worker"):
                env = _env(service, suffix, routes, tenant)
                processes[(service, role)] = ServiceProcess(service, role, env=env).start(tmp_path)
        for process in processes.values():
            await asyncio.to_thread(process.wait_healthy, 120)
            _attach(routes, process)
        await tail.start()

        load = Load(tenant, routes)
        async with httpx.AsyncClient(base_url=routes["share"].url, timeout=30) as http:
            for n in range(EMPLOYEES):
                joined = await http.post(
                    "/api/v1/advocates/me", headers=token(tenant, f"e{n}"), json={"accept": True}
                )
                assert joined.status_code == 201, joined.text
        async with httpx.AsyncClient(base_url=routes["web"].url, timeout=30) as http:
            form = await http.get("/signin")
            signed_in = await http.post(
                "/signin", data={"person": f"{tenant}/e01", "csrf": csrf_of(form.text)}
            )
            assert signed_in.status_code == 303, signed_in.text
            load.web_cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        steps = [
            (0.1, load.share),
            (0.02, load.click),
            (0.02, load.click),
            (0.3, load.person),
            (0.3, load.page),
            *((0.2, read) for read in load.reads()),
        ]
        workers = [asyncio.create_task(load.repeat(every, step)) for every, step in steps]
        await asyncio.sleep(3)

        ended: dict[tuple[str, str], int | None] = {}
        await asyncio.gather(*(_roll(processes, routes, s, tmp_path, ended) for s in ROLLED))

        await asyncio.sleep(3)
        load.running = False
        await asyncio.gather(*workers)

        # Every old process ended by its own SIGTERM (raised again once it had stopped).
        assert ended == {key: -signal.SIGTERM for key in processes}, ended
        assert load.failures == [], load.failures[:20]
        assert load.shares and load.people and sum(load.clicks.values()) > 100, load.requests

        admin = token(tenant, "admin-1", roles=("admin",))
        async with httpx.AsyncClient(base_url=routes["metrics"].url, timeout=30) as http:

            async def figures() -> dict[str, Any]:
                response = await http.get("/api/v1/summary", headers=admin)
                found: dict[str, Any] = response.json()["figures"]
                return found

            counted = await eventually(
                figures,
                lambda f: (
                    f.get("shares") == len(load.shares)
                    and f.get("clicks") == sum(load.clicks.values())
                ),
                timeout=120,
            )
        assert counted["shares"] == len(load.shares), counted

        records = await tail.read()

        def ours(topic: str) -> list[dict[str, Any]]:
            return [r for r in records[topic] if r["tenantid"] == tenant]

        def mine(topic: str, key: str) -> Counter[str]:
            return Counter(r["data"][key] for r in ours(topic))

        def doubled(topic: str) -> list[str]:
            ids = Counter(r["id"] for r in records[topic])
            return [i for i, n in ids.items() if n > 1]

        shared = mine(topics.POST_SHARED, "share_id")
        assert shared == Counter(dict.fromkeys(load.shares, 1))
        clicked = mine(topics.ENGAGEMENT_OBSERVED, "share_id")
        assert clicked == load.clicks
        # Each share earned its points once; no award was made twice for one event.
        share_events = {r["id"] for r in ours(topics.POST_SHARED)}
        awards = ours(topics.POINTS_AWARDED)
        for_shares = Counter(
            a["data"]["source_event_id"] for a in awards if a["data"]["rule_id"] == "share"
        )
        assert for_shares == Counter(dict.fromkeys(share_events, 1))
        per_rule = Counter((a["data"]["rule_id"], a["data"]["source_event_id"]) for a in awards)
        assert set(per_rule.values()) == {1}, per_rule.most_common(3)
        people = mine(topics.PERSON_UPSERTED, "user_name")
        assert people == Counter(dict.fromkeys(load.people, 1))
        for topic in WATCHED:
            assert doubled(topic) == [], topic
    finally:
        await tail.stop()
        for route in routes.values():
            await route.stop()
        for process in processes.values():
            process.stop()
