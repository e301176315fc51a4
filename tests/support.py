"""Test helpers: service processes, tokens, Kafka readers, polling."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from chassis.auth import issue_token
from chassis.domain_errors import Conflict
from chassis.kafka import ensure_topics
from chassis.settings import LOCAL_JWT_SECRET
from chassis.uow import UnitOfWork
from contracts import AnyEvent, PostShared, PostSharedData
from contracts.erasure import LOCAL_PSEUDONYM_KEY

REPO = Path(__file__).resolve().parents[1]
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGODB_URL = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")
SERVICES = ("content", "share", "rewards", "metrics", "people")
T = TypeVar("T")


def ref(prefix: str = "t") -> str:
    """A random id, so tests share servers without colliding."""
    return f"{prefix}{secrets.token_hex(5)}"


def web_people(tenant: str) -> list[dict[str, Any]]:
    """The development sign-in's people in the tests: an admin, a curator, a leader, and
    employees e01..e60 in four teams and two locations, so each test can sign in as its own
    person."""
    people: list[dict[str, Any]] = [
        {"id": "admin", "name": "Astrid Admin", "tenant": tenant, "roles": ["employee", "admin"]},
        {
            "id": "curator",
            "name": "Curt Curator",
            "tenant": tenant,
            "roles": ["employee", "curator"],
            "groups": ["communications"],
        },
        # The only member of the leaders' group the leaders' test names.
        {
            "id": "leader",
            "name": "Lena Leader",
            "tenant": tenant,
            "roles": ["employee"],
            "groups": ["leadership"],
            "location": "Oslo",
        },
    ]
    for n in range(1, 61):
        people.append(
            {
                "id": f"e{n:02d}",
                "name": f"Employee {n:02d}",
                "tenant": tenant,
                "roles": ["employee"],
                "groups": [f"team-{n % 4}"],
                "location": "Oslo" if n % 2 else "Helsinki",
            }
        )
    return people


# The local identity provider (`devstack start --keycloak`), with the realms in
# deploy/local/keycloak: realm "demo" is the demo tenant's provider.
KEYCLOAK_URL = os.environ.get("KEYCLOAK_URL", "").rstrip("/")
KEYCLOAK_PASSWORD = "chorus"


def keycloak_issuer(realm: str = "demo") -> str:
    return f"{KEYCLOAK_URL}/realms/{realm}"


def keycloak_providers() -> str:
    """CHORUS_OIDC_PROVIDERS trusting the demo realm for tenant "demo" ("" without Keycloak)."""
    if not KEYCLOAK_URL:
        return ""
    provider = {
        "tenant": "demo",
        "issuer": keycloak_issuer(),
        "name": "Demo Keycloak",
        "roles_claim": "realm_access.roles",
    }
    return json.dumps([provider])


def keycloak_token(
    client: str, username: str, *, realm: str = "demo", secret: str = "chorus-tests-secret"
) -> str:
    """An access token from the local provider, by the password grant of a test client."""
    response = httpx.post(
        f"{keycloak_issuer(realm)}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": client,
            "client_secret": secret,
            "username": username,
            "password": KEYCLOAK_PASSWORD,
            "scope": "openid",
        },
        timeout=30,
    )
    response.raise_for_status()
    access: str = response.json()["access_token"]
    return access


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of a web app's form."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def load_file(name: str, path: Path) -> Any:
    """The Python file `path` (a script, outside any package) as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Ports handed to servers the tests start. Below the kernel's ephemeral range (32768 and
# up): a port from there, free when chosen, can be taken by any outgoing connection in the
# seconds before the server binds it (a process takes ~6 s to bind on a busy machine). And
# below 27000, where the devstacks' MongoDB, PostgreSQL and Kafka listen.
PORTS = range(20000, 27000)
_given: set[int] = set()


def free_port() -> int:
    """A port no one listens on now, never given before by this process."""
    while True:
        port = secrets.choice(PORTS)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port


def token(
    tenant: str,
    sub: str = "e1",
    roles: tuple[str, ...] = ("employee",),
    groups: tuple[str, ...] = (),
) -> dict[str, str]:
    """Authorization header for a caller."""
    jwt = issue_token(LOCAL_JWT_SECRET, sub=sub, tenant=tenant, roles=roles, groups=groups)
    return {"Authorization": f"Bearer {jwt}"}


@dataclass
class ServiceProcess:
    """`python -m <service> <role>` as a child process on a free port."""

    service: str
    role: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    # The share api's listener for short links.
    links_port: int = field(default_factory=free_port)
    # The api's operations port (/readyz, /metrics, /docs); a worker's is its one port.
    api_ops_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """Where the process answers /healthz, /readyz and /metrics (and the api /docs)."""
        port = self.api_ops_port if self.role == "api" else self.port
        return f"http://127.0.0.1:{port}"

    @property
    def links_url(self) -> str:
        return f"http://127.0.0.1:{self.links_port}"

    def start(self, log_dir: Path) -> ServiceProcess:
        prefix = self.service.upper()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "MONGODB_URL": MONGODB_URL,
            "CHORUS_HOST": "127.0.0.1",
            # The key the tests' own `person_key` uses (the process default), whatever the
            # shell running the tests has set.
            "CHORUS_PSEUDONYM_KEY": LOCAL_PSEUDONYM_KEY,
            f"{prefix}_{self.role.upper()}_PORT": str(self.port),
            f"{prefix}_API_OPS_PORT": str(self.api_ops_port),
            "SHARE_LINKS_PORT": str(self.links_port),
            **self.env,
        }
        self.log_path = log_dir / f"{self.service}-{self.role}-{self.port}.log"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.service, self.role],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.service} {self.role} exited:\n{self.log_tail()}")
            try:
                # An api's operations port says ready once its app has started; uvicorn
                # binds the api port a moment later.
                if httpx.get(self.ops_url + "/readyz", timeout=5).status_code == 200 and (
                    self.role != "api"
                    or httpx.get(self.url + "/healthz", timeout=5).status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.service} {self.role} not ready:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], timeout: float = 30.0
) -> T:
    """Poll `probe` until `check` holds for its result; fail with the last result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await probe()
            if check(result):
                return result
            last: Any = result
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s; last: {last!r}")
        await asyncio.sleep(0.2)


async def read_topic(
    topic: str, until: Callable[[list[Any]], bool], timeout: float = 30.0
) -> list[Any]:
    """Every record of `topic` from the beginning, read until `until(records)` or timeout."""
    # A group of its own that never commits: every read starts at the beginning.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        group_id=ref("test-reader-"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for items in batch.values():
                records.extend(items)
            if until(records):
                break
        return records
    finally:
        await consumer.stop()


async def produce(topic: str, value: bytes, key: bytes | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def produce_in_order(*events: Any) -> None:
    """Produce events (contracts' CloudEvents) in this order, all on partition 0 of their
    topics: a person's events keep their order, and an event produced after them on the
    same topic is processed after them (a marker a test can wait for)."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            key = event.partition_key().encode()
            await producer.send_and_wait(event.topic, event.to_json(), key=key, partition=0)
    finally:
        await producer.stop()


async def start_group_at_end(group: str, topics: Iterable[str]) -> None:
    """Commit the topics' current end offsets for consumer group `group`.

    A worker of a fresh group then starts with the events its test produces instead of
    working through every other test's history on the shared Kafka first.
    """
    wanted = sorted(set(topics))
    # On a fresh Kafka the services have not created their topics yet.
    await ensure_topics(KAFKA, wanted, partitions=6, replication=1)
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        # A topic created a moment ago can be described without partitions (its leaders
        # not elected yet): ask again until each of them has its partitions.
        described = await eventually(
            lambda: admin.describe_topics(wanted),
            lambda topics: (
                len(topics) == len(wanted)
                and all(
                    t["error_code"] == 0
                    and t["partitions"]
                    and all(p["error_code"] == 0 for p in t["partitions"])
                    for t in topics
                )
            ),
        )
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        for p in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(dict(await consumer.end_offsets(partitions)))
    finally:
        await consumer.stop()


def untyped_json_routes(definition: Any, settings: Any) -> list[str]:
    """A service's own routes whose 2xx JSON response has no schema, or an object schema
    that lists no properties (`dict[str, Any]`): "METHOD path status" each."""
    from chassis.process import create_app

    document = create_app(definition, "api", settings).openapi()
    components = document.get("components", {}).get("schemas", {})

    def untyped(schema: dict[str, Any]) -> bool:
        while "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[-1]]
        return not schema or (schema.get("type") == "object" and not schema.get("properties"))

    ours = {
        (route.path, method.lower())
        for router in definition.routers()
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    assert ours, "no routes of the service's own"
    found = []
    for path, method in sorted(ours):
        for status, response in document["paths"][path][method]["responses"].items():
            body = response.get("content", {}).get("application/json")
            if status.startswith("2") and body is not None and untyped(body["schema"]):
                found.append(f"{method.upper()} {path} {status}")
    return found


def post_shared(n: int, tenant: str = "acme", employee_id: str = "e1") -> PostShared:
    """The `n`th share of one employee: a PostShared with share id `s<n>`."""
    return PostShared.create(
        tenant_id=tenant,
        subject=f"s{n}",
        data=PostSharedData(
            share_id=f"s{n}",
            content_id=None,
            employee_id=employee_id,
            network="x",
            short_code="abcd1234",
            tracked_url="https://go.example.com/l/abcd1234",
            shared_at=datetime.now(UTC),
            method="intent",
        ),
    )


class Units:
    """A unit-of-work factory for the use-case tests (`Services.uow`): it keeps every unit
    the use cases opened, and `committed` lists the events of all that committed, in order."""

    def __init__(self) -> None:
        self.opened: list[UnitOfWork] = []

    def __call__(self) -> UnitOfWork:
        self.opened.append(UnitOfWork())
        return self.opened[-1]

    @property
    def committed(self) -> list[AnyEvent]:
        return [event for unit in self.opened for event in unit.committed]


class MemoryWrite:
    """A unit of work's write for the use-case tests' in-memory repositories: `change`
    applies it and says whether it landed. One that must land and did not is a `Conflict`
    (as `chassis.outbox.DocumentWrite`'s); published events go to `published`."""

    def __init__(
        self,
        change: Callable[[], bool],
        published: list[AnyEvent] | None = None,
        *,
        must_land: bool = True,
        conflict: str = "it changed meanwhile; read it again and retry",
    ) -> None:
        self.change, self.must_land, self.conflict = change, must_land, conflict
        self.published = published if published is not None else []

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        landed = self.change()
        if not landed and self.must_land:
            raise Conflict(self.conflict, title="Changed meanwhile")
        return landed

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        self.published.extend(events)
