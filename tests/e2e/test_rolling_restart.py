"""A rolling restart under a steady load: every api and worker of every service, the web
app's included, is replaced while people share, click, read (through the web app too) and
HR's directory writes, and nothing fails, is lost or is doubled.

Each process is restarted the way a Deployment's rolling update does it (one surge pod,
none unavailable): a new process starts on ports of its own, and once it is ready the old
one gets SIGTERM. The services restart side by side, as `kubectl rollout restart` of every
Deployment does. Clients reach the apis through `Route`, which plays a Kubernetes Service:
a stable port that sends each new connection to a ready process, and learns readiness
from /readyz as the endpoints controller does. On SIGTERM a process says "not ready"
(here for 3 s, CHORUS_SHUTDOWN_DELAY_SECONDS; Kubernetes' preStop sleep does that part),
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

The platform runs on a Kafka of this test's own: on the suite's, the workers of the
suite's own platform (consumer groups of their own) would score the same shares too, and
publish their awards under the same deterministic ids, which would read as doubles here.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from traffic import Load, Route, Tail

from contracts import topics
from stack.servers import KafkaServer
from support import (
    SERVICES,
    ServiceProcess,
    csrf_of,
    eventually,
    free_port,
    ref,
    token,
    web_people,
)

# Kubernetes' default grace period; the manifests keep it.
GRACE_SECONDS = 30
# The apis, then the web app in front of them.
ROLLED = (*SERVICES, "web")
SCIM_TOKEN = "rolling-restart-scim-token-" + "x" * 32
WATCHED = (
    topics.POST_SHARED,
    topics.ENGAGEMENT_OBSERVED,
    topics.POINTS_AWARDED,
    topics.PERSON_UPSERTED,
)


def _env(
    service: str, suffix: str, routes: dict[str, Route], tenant: str, kafka: str
) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        f"{service.upper()}_DATABASE": f"chorus_{service}_roll_{suffix}",
        f"{service.upper()}_CONSUMER_GROUP": f"{service}-roll-{suffix}",
        "SHARE_PUBLIC_BASE_URL": routes["links"].url,
        "PEOPLE_SCIM_TOKENS": json.dumps({tenant: SCIM_TOKEN}),
        "CHORUS_SHUTDOWN_DELAY_SECONDS": "3",
    }
    if service == "web":
        apis = ("content", "share", "rewards", "metrics")
        env |= {f"WEB_{api.upper()}_URL": routes[api].url for api in apis}
        env["WEB_DEV_PEOPLE"] = json.dumps(web_people(tenant))
        # As the suite's platform: two tiers share two cores, and an api busy beside them
        # can take longer than the 2 s a page waits in production.
        env["WEB_BACKEND_TIMEOUT_SECONDS"] = "8"
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
    kafka = KafkaServer(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "kafka")
    await asyncio.to_thread(kafka.start)
    tail = Tail(WATCHED, kafka.bootstrap_servers)
    for route in routes.values():
        await route.start()
    try:
        for service in ROLLED:
            for role in ("api", "worker"):
                env = _env(service, suffix, routes, tenant, kafka.bootstrap_servers)
                processes[(service, role)] = ServiceProcess(service, role, env=env).start(tmp_path)
        for process in processes.values():
            await asyncio.to_thread(process.wait_healthy, 120)
            _attach(routes, process)
        await tail.start()

        urls = {name: route.url for name, route in routes.items()}
        load = Load(tenant, urls, scim_token=SCIM_TOKEN)
        await load.enroll()
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
        unavailable = [
            line
            for log in sorted(tmp_path.glob("web-api-*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if "backend unavailable" in line
        ]
        assert load.failures == [], (load.failures[:20], unavailable[:10])
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

        def awarded(records: dict[str, list[dict[str, Any]]]) -> bool:
            """Every share's award is on its topic: rewards may still be scoring the last
            shares when metrics has counted them."""
            made = {r["id"] for r in records[topics.POST_SHARED] if r["tenantid"] == tenant}
            given = {
                a["data"]["source_event_id"]
                for a in records[topics.POINTS_AWARDED]
                if a["tenantid"] == tenant and a["data"]["rule_id"] == "share"
            }
            return made <= given

        try:
            records = await eventually(tail.read, awarded, timeout=60)
        except AssertionError:
            records = await tail.read()  # the checks below say what is missing

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
        # Each share earned its points once: one award per share, none made twice for one
        # event (a worker finishes its batch before its partitions move to a new one).
        share_events = {r["id"] for r in ours(topics.POST_SHARED)}
        awards = ours(topics.POINTS_AWARDED)
        for_shares = Counter(
            a["data"]["source_event_id"] for a in awards if a["data"]["rule_id"] == "share"
        )
        twice = [source for source, n in for_shares.items() if n > 1][:3]
        assert for_shares == Counter(dict.fromkeys(share_events, 1)), [
            (
                [r["_at"] for r in ours(topics.POST_SHARED) if r["id"] == source],
                [
                    (a["_at"], a["id"], a["time"])
                    for a in awards
                    if a["data"]["source_event_id"] == source
                ],
            )
            for source in twice
        ]
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
        await asyncio.to_thread(kafka.stop)
