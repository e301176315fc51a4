"""Short-link redirect throughput: share's `/l/{code}` beside nginx serving a static 302,
under the clicks real use sends.

Runs wrk against both on this machine, in the same run, and prints the first request after
each server started, requests/s and p50/p99 latency (wrk's count of every request's
latency, summarised as every bench does: bench/stats.py), like for like: nginx with one
worker beside one share api process, and nginx with a worker per core (`auto`) beside a
share api process per core sharing the links port.

What is sent is what many people clicking many links send, not one browser clicking one
link (which would only ever measure the cheapest path: one cached link, one user agent
whose bot check is remembered, one visitor):

- links: 1,000 shares of 100 advocates (made through share's API), half of them clicked in
  each share row, so each row's links are its own, with a Zipf-like popularity (s = 1): a
  few links take most clicks, most are clicked a few times, and each is looked up once
  after the start (the link cache) before it answers from memory;
- visitors: a fresh set per row, each with an address of its own, sent as
  `X-Forwarded-For` (believed from 127.0.0.1, share's default trusted proxy) and a user
  agent of their own, each clicking one link: as in real use, almost every click is a
  visitor's first on that link; 8 % of people's clicks are a visitor clicking the same
  link again (`--repeats`). The rows are enough clicks that wrk rarely goes round its
  list again within a run (the printout says how many were sent). One row sends a row's
  first clicks again, every one now a repeat within the hour, so first and repeat clicks
  are reported apart as well as in the mix. The redirect answers both alike, from memory;
  which click is unique is decided by share's worker afterwards. User agents are drawn
  Zipf-like from 2,500 distinct browser ones per plan (desktop and phone; Chrome, Edge,
  Firefox, Safari, Samsung Internet, Opera with varied versions and OS versions; the
  LinkedIn, Facebook and Instagram in-app browsers), so the bot check meets user agents it
  has not seen (CrawlerDetect: 1-2 ms each) and ones it remembers;
- bots and link-preview fetchers: 10 % of the requests (LinkedInBot, Slackbot, Twitterbot,
  facebookexternalhit, Googlebot, mail clients' previews, scripts ...), each from a few
  addresses, fetching links evenly, as previews fetch every link once it is posted.

The corpus is built here (its bots and browser forms from share's test corpus,
services/share/tests/integration/share_user_agents.py), from a fixed seed, so that this
script run on an earlier commit (`bench/compare.py --script this`) sends the same. The
requests are made before wrk starts: a file of (path, user agent, address) lines, which
wrk's Lua script turns into request strings in each thread's `init` (every thread its
own lines) and cycles through, so wrk itself stays cheap. nginx gets the same script and
lines (its `location /l/` answers any code). Warm-ups click one link of their own with one
browser, so the measured links and user agents are new to the processes. wrk waits up to
30 s for an answer (its default, 2 s, would leave slower requests out of the latencies).

The share worker does not run: it decides and counts every click into MongoDB, and on a
machine this small it would take its cores from the api (deployed, it runs on other
nodes); the api publishes every click's LinkClicked itself, as the check at the end shows:
every counted click of the row's shares published to Kafka. Bots are counted as their own
outcome and publish nothing; the outcome mix of each row is printed.
Targets, for the realistic mix: at least 25% of nginx's throughput with p99 under 25 ms,
and every counted click published to Kafka. Needs wrk and nginx (`make bench` installs
them: Debian's packages) and the local Kafka and MongoDB-wire server.

    uv run python bench/redirect.py [--duration 10] [--connections 64] [--links 1500]
        [--visitors 200000] [--agents 2500] [--bots 0.1] [--repeats 0.08]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import itertools
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
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
THREADS = 2
ADVOCATES = 100
# wrk's hooks. setup: a number per thread. init: the thread's lines of the plan (every
# THREADS-th) made into requests once. request: the next one, round and round. done: every
# latency wrk counted (microseconds) and how many requests took it. Without a plan, wrk's
# own request (one URL, one user agent): the warm-ups.
WRK_SCRIPT = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests, count, at = {}, 0, 0

function init(args)
  local plan = os.getenv("WRK_PLAN")
  if plan == nil or plan == "" then return end
  local of, n = tonumber(os.getenv("WRK_THREADS")), 0
  for line in io.lines(plan) do
    if n % of == id then
      local path, agent, address = line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)$")
      count = count + 1
      requests[count] = wrk.format("GET", path, {
        ["Host"] = wrk.headers["Host"],
        ["User-Agent"] = agent,
        ["X-Forwarded-For"] = address,
      })
    end
    n = n + 1
  end
  -- Threads start at different points of their lines, as visitors do not arrive in step.
  at = (id * 7919) % math.max(count, 1)
end

function request()
  if count == 0 then return wrk.request() end
  at = at % count + 1
  return requests[at]
end

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

# -- who clicks --------------------------------------------------------------------------

# Bots and link-preview fetchers (share_user_agents.BOTS), with how often each comes: an
# employee's post on LinkedIn is fetched by LinkedIn's crawler, pasted into Slack, Skype
# and mails, previewed by messengers; search engines and scripts come too.
BOTS: tuple[tuple[str, int], ...] = (
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", 30),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 10),
    ("Twitterbot/1.0", 6),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 6),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 6),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 3),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", 4),
    ("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)", 4),
    ("Mozilla/4.0 (compatible; ms-office; MSOffice 16)", 2),
    ("Outlook-iOS/709.2189947.prod.iphone (4.2445.0)", 2),
    ("Outlook-Android/2.0", 1),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", 1),
    (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        3,
    ),
    ("WhatsApp/2.23.20.0 A", 4),
    ("TelegramBot (like TwitterBot)", 2),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", 2),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (Applebot/0.1)",
        2,
    ),
    ("Iframely/1.3.1 (+https://iframely.com/docs/about)", 1),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 2),
    ("Mastodon/4.2.1 (http.rb/5.1.1; +https://mastodon.social/)", 1),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
        2,
    ),
    ("curl/8.5.0", 1),
    ("python-requests/2.31.0", 1),
    ("Go-http-client/2.0", 1),
)
_ANDROID_MODELS = (
    "SM-S918B", "SM-S911B", "SM-S921B", "SM-A546B", "SM-A536B", "SM-A346B", "SM-G991B",
    "SM-G998B", "SM-F946B", "SM-A145R", "SM-T870", "SM-X710", "Pixel 6", "Pixel 7",
    "Pixel 7a", "Pixel 8", "Pixel 8 Pro", "Pixel 9", "2201116SG", "23049PCD8G", "M2101K6G",
    "CPH2451", "CPH2581", "moto g(60)", "moto g54 5G", "motorola edge 40", "V2145",
    "RMX3771", "22101316G", "NE2213", "LE2123", "ASUS_AI2302", "XQ-DQ72",
)  # fmt: skip
_IOS = ("15_8", "16_5", "16_7", "17_0", "17_1", "17_2", "17_3", "17_4", "17_5", "17_6",
        "18_0", "18_1", "18_2")  # fmt: skip
_MACOS = ("10_15_7", "11_7_10", "12_7_6", "13_6_9", "14_7_1")
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"


def _chrome_full(rng: random.Random, major: int) -> str:
    """A full Chrome version of `major`, as Edge, CriOS and Android's WebView still send."""
    return f"{major}.0.{6000 + (major - 120) * 50 + rng.randrange(50)}.{rng.randrange(40, 210)}"


def browser_agents(rng: random.Random) -> list[str]:
    """Distinct browser user agents (about 7,500), in no order: the forms of
    share_user_agents.BROWSERS over versions, OS versions and devices."""
    out: list[str] = []
    desktops = (
        "Windows NT 10.0; Win64; x64",
        "Macintosh; Intel Mac OS X 10_15_7",
        "X11; Linux x86_64",
        "X11; CrOS x86_64 14541.0.0",
    )
    for major in range(109, 133):
        # Chrome sends a reduced user agent (major version only); Edge its full version.
        for desktop in desktops:
            chrome = f"Mozilla/5.0 ({desktop}) {_BLINK} Chrome/{major}.0.0.0 Safari/537.36"
            out.append(chrome)
            out.append(f"{chrome} OPR/{major - 16}.0.0.0")
            if not desktop.startswith("X11"):
                out.extend(f"{chrome} Edg/{_chrome_full(rng, major)}" for _ in range(3))
        out.append(
            f"Mozilla/5.0 (Linux; Android 10; K) {_BLINK} Chrome/{major}.0.0.0 Mobile Safari/537.36"
        )
    macs = (f"Macintosh; Intel Mac OS X {'.'.join(v.split('_')[:2])}" for v in _MACOS)
    firefox_os = ("Windows NT 10.0; Win64; x64", "Windows NT 6.1; Win64; x64", *macs)
    firefox_os += ("X11; Linux x86_64", "X11; Ubuntu; Linux x86_64", "X11; Fedora; Linux x86_64")
    for rv in range(115, 135):
        for system in firefox_os:
            out.append(f"Mozilla/5.0 ({system}; rv:{rv}.0) Gecko/20100101 Firefox/{rv}.0")
        for android in range(10, 16):
            out.append(
                f"Mozilla/5.0 (Android {android}; Mobile; rv:{rv}.0) Gecko/{rv}.0 Firefox/{rv}.0"
            )
    for ios in _IOS:
        version = ios.replace("_", ".")
        for device, cpu in (("iPhone", "CPU iPhone OS"), ("iPad", "CPU OS")):
            system = f"Mozilla/5.0 ({device}; {cpu} {ios} like Mac OS X) {_WEBKIT}"
            out.append(f"{system} Version/{version} Mobile/15E148 Safari/604.1")
            for major in range(120, 133):
                out.append(f"{system} CriOS/{_chrome_full(rng, major)} Mobile/15E148 Safari/604.1")
            for rv in range(125, 135):
                out.append(f"{system} FxiOS/{rv}.0 Mobile/15E148 Safari/605.1.15")
            for _ in range(8):
                app = f"9.{rng.randrange(20, 31)}.{rng.randrange(1, 9999)}"
                out.append(f"{system} Mobile/15E148 [LinkedInApp]/{app}")
        for mac in _MACOS:
            out.append(
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X {mac}) {_WEBKIT} Version/{version} "
                "Safari/605.1.15"
            )
    for model, android, major in itertools.product(_ANDROID_MODELS, range(11, 16), range(124, 133)):
        out.append(
            f"Mozilla/5.0 (Linux; Android {android}; {model}) {_BLINK} "
            f"SamsungBrowser/{rng.randrange(23, 28)}.0 Chrome/{major}.0.0.0 Mobile Safari/537.36"
        )
        # In-app browsers: Android's WebView, with the device, the build and the app.
        build = (
            f"{rng.choice(('UP1A', 'TP1A', 'AP2A', 'SKQ1'))}.{rng.randrange(220000, 250000)}"
            f".{rng.randrange(1, 30):03d}"
        )
        chrome = _chrome_full(rng, major)
        webview = (
            f"Mozilla/5.0 (Linux; Android {android}; {model} Build/{build}; wv) {_BLINK} "
            f"Version/4.0 Chrome/{chrome} Mobile Safari/537.36"
        )
        fb = f"{rng.randrange(440, 490)}.0.0.{rng.randrange(10, 60)}.{rng.randrange(10, 120)}"
        instagram = (
            f"{rng.randrange(320, 360)}.0.0.{rng.randrange(10, 60)}.{rng.randrange(10, 120)}"
        )
        out.append(f"{webview} [LinkedInApp]/4.1.{rng.randrange(800, 1100)}")
        out.append(f"{webview} [FB_IAB/FB4A;FBAV/{fb};]")
        out.append(f"{webview} Instagram {instagram} Android")
    return list(dict.fromkeys(out))


def _zipf(n: int, s: float = 1.0) -> list[float]:
    """Cumulative weights of ranks 1..n under a Zipf law (for random.choices)."""
    return list(itertools.accumulate(1 / rank**s for rank in range(1, n + 1)))


def _addresses(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    """`n` distinct public-looking client addresses, about one in six IPv6."""
    found: list[str] = []
    while len(found) < n:
        if rng.random() < 0.16:
            address = str(ipaddress.IPv6Address((0x2A00 << 112) | rng.getrandbits(100)))
        else:
            address = str(ipaddress.IPv4Address(rng.randrange(0x01000000, 0xDF000000)))
            if address.startswith(("10.", "127.", "192.168.")):
                continue
        if address not in taken:
            taken.add(address)
            found.append(address)
    return found


@dataclasses.dataclass(frozen=True)
class Load:
    """The requests of one row, in the order sent: (path, user agent, address)."""

    requests: list[tuple[str, str, str]]
    links: int
    visitors: int
    agents: int
    bots: int
    # People's clicks: a visitor's first on a link, and a visitor's click on it again.
    firsts: int
    repeats: int

    def write(self, path: Path) -> Path:
        path.write_text("".join(f"{p}\t{a}\t{ip}\n" for p, a, ip in self.requests))
        return path

    def describe(self) -> str:
        people = self.firsts + self.repeats
        return (
            f"{len(self.requests):,} requests: {self.links:,} links, {self.visitors:,} visitors "
            f"(an address each), {self.agents:,} distinct user agents, "
            f"{self.bots / len(self.requests):.1%} from bots and preview fetchers; "
            f"people's clicks {self.firsts / people:.1%} first on their link, "
            f"{self.repeats / people:.1%} again"
        )


def plan(
    codes: Sequence[str],
    agents: Sequence[str],
    seed: int,
    visitors: int,
    bot_share: float,
    repeats: float,
) -> Load:
    """People clicking links and bots fetching them, shuffled into the order sent.

    Each visitor clicks one link (their first click on it); `repeats` of the people's
    clicks are a visitor clicking the same link again, some time after their first."""
    rng = random.Random(seed)
    links = list(codes)
    rng.shuffle(links)  # which link is the popular one
    by_popularity, by_agent = _zipf(len(links)), _zipf(len(agents))
    taken: set[str] = set()
    # (when in the row, request): a repeat comes after its visitor's first click.
    timed: list[tuple[float, tuple[str, str, str]]] = []
    for address in _addresses(rng, visitors, taken):
        agent = rng.choices(agents, cum_weights=by_agent)[0]
        code = rng.choices(links, cum_weights=by_popularity)[0]
        timed.append((rng.random(), (f"/l/{code}", agent, address)))
    again = round(visitors * repeats / (1 - repeats))
    for at, request in rng.choices(timed[:visitors], k=again):
        timed.append((rng.uniform(at, 1.0), request))
    people = len(timed)
    bots = round(people * bot_share / (1 - bot_share))
    names, weights = zip(*BOTS, strict=True)
    # A crawler comes from a handful of addresses of its own.
    homes = {name: _addresses(rng, 8, taken) for name in names}
    for name in rng.choices(names, weights=weights, k=bots):
        timed.append((rng.random(), (f"/l/{rng.choice(links)}", name, rng.choice(homes[name]))))
    timed.sort(key=lambda item: item[0])
    requests = [request for _, request in timed]
    return Load(
        requests,
        links=len({path for path, _, _ in requests}),
        visitors=visitors,
        agents=len({agent for _, agent, _ in requests}),
        bots=bots,
        firsts=visitors,
        repeats=again,
    )


# -- running wrk and nginx ---------------------------------------------------------------


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


def wrk_run(
    wrk: str, url: str, duration: int, connections: int, load: Path | None = None
) -> dict[str, Any]:
    """wrk against `url`: the requests of the plan file `load`, or GETs of `url` itself by
    one browser."""
    with tempfile.TemporaryDirectory() as scratch:
        script, latencies = Path(scratch) / "clicks.lua", Path(scratch) / "latencies"
        script.write_text(WRK_SCRIPT)
        out = subprocess.run(
            [
                wrk,
                f"-t{THREADS}",
                f"-c{connections}",
                f"-d{duration}s",
                # wrk's default (2 s) leaves slower requests out of the latencies: a
                # request is measured however long it takes.
                "--timeout",
                "30s",
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
            env={
                **os.environ,
                "WRK_LATENCIES": str(latencies),
                "WRK_PLAN": str(load or ""),
                "WRK_THREADS": str(THREADS),
            },
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
    found = dataclasses.replace(summary_of_counts(counts), n=requests) if requests else None
    return {
        "rps": rps,
        "summary": found,
        "p99": found.p99 if found else math.inf,
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


# -- what share counted and published ----------------------------------------------------


def outcomes(ops_url: str) -> Counter[str]:
    """chorus_share_redirects_total by outcome (click, bot, head, ...)."""
    text = httpx.get(f"{ops_url}/metrics", timeout=10).text
    found: Counter[str] = Counter()
    for outcome, value in re.findall(
        r'chorus_share_redirects_total\{outcome="(\w+)"\} ([\d.e+]+)', text
    ):
        found[outcome] = int(float(value))
    return found


def counted_clicks(ops_url: str) -> float:
    return outcomes(ops_url)["click"]


def _counter(ops_url: str, name: str) -> float:
    text = httpx.get(f"{ops_url}/metrics", timeout=10).text
    match = re.search(rf"{name} ([\d.e+]+)", text)
    return float(match.group(1)) if match else 0.0


def published_clicks(ops_url: str) -> float:
    return _counter(ops_url, "chorus_share_clicks_published_total")


async def drained(ops_url: str, timeout: float = 60.0) -> None:
    """Wait until the api has published every click it counted so far."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if published_clicks(ops_url) >= counted_clicks(ops_url):
            return
        await asyncio.sleep(0.5)


async def settled(ops_url: str) -> Counter[str]:
    """The outcome counters once requests still in flight when wrk stopped have finished."""
    last: Counter[str] | None = None
    while True:
        now = outcomes(ops_url)
        if now == last:
            return now
        last = now
        await asyncio.sleep(1.0)


# Where the api publishes its clicks: LinkClicked, or, before share's worker decided
# uniqueness, EngagementObserved (this script run on an earlier commit).
CLICK_TOPICS = ("chorus.link-clicked.v1", "chorus.engagement-observed.v1")


async def tail_start(topics: Sequence[str]) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    await consumer._client.force_metadata_update()
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in consumer.partitions_for_topic(topic) or ()
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    return consumer


async def count_published(
    consumer: AIOKafkaConsumer, share_ids: set[str], want: int, timeout: float
) -> int:
    """Distinct events on the topics since the tail started whose share is one of `share_ids`."""
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
                event = json.loads(record.value)
                data = event.get("data")
                if isinstance(data, dict) and data.get("share_id") in share_ids:
                    ids.add(event["id"])
    await consumer.stop()
    return len(ids)


def line(name: str, r: dict[str, Any]) -> str:
    found: Summary | None = r["summary"]
    return row(name, found, first=r.get("first"), per_second=r["rps"], decimals=2)


@dataclasses.dataclass
class Check:
    """What share made of one row's requests."""

    outcomes: Counter[str]
    published: int
    spooled: int

    def mix(self) -> str:
        total = sum(self.outcomes.values()) or 1
        return ", ".join(
            f"{outcome} {count:,} ({count / total:.1%})"
            for outcome, count in self.outcomes.most_common()
            if count
        )


async def measure_share(
    wrk: str,
    args: argparse.Namespace,
    apis: list[ServiceProcess],
    load: Path,
    warm_code: str,
    share_ids: set[str],
) -> tuple[dict[str, Any], Check]:
    """wrk against the processes' shared links port with the requests of `load`."""
    links = apis[0].links_url
    wrk_run(wrk, f"{links}/l/{warm_code}", 2, args.connections)  # warm-up
    for api in apis:
        await drained(api.ops_url)
    tail = await tail_start(CLICK_TOPICS)
    before: Counter[str] = sum((outcomes(api.ops_url) for api in apis), Counter())
    spooled_before = sum(_counter(api.ops_url, "chorus_share_clicks_spooled_total") for api in apis)
    result = wrk_run(wrk, f"{links}/l/{warm_code}", args.duration, args.connections, load)
    after: Counter[str] = Counter()
    for api in apis:
        after += await settled(api.ops_url)
    spooled = sum(_counter(api.ops_url, "chorus_share_clicks_spooled_total") for api in apis)
    after.subtract(before)
    published = await count_published(tail, share_ids, after["click"], timeout=120)
    return result, Check(after, published, int(spooled - spooled_before))


async def create_shares(url: str, tenant: str, count: int, first: int = 0) -> list[dict[str, Any]]:
    """`count` shares of own posts by the tenant's advocates, in turn."""
    made: list[dict[str, Any]] = []
    # A few at a time: the MongoDB-wire test server (FerretDB on SQLite) answers more at
    # once with "database is locked", which is retried.
    gate = asyncio.Semaphore(4)
    networks = ("linkedin", "linkedin", "linkedin", "x", "facebook")

    async def one(http: httpx.AsyncClient, n: int) -> None:
        async with gate:
            for attempt in range(5):
                shared = await http.post(
                    "/api/v1/shares",
                    headers=token(tenant, f"e{n % ADVOCATES}"),
                    json={
                        "network": networks[n % len(networks)],
                        "url": f"https://example.com/posts/{n}?utm_source=chorus",
                        "text": f"Bench post {n}",
                    },
                )
                if shared.status_code < 500 or attempt == 4:
                    break
                await asyncio.sleep(0.5)
            shared.raise_for_status()
            made.append(shared.json())

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(one(http, n) for n in range(first, first + count)))
    return made


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--links", type=int, default=1500, help="shares, a third of them clicked in each plan"
    )
    parser.add_argument("--visitors", type=int, default=200_000, help="people per plan")
    parser.add_argument(
        "--agents", type=int, default=2500, help="distinct browser user agents per plan"
    )
    parser.add_argument("--bots", type=float, default=0.1, help="share of requests from bots")
    parser.add_argument(
        "--repeats", type=float, default=0.08, help="share of people's clicks made again"
    )
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
    mix = f"share ({cores} processes), realistic mix"
    firsts = f"share ({cores} processes), first clicks only"
    again = f"share ({cores} processes), the same clicks again: repeats only"
    single = "share (1 process), realistic mix"
    # Each plan its own links and browsers, so that none finds another's remembered; the
    # repeats are the first clicks' plan sent again.
    plan_names = (mix, firsts, single)
    corpus = browser_agents(random.Random(1))
    random.Random(2).shuffle(corpus)
    assert len(corpus) >= len(plan_names) * args.agents, f"only {len(corpus)} browser agents"
    results: dict[str, dict[str, Any]] = {}
    checks: dict[str, Check] = {}
    loads: dict[str, Load] = {}
    try:
        for api in apis:
            api.wait_healthy()
        tenant = ref("bench")
        async with httpx.AsyncClient(base_url=apis[0].url, timeout=10) as http:
            for n in range(ADVOCATES):
                joined = await http.post(
                    "/api/v1/advocates/me", headers=token(tenant, f"e{n}"), json={"accept": True}
                )
                joined.raise_for_status()
            # The links below are own posts': on the tenant's link domains they redirect
            # (what is measured here); off them they would show the page saying where
            # they lead.
            listed = await http.put(
                "/api/v1/settings/link-domains",
                headers=token(tenant, "a1", roles=("admin",)),
                json={"domains": ["example.com"]},
            )
            # 404: a share older than link domains, whose own posts' links always redirect
            # (this script run on an earlier commit); the HEAD below checks the 302.
            if listed.status_code != 404:
                listed.raise_for_status()
        # One link to warm up on, and each plan its own links: each one's events are its
        # own, and each row looks its links up after the start.
        made = time.monotonic()
        warm_code = (await create_shares(apis[0].url, tenant, 1))[0]["short_code"]
        per_plan = args.links // len(plan_names)
        shares = {
            name: await create_shares(apis[0].url, tenant, per_plan, 1 + i * per_plan)
            for i, name in enumerate(plan_names)
        }
        made = time.monotonic() - made
        for i, name in enumerate(plan_names):
            agents = corpus[i * args.agents : (i + 1) * args.agents]
            codes = [share["short_code"] for share in shares[name]]
            loads[name] = plan(
                codes,
                agents,
                seed=10 + i,
                visitors=args.visitors,
                bot_share=args.bots,
                repeats=0.0 if name == firsts else args.repeats,
            )
        loads[again], shares[again] = loads[firsts], shares[firsts]
        plans = {
            name: load.write(workdir / f"plan-{i}.tsv")
            for i, (name, load) in enumerate(loads.items())
            if name != again
        }
        plans[again] = plans[firsts]
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
                wrk_run(wrk, url, 2, args.connections, plans[mix])  # warm-up
                results[f"nginx static 302 ({workers})"] = {
                    **wrk_run(wrk, url, args.duration, args.connections, plans[mix]),
                    "first": nginx_first,
                }
            finally:
                proc.terminate()
                proc.wait(10)

        for name, running in ((mix, apis), (firsts, apis), (again, apis), (single, apis[:1])):
            for api in apis:
                if api not in running:
                    api.stop()
            results[name], checks[name] = await measure_share(
                wrk, args, running, plans[name], warm_code, {s["id"] for s in shares[name]}
            )
        results[mix]["first"] = share_first
    finally:
        for api in apis:
            api.stop()

    print(
        f"\nwrk -t{THREADS} -c{args.connections} -d{args.duration}s against /l/{{code}}, "
        f"127.0.0.1, {cores} cores; share: its short-link listener; "
        f"{len(plan_names) * per_plan + 1:,} shares of {ADVOCATES} advocates made in {made:.1f} s"
    )
    for name in (mix, firsts, single):
        print(f"sent to {name}: {loads[name].describe()}")
    print(f"sent to {again}: what {firsts} was sent, again within the hour")
    print(f"sent to nginx: what {mix} is sent")
    print(header("milliseconds (per s: requests)"))
    for name, result in results.items():
        print(line(name, result))
    nginx_one, nginx_auto = results["nginx static 302 (1)"], results["nginx static 302 (auto)"]
    print(f"{single} / nginx (1 worker): {results[single]['rps'] / nginx_one['rps']:.1%}")
    for name in (mix, firsts, again):
        print(f"{name} / nginx (auto): {results[name]['rps'] / nginx_auto['rps']:.1%}")
    ok_rps = results[mix]["rps"] >= 0.25 * nginx_auto["rps"]
    ok_p99 = results[mix]["p99"] < 25.0
    print(f"target, realistic mix, >= 25% of nginx: {'met' if ok_rps else 'NOT met'}")
    print(f"target, realistic mix, p99 < 25 ms: {'met' if ok_p99 else 'NOT met'}")
    status = 0
    for name, check in checks.items():
        counted = check.outcomes["click"]
        found: Summary | None = results[name]["summary"]
        sent = found.n if found else 0
        planned = len(loads[name].requests)
        print(f"{name}: outcomes {check.mix()}")
        print(
            f"{name}: {sent:,} requests sent of {planned:,} listed"
            + (" (round the list again: later rounds are repeats)" if sent > planned else "")
        )
        print(
            f"{name}: non-3xx {int(results[name]['bad'])}, socket errors "
            f"{results[name]['socket_errors'] or 'none'}, clicks counted {counted:,}, "
            f"published to Kafka {check.published:,}, spooled to MongoDB on the way "
            f"{check.spooled:,}"
        )
        if check.published != counted:
            print(f"{name}: NOT every counted click was published")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
