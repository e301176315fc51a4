"""`make run`: Kafka, the MongoDB-wire server and every service's api and worker, with demo data,
then the web app over them (its development sign-in at http://127.0.0.1:8080/signin).
`make run RUN_ARGS=--sso` also starts Keycloak with the demo realm (deploy/local/keycloak),
and the demo tenant signs in there. `make run RUN_ARGS=--observability` also starts Prometheus,
scraping every process with the production alert rules, and Jaeger, receiving every
process's traces (deploy/local/observability.py).

Stays in the foreground; Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import kafka_access

from chassis.auth import issue_token
from chassis.settings import LOCAL_JWT_SECRET
from observability import Observability
from people.config import LOCAL_SCIM_TOKEN
from stack.servers import local_kafka_users
from web.config import DEMO_PEOPLE

REPO = Path(__file__).resolve().parents[2]
DEVSTACK = Path(__file__).resolve().parent / "devstack.py"
# The demo's own Kafka and database data, apart from the tests'.
DEMO_DATA = Path(os.environ.get("CHORUS_CACHE") or REPO / ".cache").expanduser().resolve()
DEMO_DATA /= "data/demo"
SERVICES = {"content": 8081, "share": 8082, "rewards": 8083, "metrics": 8084, "people": 8085}
WORKER_PORTS = {name: port + 1000 for name, port in SERVICES.items()}
# Each api's operations port (/readyz, /metrics, /docs); a worker's port is its own.
OPS_PORTS = {name: port - 1000 for name, port in SERVICES.items()}
LINKS_PORT = 8090  # the share api's short-link listener (SHARE_LINKS_PORT's default)
# The web app renders its pages from the services' apis, so it starts once they are ready.
WEB_PORT, WEB_OPS_PORT, WEB_WORKER_PORT = 8080, 7080, 9080
# What `npm ci --prefix services/web` installs; the web app serves htmx from there.
WEB_ASSETS = REPO / "services" / "web" / "node_modules"
TENANT = "demo"
# The web app's client in Keycloak's demo realm, and its people's password (local only).
KEYCLOAK_DEMO_PASSWORD = "chorus"
DEMO_CLIENT = {
    "tenant": TENANT,
    "client_id": "chorus-web",
    "client_secret": "chorus-web-local-secret",
}
PEOPLE = {
    "alice": ("admin", ["people", "leadership"]),
    "bob": ("curator", ["marketing"]),
    "carol": ("employee", ["sales"]),
    "dave": ("employee", ["engineering"]),
    "erin": ("employee", ["engineering"]),
}
# Their names, titles and locations, as the development sign-in shows them.
DEMO_BY_ID = {person.id: person for person in DEMO_PEOPLE}
CONTENT = [
    {
        "title": "We are hiring: Senior Platform Engineer (Berlin or remote)",
        "kind": "job",
        "url": "https://careers.example.com/jobs/platform-engineer",
        "summary": "Build the platform our 40 product teams ship on.",
        "suggested_texts": {
            "linkedin": "My team is hiring! Come build with us.",
            "x": "We're hiring",
        },
        "topics": ["engineering", "careers"],
    },
    {
        "title": "Our 2026 sustainability report",
        "kind": "article",
        "url": "https://www.example.com/sustainability-2026",
        "summary": "Net-zero operations two years early.",
        # Three wordings: colleagues are each offered the one used least.
        "suggested_texts": {
            "linkedin": "We reached net-zero operations two years early. Proud of this team.",
        },
        "text_variants": {
            "linkedin": [
                "Two years ahead of plan: our operations are now net-zero. The report shows how.",
                "What does net-zero look like in practice? Our 2026 sustainability report "
                "has the numbers.",
            ],
        },
        "topics": ["sustainability"],
    },
    {
        "title": "Meet us at KubeCon",
        "kind": "event",
        "url": "https://www.example.com/events/kubecon",
        "topics": ["events", "engineering"],
    },
    {"title": "Welcome to the advocacy program", "kind": "internal", "topics": ["program"]},
]


def token(name: str) -> str:
    role, groups = PEOPLE[name]
    roles = ["employee", role] if role != "employee" else ["employee"]
    return issue_token(
        LOCAL_JWT_SECRET, sub=name, tenant=TENANT, roles=roles, groups=groups, ttl_seconds=7 * 86400
    )


def web_assets_missing(env: dict[str, str]) -> str | None:
    """Why the web app could not serve its front-end libraries, or None."""
    assets = Path(env.get("WEB_ASSETS_DIR") or WEB_ASSETS)
    if (assets / "htmx.org").is_dir():
        return None
    return (
        f"{assets / 'htmx.org'} is missing: install the web app's front-end libraries "
        "with `npm ci --prefix services/web` (Node.js and npm needed), then run again"
    )


def web_env(env: dict[str, str]) -> dict[str, str]:
    """The web app's settings: the development sign-in, and the apis started here; with
    Keycloak running, its demo realm's client too."""
    sso = {"WEB_OIDC_CLIENTS": json.dumps([DEMO_CLIENT])} if env.get("KEYCLOAK_URL") else {}
    return {
        **env,
        "CHORUS_ENV": "local",
        **sso,
        **{
            f"WEB_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in SERVICES.items()
        },
    }


def sso_env(keycloak_url: str) -> dict[str, str]:
    """Every service trusts Keycloak's demo realm as tenant "demo"'s provider."""
    if not keycloak_url:
        return {}
    provider = {
        "tenant": TENANT,
        "name": "Demo SSO (Keycloak)",
        "issuer": f"{keycloak_url}/realms/demo",
        "roles_claim": "realm_access.roles",
    }
    return {"CHORUS_OIDC_PROVIDERS": json.dumps([provider])}


def scrape_targets() -> dict[tuple[str, str], int]:
    """Where each process serves /metrics: (service, role) -> its operations port."""
    targets = {("web", "api"): WEB_OPS_PORT, ("web", "worker"): WEB_WORKER_PORT}
    for name in SERVICES:
        targets[(name, "api")] = OPS_PORTS[name]
        targets[(name, "worker")] = WORKER_PORTS[name]
    return targets


def kafka_users(env: dict[str, str]) -> dict[str, str]:
    """Where the devstack's Kafka has a SASL listener, the ACLs of every service's user,
    created over the plain listener; the users (user -> password), or none."""
    if not env.get("KAFKA_SASL_BOOTSTRAP_SERVERS"):
        return {}
    asyncio.run(kafka_access.grant(env["KAFKA_BOOTSTRAP_SERVERS"]))
    return local_kafka_users()


def start_services(
    env: dict[str, str], log_dir: Path, names: list[str], users: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    """Each service's api and worker; with `users`, each signs in to Kafka as its own."""
    processes = []
    for name in names:
        own = env
        if users:
            sasl = env["KAFKA_SASL_BOOTSTRAP_SERVERS"]
            own = {**env, **kafka_access.sasl_environment(name, sasl, users)}
        for role in ("api", "worker"):
            log = (log_dir / f"{name}-{role}.log").open("ab")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", name, role],
                    env=own,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return processes


def wait_ready(
    processes: list[subprocess.Popen[bytes]], ports: list[int], timeout: float = 90.0
) -> None:
    """Wait for /readyz on each of `ports`, the processes' operations ports."""
    urls = [f"http://127.0.0.1:{port}/readyz" for port in ports]
    deadline = time.monotonic() + timeout
    pending = set(urls)
    while pending and time.monotonic() < deadline:
        exited = [" ".join(map(str, p.args[2:])) for p in processes if p.poll() is not None]
        if exited:
            raise RuntimeError(f"{', '.join(exited)} exited during start-up; see the logs")
        for url in sorted(pending):
            try:
                if httpx.get(url, timeout=3).status_code == 200:
                    pending.discard(url)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        raise RuntimeError(f"not ready in time: {', '.join(sorted(pending))}")


CATALOG = {
    "mug": {"name": "Chorus coffee mug", "price": 50, "stock": 100},
    "hoodie": {"name": "Team hoodie", "price": 300, "stock": 40},
    "charity": {"name": "A donation of 20 EUR to a charity you choose", "price": 200, "stock": 500},
}
GUIDELINES = {
    "title": "Sharing guidelines",
    "body": (
        "Share only what is public, and in your own words.\n"
        "Say that you work here: the suggested texts carry the disclosure hashtag.\n"
        "Be kind in comments, and leave questions about customers to the support team.\n"
        "Sharing is voluntary: you choose what to share, and you can leave at any time."
    ),
    "acknowledgement_required": True,
}


def load_program() -> int:
    """The rewards catalog and the sharing guidelines; returns the guidelines' version."""
    admin = {"Authorization": f"Bearer {token('alice')}"}
    rewards_url = f"http://127.0.0.1:{SERVICES['rewards']}/api/v1/catalog"
    for item_id, item in CATALOG.items():
        httpx.put(f"{rewards_url}/{item_id}", json=item, headers=admin, timeout=10)
    guidelines_url = f"http://127.0.0.1:{SERVICES['content']}/api/v1/guidelines"
    current = httpx.get(f"{guidelines_url}/current", headers=admin, timeout=10)
    if current.status_code == 200:
        return int(current.json()["version"])
    published = httpx.post(guidelines_url, json=GUIDELINES, headers=admin, timeout=10)
    published.raise_for_status()
    return int(published.json()["version"])


# Rewards employees suggested, who suggested each, who voted for it, and the program
# team's decision (the hoodie is in the catalog now; an extra day off is not for this year).
SUGGESTED_REWARDS = [
    (
        "carol",
        "A day of volunteering",
        "A paid day to help a cause the team picks.",
        ["dave", "erin", "bob", "alice"],
        None,
    ),
    (
        "dave",
        "Conference ticket",
        "One conference a year in our field, travel included.",
        ["erin", "carol"],
        None,
    ),
    ("bob", "Online course of your choice", "Up to 100 EUR on a course platform.", ["dave"], None),
    ("erin", "Lunch with the leadership team", "", [], None),
    ("dave", "Team hoodie", "", ["carol", "erin"], ("stocked", "hoodie")),
    ("carol", "An extra day off", "", ["dave"], ("declined", None)),
]


def load_reward_suggestions() -> None:
    """Suggested rewards with votes, two of them decided; again changes nothing."""
    url = f"http://127.0.0.1:{SERVICES['rewards']}/api/v1"
    admin = {"Authorization": f"Bearer {token('alice')}"}
    listed = httpx.get(f"{url}/reward-suggestions", headers=admin, timeout=10)
    listed.raise_for_status()
    known = {s["title"]: s for s in listed.json()["suggestions"]}
    for author, title, description, voters, decision in SUGGESTED_REWARDS:
        found = known.get(title)
        if found is None:
            body = {"title": title, **({"description": description} if description else {})}
            headers = {"Authorization": f"Bearer {token(author)}"}
            made = httpx.post(f"{url}/reward-suggestions", json=body, headers=headers, timeout=10)
            made.raise_for_status()
            found = made.json()
        suggestion = f"{url}/reward-suggestions/{found['suggestion_id']}"
        if found["status"] == "open":
            for voter in voters:
                headers = {"Authorization": f"Bearer {token(voter)}"}
                httpx.put(f"{suggestion}/vote", headers=headers, timeout=10).raise_for_status()
        if decision is not None:
            status, item_id = decision
            httpx.put(
                f"{url}/admin/reward-suggestions/{found['suggestion_id']}/status",
                json={"status": status, **({"item_id": item_id} if item_id else {})},
                headers=admin,
                timeout=10,
            ).raise_for_status()


# Two buddies: the program team paired Carol and Dave, both said yes; Dave sent Carol a
# draft of his own post, and she commented and reacted.
BUDDY_DRAFT = (
    "Three years on the platform team today. What I like most: we fix things for colleagues "
    "we have lunch with. Too much to post?"
)


def load_buddies() -> None:
    """Carol and Dave as buddies, with a draft that has her feedback; again changes nothing."""
    url = f"http://127.0.0.1:{SERVICES['share']}/api/v1/buddies"

    def as_(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(name)}"}

    mine = httpx.get(f"{url}/me", headers=as_("carol"), timeout=10)
    mine.raise_for_status()
    if mine.json()["pair"] is None:
        names = {"carol": "Carol Christensen", "dave": "Dave Dahl"}
        body = {"employee_ids": ["carol", "dave"], "names": names}
        paired = httpx.post(f"{url}/pairs", json=body, headers=as_("alice"), timeout=10)
        paired.raise_for_status()
        for name in ("carol", "dave"):
            accept = f"{url}/pairs/{paired.json()['id']}/accept"
            httpx.post(accept, json={}, headers=as_(name), timeout=10).raise_for_status()
    drafts = httpx.get(f"{url}/drafts", headers=as_("dave"), timeout=10)
    drafts.raise_for_status()
    if drafts.json()["mine"]:
        return
    body = {"network": "linkedin", "text": BUDDY_DRAFT}
    sent = httpx.post(f"{url}/drafts", json=body, headers=as_("dave"), timeout=10)
    sent.raise_for_status()
    draft = f"{url}/drafts/{sent.json()['id']}"
    comment = {"text": "Not too much at all. Maybe name one thing you fixed this year?"}
    carol = as_("carol")
    httpx.post(f"{draft}/comments", json=comment, headers=carol, timeout=10).raise_for_status()
    reaction = {"reaction": "heart"}
    httpx.put(f"{draft}/reaction", json=reaction, headers=carol, timeout=10).raise_for_status()


# The onboarding path, in English and Swedish; Carol finished it, Dave is two steps in.
ONBOARDING = [
    (
        {"en": "Why we do this", "sv": "Varför vi gör det här"},
        {
            "en": "People trust people more than brands. When you share what we do, your "
            "network hears it from someone they know.",
            "sv": "Människor litar mer på människor än på varumärken. När du delar det vi gör "
            "hör ditt nätverk det från någon de känner.",
        },
    ),
    (
        {"en": "What to share", "sv": "Vad du kan dela"},
        {
            "en": "Jobs on your team, events you go to, and news you find worth a minute. "
            "Skip anything you would not tell a friend about.",
            "sv": "Jobb i ditt team, evenemang du går på och nyheter du tycker är värda en "
            "minut. Hoppa över det du inte skulle berätta för en vän.",
        },
    ),
    (
        {"en": "How to write a personal post", "sv": "Så skriver du ett personligt inlägg"},
        {
            "en": "One sentence of your own beats a perfect company text: what you did, "
            "what you learned, who you worked with.",
            "sv": "En egen mening slår en perfekt företagstext: vad du gjorde, vad du lärde "
            "dig, vem du jobbade med.",
        },
    ),
    (
        {"en": "Your profile", "sv": "Din profil"},
        {
            "en": "A clear photo and a headline that says what you do make your posts "
            "easier to trust.",
            "sv": "Ett tydligt foto och en rubrik som säger vad du gör gör dina inlägg "
            "lättare att lita på.",
        },
    ),
    (
        {"en": "Am I bragging?", "sv": "Skryter jag?"},
        {
            "en": "Sharing what you know helps the people who read it. Credit your "
            "colleagues, and it reads as pride in the team, not in yourself.",
            "sv": "Att dela det du kan hjälper dem som läser. Nämn dina kolleger, så läses "
            "det som stolthet över teamet, inte över dig själv.",
        },
    ),
]
# Steps done per person (Carol all, Dave two), and each person's areas of expertise;
# Kubernetes and data science have people but no content.
ONBOARDING_DONE = {"carol": 5, "dave": 2}
EXPERTISE = {
    "carol": ["sustainability", "data science"],
    "dave": ["engineering", "kubernetes"],
    "erin": ["engineering", "careers"],
}


def load_coaching() -> None:
    """The onboarding path with one person through it and one on the way, and areas of
    expertise; again changes nothing."""
    url = f"http://127.0.0.1:{SERVICES['content']}/api/v1"
    curator = {"Authorization": f"Bearer {token('bob')}"}
    path = httpx.get(f"{url}/onboarding", headers=curator, timeout=10)
    path.raise_for_status()
    if path.json()["version"] == 0:
        steps = [{"titles": titles, "bodies": bodies} for titles, bodies in ONBOARDING]
        path = httpx.put(
            f"{url}/onboarding", json={"version": 0, "steps": steps}, headers=curator, timeout=10
        )
        path.raise_for_status()
    step_ids = [step["id"] for step in path.json()["steps"]]
    for name, done in ONBOARDING_DONE.items():
        headers = {"Authorization": f"Bearer {token(name)}"}
        for step_id in step_ids[:done]:
            httpx.post(
                f"{url}/onboarding/steps/{step_id}/completion", headers=headers, timeout=10
            ).raise_for_status()
    for name, areas in EXPERTISE.items():
        headers = {"Authorization": f"Bearer {token(name)}"}
        httpx.put(
            f"{url}/me/expertise", json={"areas": areas}, headers=headers, timeout=10
        ).raise_for_status()


# The demo program's history (a year of it): the company page's followers counted every
# week, the advocates' audiences growing, and when their posts' readers click, by hour.
AUDIENCES = {"carol": (480, 9), "dave": (900, 17), "erin": (300, 6)}  # start, growth a month
RHYTHM = {6: 3, 7: 14, 8: 9, 9: 3, 12: 4, 13: 2, 16: 3, 17: 7, 18: 11, 19: 6, 20: 8, 21: 4}


def history_events(now: datetime) -> list[Any]:
    """Audience sizes and clicks of the past, with ids of their own: loading them again
    counts nothing twice."""
    from zoneinfo import ZoneInfo

    from contracts import (
        AudienceMeasured,
        AudienceMeasuredData,
        EngagementObserved,
        EngagementObservedData,
    )

    events: list[Any] = []
    for name, (size, monthly) in AUDIENCES.items():
        for month in range(12, 0, -1):
            at = now - timedelta(days=30 * month)
            events.append(
                AudienceMeasured.create(
                    tenant_id=TENANT,
                    subject=name,
                    event_id=f"demo-audience-{name}-{month}",
                    data=AudienceMeasuredData(
                        measurement_id=f"demo-{name}-{month}",
                        employee_id=name,
                        network="linkedin",
                        audience_size=size + monthly * (12 - month),
                        measured_at=at,
                        source="connector",
                    ),
                )
            )
    oslo = ZoneInfo("Europe/Oslo")
    today = now.astimezone(oslo).date()
    for back in range(1, 8 * 7 + 1):
        day = today - timedelta(days=back)
        weekend = day.weekday() >= 5
        for hour, clicks in RHYTHM.items():
            count = (
                clicks // 3 if weekend else clicks + (4 if (day.weekday(), hour) == (1, 7) else 0)
            )
            for n in range(count):
                at = datetime(day.year, day.month, day.day, hour, 7 + n % 50, tzinfo=oslo)
                who = ("carol", "dave", "erin")[n % 3]
                share = f"demo-history-{who}-{day.isocalendar()[1]}"
                events.append(
                    EngagementObserved.create(
                        tenant_id=TENANT,
                        subject=share,
                        event_id=f"demo-click-{day.isoformat()}-{hour}-{n}",
                        data=EngagementObservedData(
                            engagement_id=f"demo-click-{day.isoformat()}-{hour}-{n}",
                            share_id=share,
                            content_id=None,
                            employee_id=who,
                            network="linkedin",
                            kind="click",
                            observed_at=at.astimezone(UTC),
                            source="redirect",
                            unique=n % 4 != 0,
                        ),
                    )
                )
    return events


async def _produce(bootstrap: str, events: list[Any]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(e.topic, e.to_json(), key=e.partition_key().encode())
            for e in events
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


def load_history(bootstrap: str) -> None:
    """The audience's time zone, a year of the company page's followers (+14 %), the
    advocates' audiences and eight weeks of clicks by hour."""
    admin = {"Authorization": f"Bearer {token('alice')}"}
    settings_url = f"http://127.0.0.1:{SERVICES['metrics']}/api/v1/settings"
    current = httpx.get(settings_url, headers=admin, timeout=10)
    current.raise_for_status()
    body = {**current.json(), "time_zone": "Europe/Oslo"}
    httpx.put(settings_url, json=body, headers=admin, timeout=10).raise_for_status()
    now = datetime.now(UTC)
    followers_url = f"http://127.0.0.1:{SERVICES['share']}/api/v1/company/followers"
    listed = httpx.get(followers_url, headers=admin, timeout=10)
    listed.raise_for_status()
    if not listed.json()["items"]:
        for week in range(52, -1, -1):
            followers = 12000 + 32 * (52 - week) + (15 if week % 4 == 1 else 0)
            if week == 0:
                followers = 13680
            measured = (now - timedelta(weeks=week)).isoformat()
            httpx.post(
                followers_url,
                json={"network": "linkedin", "followers": followers, "measured_at": measured},
                headers=admin,
                timeout=10,
            ).raise_for_status()
    events = history_events(now)
    # Applications through the job post: a win for the storyteller to tell.
    content_url = f"http://127.0.0.1:{SERVICES['content']}/api/v1/content"
    curator = {"Authorization": f"Bearer {token('bob')}"}
    items = httpx.get(content_url, headers=curator, timeout=10).json()["items"]
    job = next((i["id"] for i in items if i["kind"] == "job"), None)
    if job is not None:
        events += applications(job, now)
    asyncio.run(_produce(bootstrap, events))


def applications(job: str, now: datetime) -> list[Any]:
    """Four applications to the job post, through carol's and dave's shares."""
    from contracts import EngagementObserved, EngagementObservedData

    return [
        EngagementObserved.create(
            tenant_id=TENANT,
            subject=f"demo-application-{job}",
            event_id=f"demo-application-{job}-{n}",
            data=EngagementObservedData(
                engagement_id=f"demo-application-{job}-{n}",
                share_id=f"demo-application-{job}",
                content_id=job,
                employee_id=("carol", "dave")[n % 2],
                network="linkedin",
                kind="conversion",
                observed_at=now - timedelta(minutes=20 * (n + 1)),
                source="webhook",
                content_kind="job",
            ),
        )
        for n in range(4)
    ]


# Alice leads People; the leaders' group is hers, and she shared a post of her own.
LEADERS_GROUP = "leadership"
LEADER_POST = {
    "network": "linkedin",
    "url": "https://www.linkedin.com/posts/alice-andersson_hiring-teams-activity-7263",
    "title": "Five years of hiring here: what I got wrong, and what our teams taught me",
    "text": "I have hired for five years here. Here is what I got wrong at first, and what "
    "our teams taught me about finding people who stay.",
}


def load_leaders(version: int) -> None:
    """Name the leaders' group and have a leader share a post of her own, which every
    colleague then sees in the feed; again changes nothing."""
    url = f"http://127.0.0.1:{SERVICES['share']}/api/v1"
    alice = {"Authorization": f"Bearer {token('alice')}"}
    body = {"leaders_group": LEADERS_GROUP}
    httpx.put(f"{url}/settings/leaders", json=body, headers=alice, timeout=10).raise_for_status()
    acknowledgement = f"http://127.0.0.1:{SERVICES['content']}/api/v1/guidelines/{version}"
    httpx.post(f"{acknowledgement}/acknowledgements", headers=alice, timeout=10)
    httpx.post(f"{url}/advocates/me", json={"accept": True}, headers=alice, timeout=10)
    mine = httpx.get(f"{url}/shares", params={"employee_id": "alice"}, headers=alice, timeout=10)
    mine.raise_for_status()
    if not any(s["content_id"] is None and s["by_leader"] for s in mine.json()["items"]):
        posted = httpx.post(f"{url}/shares", json=LEADER_POST, headers=alice, timeout=10)
        posted.raise_for_status()


def load_directory() -> None:
    """The demo's people and their groups in the directory, as an identity provider would
    send them over SCIM (userName = employee id); again changes nothing."""
    url = f"http://127.0.0.1:{SERVICES['people']}/scim/v2"
    headers = {"Authorization": f"Bearer {LOCAL_SCIM_TOKEN}"}
    ids: dict[str, str] = {}
    for name in PEOPLE:
        found = httpx.get(
            f"{url}/Users", params={"filter": f'userName eq "{name}"'}, headers=headers, timeout=10
        ).json()["Resources"]
        if found:
            ids[name] = found[0]["id"]
            continue
        person = DEMO_BY_ID[name]
        body = {
            "userName": name,
            "displayName": person.name,
            "title": person.title,
            "active": True,
            "addresses": [{"type": "work", "locality": person.location, "primary": True}],
        }
        response = httpx.post(f"{url}/Users", json=body, headers=headers, timeout=10)
        response.raise_for_status()
        ids[name] = response.json()["id"]
    groups = sorted({group for _role, names in PEOPLE.values() for group in names})
    for group in groups:
        members = [{"value": ids[n]} for n, (_r, names) in PEOPLE.items() if group in names]
        found = httpx.get(
            f"{url}/Groups",
            params={"filter": f'displayName eq "{group}"'},
            headers=headers,
            timeout=10,
        ).json()["Resources"]
        if not found:
            body = {"displayName": group, "members": members}
            httpx.post(f"{url}/Groups", json=body, headers=headers, timeout=10).raise_for_status()


def load_demo() -> None:
    """Publish the demo content, have two employees share the job post, have them
    suggest rewards and vote, make two of them buddies, and have a leader share her own post."""
    version = load_program()
    load_reward_suggestions()
    load_coaching()
    load_buddies()
    load_leaders(version)
    content_url = f"http://127.0.0.1:{SERVICES['content']}/api/v1/content"
    curator = {"Authorization": f"Bearer {token('bob')}"}
    existing = httpx.get(content_url, headers=curator, timeout=10).json()["items"]
    titles = {item["title"] for item in existing}
    created = []
    for item in CONTENT:
        if item["title"] not in titles:
            response = httpx.post(content_url, json=item, headers=curator, timeout=10)
            response.raise_for_status()
            created.append(response.json()["id"])
    if not created:
        return
    share_url = f"http://127.0.0.1:{SERVICES['share']}/api/v1/shares"
    for name in ("carol", "dave"):
        headers = {"Authorization": f"Bearer {token(name)}"}
        # Sharing is opt-in: the employee joins the advocacy program first.
        advocates_url = f"http://127.0.0.1:{SERVICES['share']}/api/v1/advocates/me"
        acknowledgement = f"http://127.0.0.1:{SERVICES['content']}/api/v1/guidelines/{version}"
        httpx.post(f"{acknowledgement}/acknowledgements", headers=headers, timeout=10)
        httpx.post(advocates_url, json={"accept": True}, headers=headers, timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = {"content_id": created[0], "network": "linkedin"}
            response = httpx.post(share_url, json=body, headers=headers, timeout=10)
            if response.status_code == 201:
                break
            time.sleep(0.5)  # share has not seen ContentPublished yet


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Infrastructure:
    """Kafka and the MongoDB-wire server through the devstack CLI (which reuses running ones)."""

    def __init__(
        self,
        kafka_port: int,
        controller_port: int,
        mongo_port: int,
        fresh: bool = False,
        keycloak: bool = False,
    ) -> None:
        self.args = [
            f"--kafka-port={kafka_port}",
            f"--kafka-controller-port={controller_port}",
            f"--mongo-port={mongo_port}",
        ]
        self.fresh = fresh
        self.keycloak = keycloak

    def _devstack(self, command: str, capture: bool = False) -> str:
        done = subprocess.run(
            [sys.executable, str(DEVSTACK), *self.args, *command.split()],
            check=False,
            text=True,
            stdout=subprocess.PIPE if capture else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"devstack {command} failed (exit {done.returncode})")
        return done.stdout or ""

    def start(self) -> None:
        # The demo keeps data of its own: the tests' leftovers would be replayed for minutes.
        options = f"--data-root={DEMO_DATA}" + (" --fresh" if self.fresh else "")
        self._devstack(f"start {options}" + (" --keycloak" if self.keycloak else ""))

    def env(self) -> dict[str, str]:
        pairs = (
            shlex.split(line)[-1].split("=", 1) for line in self._devstack("env", True).splitlines()
        )
        return {name: value for name, value in pairs}

    def stop(self) -> None:
        # The demo's own servers only: not the tests' ones that `start` refused to use.
        self._devstack(f"stop --data-root={DEMO_DATA}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--kafka-controller-port", type=int, default=9093)
    parser.add_argument("--mongo-port", type=int, default=27017)
    parser.add_argument(
        "--fresh",
        action="store_true",
        help=f"start from an empty demo (its Kafka and database data are in {DEMO_DATA})",
    )
    parser.add_argument(
        "--sso",
        action="store_true",
        help="also start Keycloak, the demo tenant's identity provider (about 25 s more)",
    )
    parser.add_argument(
        "--observability",
        action="store_true",
        help="also start Prometheus, scraping every process with the production alert rules, "
        "and Jaeger, receiving their traces (built with Go on first use: minutes)",
    )
    args = parser.parse_args()
    infra = Infrastructure(
        args.kafka_port,
        args.kafka_controller_port,
        args.mongo_port,
        fresh=args.fresh,
        keycloak=args.sso,
    )
    processes: list[subprocess.Popen[bytes]] = []
    observability: Observability | None = None

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C is asked for, not inherited: a shell that starts this in the background
    # hands it SIGINT ignored, and Python then leaves it so.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    missing = web_assets_missing(dict(os.environ))
    if missing:
        print(f"make run: {missing}", file=sys.stderr)
        return 1
    try:
        infra.start()
        env = {**os.environ, **infra.env(), "CHORUS_HOST": "127.0.0.1"}
        env.update(sso_env(env.get("KEYCLOAK_URL", "") if args.sso else ""))
        if not args.sso:
            env.pop("KEYCLOAK_URL", None)
        if args.observability:
            # Before the services: their first requests are traced and scraped too.
            observability = Observability(DEMO_DATA, scrape_targets())
            env.update(observability.start(fresh=args.fresh))
        log_dir = Path(os.environ.get("CHORUS_CACHE", REPO / ".cache")) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        signed_in = kafka_users(env)
        processes = start_services(env, log_dir, list(SERVICES), signed_in)
        wait_ready(processes, [*OPS_PORTS.values(), *WORKER_PORTS.values()])
        processes += start_services(web_env(env), log_dir, ["web"], signed_in)
        load_demo()
        load_directory()
        load_history(env["KAFKA_BOOTSTRAP_SERVERS"])
        wait_ready(processes, [WEB_OPS_PORT, WEB_WORKER_PORT])
        print_banner(log_dir, env, observability)
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        print(f"a service exited; stopping everything (logs in {log_dir})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    except Exception as exc:  # one clear line, then clean up
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop(processes)
        try:
            if observability is not None:
                observability.stop()
        finally:
            infra.stop()


def _docs(name: str) -> str:
    return f"http://127.0.0.1:{OPS_PORTS[name]}/docs"


def print_banner(log_dir: Path, env: dict[str, str], observability: Observability | None) -> None:
    print("\nChorus is running (tenant 'demo'). Ctrl-C stops everything.\n")
    print(f"  Web app  http://127.0.0.1:{WEB_PORT}/")
    print(f"  Sign in  http://127.0.0.1:{WEB_PORT}/signin   (development sign-in: pick a person)")
    if env.get("KEYCLOAK_URL"):
        print(
            f"  SSO      {env['KEYCLOAK_URL']}/realms/demo   (Continue with Demo SSO: alice, bob, "
            f"carol, dave or erin, password {KEYCLOAK_DEMO_PASSWORD})"
        )
    else:
        print("  SSO      make run RUN_ARGS=--sso   (sign in with Keycloak's demo realm)")
    if observability is not None:
        print(
            f"  Metrics  {observability.prometheus.url}/   (Prometheus: every process, "
            "the production alert rules)"
        )
        # Jaeger's web UI is built with npm for its releases; the Go module holds a placeholder.
        print(
            f"  Traces   {observability.jaeger.url}/   (Jaeger: "
            "/api/traces?service=chorus-share; the UI is a placeholder)"
        )
    else:
        print("  Metrics  make run RUN_ARGS=--observability   (Prometheus and Jaeger)")
    print()
    # The apis' documents and every process's /readyz and /metrics are on operations ports.
    print(f"  {'web':<8} ops    http://127.0.0.1:{WEB_OPS_PORT}/readyz")
    print(f"  {'web':<8} worker http://127.0.0.1:{WEB_WORKER_PORT}/readyz")
    for name, port in SERVICES.items():
        print(f"  {name:<8} api    http://127.0.0.1:{port}/api/v1   docs: {_docs(name)}")
        print(f"  {name:<8} worker http://127.0.0.1:{WORKER_PORTS[name]}/readyz")
    print(f"  {'links':<8} short  http://127.0.0.1:{LINKS_PORT}/l/<code>")
    print(
        f"  {'SCIM':<8} base   http://127.0.0.1:{SERVICES['people']}/scim/v2   "
        f"(tenant 'demo', bearer token {LOCAL_SCIM_TOKEN})"
    )
    print(f"\n  Kafka    {env['KAFKA_BOOTSTRAP_SERVERS']}    MongoDB  {env['MONGODB_URL']}")
    if env.get("KAFKA_SASL_BOOTSTRAP_SERVERS"):
        print(
            f"  Kafka    {env['KAFKA_SASL_BOOTSTRAP_SERVERS']}    (SASL: each service signs in "
            "as chorus-<service>, with only its ACLs)"
        )
    print(f"  Logs     {log_dir}")
    print(f"  Data     {DEMO_DATA}   (make run RUN_ARGS=--fresh starts from an empty demo)\n")
    print("Development tokens (send as 'Authorization: Bearer <token>'):")
    for name, (role, _groups) in PEOPLE.items():
        print(f"  {name:<6} {role:<9} {token(name)}")
    print(
        f"\nTry: curl -H 'Authorization: Bearer {token('carol')}' "
        f"http://127.0.0.1:{SERVICES['rewards']}/api/v1/me/points\n",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
