"""Helpers of share's integration tests: the processes, a fake of LinkedIn's Posts API that
checks requests as LinkedIn documents them, content events, and a tail of a topic."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import Audience, ContentPublished, ContentPublishedData, ContentRetired
from share.domain.signatures import sign
from support import KAFKA, ServiceProcess, free_port, produce, ref, token

_AUTHOR = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")


@dataclass
class FakeLinkedIn:
    """POST /rest/posts, checked field by field against the Posts API documentation."""

    tokens: set[str] = field(default_factory=set)
    posts: list[dict[str, Any]] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def problems(self, path: str, headers: Any, raw: bytes) -> tuple[int, str] | None:
        if path != "/rest/posts":
            return 404, f"no resource {path}"
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
            return 401, "Invalid access token"
        if not re.fullmatch(r"\d{6}", headers.get("LinkedIn-Version", "")):
            return 426, "LinkedIn-Version header (YYYYMM) is required"
        if headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return 400, "X-Restli-Protocol-Version: 2.0.0 is required"
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 415, "Content-Type must be application/json"
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, "body is not JSON"
        checks = {
            "author": isinstance(body.get("author"), str) and _AUTHOR.match(body["author"]),
            "commentary": isinstance(body.get("commentary"), str),
            "visibility": body.get("visibility") in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"),
            "distribution.feedDistribution": (body.get("distribution") or {}).get(
                "feedDistribution"
            )
            in ("MAIN_FEED", "NONE"),
            "distribution.targetEntities": isinstance(
                (body.get("distribution") or {}).get("targetEntities"), list
            ),
            "distribution.thirdPartyDistributionChannels": isinstance(
                (body.get("distribution") or {}).get("thirdPartyDistributionChannels"), list
            ),
            "lifecycleState": body.get("lifecycleState") == "PUBLISHED",
            "isReshareDisabledByAuthor": isinstance(body.get("isReshareDisabledByAuthor"), bool),
        }
        article = (body.get("content") or {}).get("article")
        if article is not None:
            checks["content.article.source"] = str(article.get("source", "")).startswith("http")
            checks["content.article.title"] = bool(article.get("title"))
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            return 422, f"invalid fields: {', '.join(bad)}"
        self.posts.append({"headers": dict(headers), "body": body})
        return None

    def start(self) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                problem = fake.problems(self.path, self.headers, raw)
                if problem is None:
                    self.send_response(201)
                    self.send_header("x-restli-id", f"urn:li:share:{len(fake.posts)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, message = problem
                payload = json.dumps({"status": status, "message": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@dataclass
class ShareStack:
    api: ServiceProcess
    worker: ServiceProcess
    linkedin: FakeLinkedIn

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def links_url(self) -> str:
        """The api's listener for short links, where tracked URLs point."""
        return self.api.links_url


async def publish_content(
    tenant: str,
    content_id: str | None = None,
    *,
    url: str = "https://example.com/jobs/42",
    audience: Audience | None = None,
    expires_at: datetime | None = None,
    publish_at: datetime | None = None,
    suggested: dict[str, str] | None = None,
    campaign_id: str | None = None,
    topics: list[str] | None = None,
    text_variants: dict[str, list[str]] | None = None,
) -> str:
    """Publish a ContentPublished as the content service would, to the real Kafka."""
    content_id = content_id or ref("c")
    event = ContentPublished.create(
        tenant_id=tenant,
        subject=content_id,
        data=ContentPublishedData(
            content_id=content_id,
            title="We are hiring platform engineers",
            kind="job",
            url=url,
            suggested_texts=suggested or {"linkedin": "Join my team!"},
            text_variants=text_variants or {},
            audience=audience or Audience(),
            publish_at=publish_at or datetime.now(UTC) - timedelta(minutes=1),
            expires_at=expires_at,
            campaign_id=campaign_id,
            topics=topics or [],
            published_by="curator-1",
        ),
    )
    await produce(event.topic, event.to_json(), event.partition_key().encode())
    return content_id


@dataclass(frozen=True)
class Connector:
    """One of a tenant's engagement connectors, as its admin registered it."""

    tenant: str
    id: str
    secret: str

    def signed(self, body: dict[str, Any], skew: int = 0) -> tuple[bytes, dict[str, str]]:
        """The raw report and the headers that sign it with this connector's secret."""
        raw = json.dumps(body).encode()
        stamp = str(int(time.time()) + skew)
        return raw, {
            "Content-Type": "application/json",
            "X-Chorus-Tenant": self.tenant,
            "X-Chorus-Connector": self.id,
            "X-Chorus-Timestamp": stamp,
            "X-Chorus-Signature": sign(self.secret.encode(), stamp, raw),
        }


async def add_connector(http: httpx.AsyncClient, tenant: str, name: str = "poller") -> Connector:
    admin = token(tenant, "admin-1", roles=("admin",))
    made = await http.post("/api/v1/settings/connectors", headers=admin, json={"name": name})
    assert made.status_code == 201, made.text
    return Connector(tenant, made.json()["id"], made.json()["secret"])


async def publish_event(event: ContentRetired | Any) -> None:
    await produce(event.topic, event.to_json(), event.partition_key().encode())


class TopicTail:
    """Records of a topic written after `start()`: reads from the end offsets seen then."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.records: list[Any] = []

    async def start(self) -> TopicTail:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic) or set()
        if not partitions:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic) or set()
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self.consumer.position(tp)
        return self

    async def until(
        self, pick: Callable[[list[Any]], list[Any]], count: int, timeout: float = 60.0
    ) -> list[Any]:
        """Read until `pick` finds `count` records (or `timeout` passes), and a second
        more, so that records beyond `count` show too; returns what `pick` finds.

        For what arrives after a step of its own: a click's EngagementObserved comes once
        share's worker has decided it, after the redirect answered."""
        deadline = time.monotonic() + timeout
        while len(pick(self.records)) < count and time.monotonic() < deadline:
            await self.poll(0.5)
        await self.poll(1)
        return pick(self.records)

    async def poll(self, seconds: float) -> list[Any]:
        """Read for `seconds`; returns everything read so far as parsed JSON."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=200)
            for items in batch.values():
                self.records.extend(json.loads(r.value) for r in items)
        return self.records

    async def stop(self) -> None:
        await self.consumer.stop()
