"""Short-link redirect throughput: share's `/l/{code}` beside nginx serving a static 302.

Runs wrk against both on this machine, in the same run, and prints the first request after
each server started, requests/s and p50/p99 latency (wrk's count of every request's
latency, summarised as every bench does: bench/stats.py), like for like: nginx with one
worker beside one share api process, and nginx with a worker per core (`auto`) beside a
share api process per core sharing the links port.
The share worker does not run: it counts every click into MongoDB, and on a machine this
small it would take its cores from the api (deployed, it runs on other nodes); the api
publishes every click itself, as the check at the end shows.
Targets: at least 25% of nginx's throughput with p99 under 25 ms, and every counted click
published to Kafka. Needs wrk and nginx (`make bench` installs them: Debian's packages)
and the local Kafka and MongoDB-wire server.

    uv run python bench/redirect.py [--duration 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

sys.path.append(str(REPO / "bench"))

from stats import Summary, header, row, summary_of_counts  # noqa: E402

from support import KAFKA, ServiceProcess, free_port, ref, token  # noqa: E402

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
TARGET = "https://example.com/post?utm_source=linkedin&utm_medium=employee_advocacy"
# wrk's `done` hook: every latency it counted (microseconds) and how many requests took it.
WRK_LATENCIES = """
done = function(summary, latency, requests)
  local out = io.open(os.getenv("WRK_LATENCIES"), "w")
  for i = 1, #latency do
    local value, count = latency(i)
    out:write(string.format("%d %d\\n", value, count))
  end
  out:close()
end
"""
NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /l/ {{ return 302 "{target}"; }}
    }}
}}
"""


def require_tools() -> tuple[str, str]:
    wrk, nginx = shutil.which("wrk"), shutil.which("nginx") or "/usr/sbin/nginx"
    missing = [
        name
        for name, path in (("wrk", wrk), ("nginx", nginx))
        if not path or not Path(path).exists()
    ]
    if missing:
        print(f"missing: {', '.join(missing)}; install with: sudo apt-get install -y wrk nginx")
        raise SystemExit(2)
    assert wrk is not None
    return wrk, nginx


def wrk_run(wrk: str, url: str, duration: int, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        script, latencies = Path(scratch) / "latencies.lua", Path(scratch) / "latencies"
        script.write_text(WRK_LATENCIES)
        out = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{connections}",
                f"-d{duration}s",
                "-s",
                str(script),
                "-H",
                f"User-Agent: {BROWSER}",
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=duration + 60,
            env={**os.environ, "WRK_LATENCIES": str(latencies)},
        ).stdout
        counts = [
            (int(value) / 1000, int(count))
            for value, count in (line.split() for line in latencies.read_text().splitlines())
        ]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_3xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    # wrk's latency record holds more samples than requests completed (its own percentiles
    # come from the same record): n is the requests.
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    found = dataclasses.replace(summary_of_counts(counts), n=requests)
    return {
        "rps": rps,
        "summary": found,
        "p99": found.p99,
        "bad": float(non_3xx.group(1)) if non_3xx else 0.0,
        "socket_errors": errors.group(1) if errors else "",
    }


def first_request(url: str) -> float:
    """Milliseconds of one GET, as a browser would send it."""
    with httpx.Client(headers={"user-agent": BROWSER}, timeout=30) as client:
        began = time.perf_counter()
        answer = client.get(url)
        spent = time.perf_counter() - began
    assert answer.status_code == 302, f"{url} answers {answer.status_code}, not 302"
    return spent * 1000


def start_nginx(
    nginx: str, workdir: Path, workers: str
) -> tuple[subprocess.Popen[bytes], int, float]:
    """nginx started, its port, and its first request's milliseconds."""
    port = free_port()
    conf = workdir / f"nginx-{workers}.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, dir=workdir, port=port, target=TARGET))
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # Listening yet? (a bare connect: the first request is the one measured)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
            continue
        return proc, port, first_request(f"http://127.0.0.1:{port}/l/x")
    proc.kill()
    raise RuntimeError(f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def counted_clicks(api_url: str) -> float:
    text = httpx.get(f"{api_url}/metrics", timeout=10).text
    match = re.search(r'chorus_share_redirects_total\{outcome="click"\} ([\d.e+]+)', text)
    return float(match.group(1)) if match else 0.0


def _counter(api_url: str, name: str) -> float:
    text = httpx.get(f"{api_url}/metrics", timeout=10).text
    match = re.search(rf"{name} ([\d.e+]+)", text)
    return float(match.group(1)) if match else 0.0


def published_clicks(api_url: str) -> float:
    return _counter(api_url, "chorus_share_clicks_published_total")


async def drained(api_url: str, timeout: float = 60.0) -> None:
    """Wait until the api has published every click it counted so far."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if published_clicks(api_url) >= counted_clicks(api_url):
            return
        await asyncio.sleep(0.5)


async def settled(api_url: str) -> float:
    """The click counter once requests still in flight when wrk stopped have finished."""
    last = -1.0
    while True:
        now = counted_clicks(api_url)
        if now == last:
            return now
        last = now
        await asyncio.sleep(1.0)


async def tail_start(topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    await consumer._client.force_metadata_update()
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer


async def count_published(
    consumer: AIOKafkaConsumer, share_id: str, want: int, timeout: float
) -> int:
    ids: set[str] = set()
    deadline = time.monotonic() + timeout
    # Read on a little after reaching `want`: more events than counted clicks would show.
    linger_until = float("inf")
    while time.monotonic() < min(deadline, linger_until):
        if len(ids) >= want and linger_until == float("inf"):
            linger_until = time.monotonic() + 3
        batch = await consumer.getmany(timeout_ms=500, max_records=5000)
        for items in batch.values():
            for record in items:
                if share_id.encode() in record.value:
                    event = json.loads(record.value)
                    if event["data"]["share_id"] == share_id:
                        ids.add(event["id"])
    await consumer.stop()
    return len(ids)


def line(name: str, r: dict[str, Any]) -> str:
    found: Summary = r["summary"]
    return row(name, found, first=r.get("first"), per_second=r["rps"], decimals=2)


async def measure_share(
    wrk: str,
    args: argparse.Namespace,
    apis: list[ServiceProcess],
    code: str,
    warm_code: str,
    share_id: str,
) -> tuple[dict[str, float], int, int, int]:
    """wrk against the processes' shared links port: (result, counted, published, spooled)."""
    links = apis[0].links_url
    wrk_run(wrk, f"{links}/l/{warm_code}", 2, args.connections)  # warm-up
    for api in apis:
        await drained(api.url)
    tail = await tail_start("chorus.engagement-observed.v1")
    before = sum(counted_clicks(api.url) for api in apis)
    spooled_before = sum(_counter(api.url, "chorus_share_clicks_spooled_total") for api in apis)
    result = wrk_run(wrk, f"{links}/l/{code}", args.duration, args.connections)
    counted = 0.0
    for api in apis:
        counted += await settled(api.url)
    spooled = sum(_counter(api.url, "chorus_share_clicks_spooled_total") for api in apis)
    published = await count_published(tail, share_id, int(counted - before), timeout=120)
    return result, int(counted - before), published, int(spooled - spooled_before)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    wrk, nginx = require_tools()
    cores = os.cpu_count() or 1
    workdir = Path(tempfile.mkdtemp(prefix="chorus-bench-redirect-"))
    suffix = ref("")
    links_port = free_port()
    env = {
        "SHARE_DATABASE": f"chorus_share_bench_{suffix}",
        "SHARE_CONSUMER_GROUP": f"share-bench-{suffix}",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{links_port}",
        "CHORUS_LOG_LEVEL": "WARNING",
    }
    # As nginx's `auto` runs a worker per core, one api process per core shares the links
    # port (SO_REUSEPORT), as replicas behind a Service would.
    apis = [
        ServiceProcess("share", "api", env=env, links_port=links_port).start(workdir)
        for _ in range(cores)
    ]
    results: dict[str, dict[str, float]] = {}
    checks: list[tuple[str, int, int, int]] = []
    try:
        for api in apis:
            api.wait_healthy()
        tenant = ref("bench")
        me = token(tenant, "e1")
        async with httpx.AsyncClient(base_url=apis[0].url, timeout=10) as http:
            await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            # The link below is an own post's: on the tenant's link domains it redirects
            # (what is measured here); off them it would show the page saying where it leads.
            listed = await http.put(
                "/api/v1/settings/link-domains",
                headers=token(tenant, "a1", roles=("admin",)),
                json={"domains": ["example.com"]},
            )
            listed.raise_for_status()
            shares = []
            # One link to warm up on, one per measurement: each one's events are its own.
            for _ in range(3):
                shared = await http.post(
                    "/api/v1/shares",
                    headers=me,
                    json={
                        "network": "linkedin",
                        "url": "https://example.com/post",
                        "text": "Bench",
                    },
                )
                shared.raise_for_status()
                shares.append(shared.json())
        warm_code = shares[0]["short_code"]
        # A HEAD counts no click: it only shows that what is measured is the redirect.
        head = httpx.head(f"{apis[0].links_url}/l/{warm_code}", timeout=10)
        assert head.status_code == 302, f"the bench link answers {head.status_code}, not 302"
        # The first click after the start: the link looked up, the click sent to Kafka.
        share_first = first_request(f"{apis[0].links_url}/l/{warm_code}")
        # A broker just started runs its produce path interpreted until the JIT has
        # compiled it: warm it (and the api processes) before anything is measured.
        wrk_run(wrk, f"{apis[0].links_url}/l/{warm_code}", 20, args.connections)

        for workers in ("1", "auto"):
            proc, nginx_port, nginx_first = start_nginx(nginx, workdir, workers)
            try:
                url = f"http://127.0.0.1:{nginx_port}/l/{warm_code}"
                wrk_run(wrk, url, 2, args.connections)  # warm-up
                results[f"nginx static 302 ({workers})"] = {
                    **wrk_run(wrk, url, args.duration, args.connections),
                    "first": nginx_first,
                }
            finally:
                proc.terminate()
                proc.wait(10)

        for name, running, share in (
            (f"share ({cores} processes)", apis, shares[2]),
            ("share (1 process)", apis[:1], shares[1]),
        ):
            for api in apis:
                if api not in running:
                    api.stop()
            result, counted, published, spooled = await measure_share(
                wrk, args, running, share["short_code"], warm_code, share["id"]
            )
            results[name] = result
            checks.append((name, counted, published, spooled))
        results[f"share ({cores} processes)"]["first"] = share_first
    finally:
        for api in apis:
            api.stop()

    print(
        f"\nwrk -t2 -c{args.connections} -d{args.duration}s against /l/{{code}}, 127.0.0.1, "
        f"{cores} cores; share: its short-link listener"
    )
    print(header("milliseconds (per s: requests)"))
    for name, result in results.items():
        print(line(name, result))
    single, many = results["share (1 process)"], results[f"share ({cores} processes)"]
    nginx_one, nginx_auto = results["nginx static 302 (1)"], results["nginx static 302 (auto)"]
    print(f"share (1 process) / nginx (1 worker): {single['rps'] / nginx_one['rps']:.1%}")
    print(
        f"share ({cores} processes) / nginx (auto, {cores} workers): "
        f"{many['rps'] / nginx_auto['rps']:.1%}"
    )
    ok_rps = many["rps"] >= 0.25 * nginx_auto["rps"]
    ok_p99 = many["p99"] < 25.0
    print(f"target >= 25% of nginx, like for like: {'met' if ok_rps else 'NOT met'}")
    print(f"target p99 < 25 ms: {'met' if ok_p99 else 'NOT met'} ({many['p99']:.2f} ms)")
    status = 0
    for name, counted, published, spooled in checks:
        print(
            f"{name}: non-3xx {int(results[name]['bad'])}, clicks counted {counted}, "
            f"published to Kafka {published}, spooled to MongoDB on the way {spooled}"
        )
        if published != counted:
            print(f"{name}: NOT every counted click was published")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
