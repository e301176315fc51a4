"""The content api and worker in this process, on the real Kafka and Mongo server, with a
database and consumer group of their own; tests may swap the clock and the resolver."""

from __future__ import annotations

import contextlib
import gzip
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

import support
from chassis.directory import PERSON_TOPICS
from chassis.process import create_app
from content.bootstrap import DEFINITION
from content.config import ContentSettings
from content.service_layer.handlers import Services
from contracts.topics import ADVOCATE_OPTED_OUT, POST_SHARED
from support import KAFKA, MONGODB_URL, free_port, ref

PAGE = b"""<!doctype html><html><head>
<title>Plain title</title>
<meta property="og:title" content="Chorus &amp; friends">
<meta property="og:description" content="What advocacy looks like.">
<meta property="og:image" content="/img/cover.png">
<meta name="twitter:title" content="Twitter title">
</head><body><p>hello</p></body></html>"""
GZIPPED = gzip.compress(PAGE)


# A page of nothing but `<`: the HTML parser's worst case, about 1 s per MB.
ANGLES = b"<html><head>" + b"<" * 1_000_000
# 50 MB of body in 50 KB of gzip: a preview inflates only up to its size limit.
BOMB = gzip.compress(PAGE.replace(b"<body>", b"<body>" + b"\0" * 50_000_000), 9)


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/angles": (200, {"Content-Type": "text/html"}, ANGLES),
            "/gzip": (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, GZIPPED),
            "/deflate": (
                200,
                {"Content-Type": "text/html", "Content-Encoding": "deflate"},
                zlib.compress(PAGE),
            ),
            "/bomb": (200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, BOMB),
            "/brotli": (200, {"Content-Type": "text/html", "Content-Encoding": "br"}, b"\x1b\x00"),
            "/page": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE),
            "/moved": (302, {"Location": "/page"}, b""),
            "/to-private": (302, {"Location": "http://10.0.0.1/admin"}, b""),
            "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/json": (200, {"Content-Type": "application/json"}, b"{}"),
            "/huge": (
                200,
                {"Content-Type": "text/html"},
                PAGE.replace(b"<body>", b"<body>" + b"x" * 3_000_000),
            ),
        }
        status, headers, body = routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def page_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@dataclass
class Hub:
    http: httpx.AsyncClient
    api: FastAPI
    worker: FastAPI
    database: str
    mongo: AsyncMongoClient[dict[str, Any]]

    @property
    def services(self) -> Services:
        services: Services = self.api.state.services
        return services

    @property
    def db(self) -> Any:
        return self.mongo[self.database]


async def start_group_at_end(group: str, topic: str) -> None:
    """Its worker skips what other tests and earlier runs published on `topic`."""
    await support.start_group_at_end(group, [topic])


@pytest.fixture(scope="session")
async def hub(page_server: str) -> AsyncIterator[Hub]:
    suffix = ref("")
    await start_group_at_end(f"content-{suffix}", POST_SHARED)
    # Others' opt-outs on the shared Kafka are not this run's to erase.
    await start_group_at_end(f"content-{suffix}", ADVOCATE_OPTED_OUT)
    await support.start_group_at_end(f"content-{suffix}", PERSON_TOPICS)
    settings = ContentSettings(
        kafka_bootstrap_servers=KAFKA,
        mongodb_url=MONGODB_URL,
        database=f"chorus_content_{suffix}",
        consumer_group=f"content-{suffix}",
        preview_allowed_hosts=page_server,
        preview_max_bytes=200_000,
        preview_timeout_seconds=3,
        schedule_interval_seconds=0.2,
        outbox_lease_seconds=2,
    )
    api = create_app(DEFINITION, "api", settings)
    worker = create_app(DEFINITION, "worker", settings)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    # The database is left behind, as the platform's are: FerretDB 1.24 (SQLite) was seen to
    # die of a SIGBUS when a database that had been busy was dropped.
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(api.router.lifespan_context(api))
            await stack.enter_async_context(worker.router.lifespan_context(worker))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://content")
            )
            yield Hub(http, api, worker, settings.database, mongo)
    finally:
        await mongo.close()
