"""The tenant-isolation matrix: every route of every api, read from its OpenAPI document, is
called with tenant B's tokens on tenant A's ids. A route that names an id of A answers 403 or
404 (never 2xx, never 5xx); every list, feed, leaderboard, dashboard and export B can read
holds nothing of A, found by a marker A put in its titles, names, texts and ids.

A route added to an api is exercised from its document: a GET as is, a write by the body
in `writes`. A write with a body that `writes` does not know fails the matrix until it gets
one or a reason in NOT_APPLICABLE. The web app's pages are taken from its routers and
opened by B's people, signed in. Around each half, A's objects as A sees them must not
change.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support import ServiceProcess, eventually, ref, token, web_people

pytestmark = pytest.mark.long

APIS = ("content", "share", "rewards", "metrics", "people")
# In every title, name and text of A's, so a leak shows in any body B reads.
MARK = ref("amark")
# In the ids A picks itself (catalog items, goals, challenges): B may pick the same for
# its own, and a refusal may name the id B sent, so these are not looked for in bodies.
CHOSEN = ref("aid")
SCIM_JSON = "application/scim+json"
SCIM_TOKEN_BYTES = 40

# Routes that name no tenant's data at all.
NOT_APPLICABLE = {
    ("content", "GET", "/healthz"): "liveness, no tenant data",
    ("share", "GET", "/healthz"): "liveness, no tenant data",
    ("rewards", "GET", "/healthz"): "liveness, no tenant data",
    ("metrics", "GET", "/healthz"): "liveness, no tenant data",
    ("people", "GET", "/healthz"): "liveness, no tenant data",
}

# Path parameters that are no tenant's id: B may use them as A does, so the route is read
# like a list (never 5xx, nothing of A in it).
SHARED_PATH_VALUES = {
    "network": "linkedin",
    "dimension": "content",
    "table": "shares",
    "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User",
    "type_id": "User",
    # A guideline's version counts each tenant's own guidelines: B's version 1 is B's.
    "version": "1",
}

# Routes on A's ids that may answer otherwise than 403/404, and why.
EXPECTED = {
    # An upsert by a name the caller picks: B gets a catalog item or goal of its own under
    # the same name (A's is checked untouched at the end).
    ("rewards", "PUT", "/api/v1/catalog/{item_id}"): {200, 201, 403},
    ("metrics", "PUT", "/api/v1/goals/{goal_id}"): {200, 201, 403},
    # B's own onboarding path has no step of that id: the one refusal is 404, or 409 when
    # B's path is empty.
    ("content", "POST", "/api/v1/onboarding/steps/{step_id}/completion"): {403, 404, 409},
    # B's own goal of that name, made by the upsert above (A's is checked untouched).
    ("metrics", "DELETE", "/api/v1/goals/{goal_id}"): {204, 403, 404},
}


def _now(days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@dataclass
class Seeded:
    """Tenant A's ids, by the path parameter that names them."""

    tenant: str
    ids: dict[str, str] = field(default_factory=dict)

    def made_by_the_platform(self) -> list[str]:
        """A's ids the services made, which no body of B's may hold."""
        return [v for v in self.ids.values() if CHOSEN not in v]


def writes(a: Seeded) -> dict[tuple[str, str, str], Any]:
    """A valid body for each write with one; where a body can name an id, it names A's."""
    ids = a.ids
    return {
        ("content", "POST", "/api/v1/content"): {
            "title": "B's own",
            "kind": "article",
            "url": "https://b.example.com/news",
        },
        ("content", "PATCH", "/api/v1/content/{content_id}"): {"title": "taken by B"},
        ("content", "POST", "/api/v1/content/{content_id}/transitions"): {"action": "archive"},
        ("content", "POST", "/api/v1/previews"): {"url": "https://example.com/"},
        ("content", "POST", "/api/v1/guidelines"): {"title": "B's rules", "body": "Be kind"},
        ("content", "PUT", "/api/v1/settings"): {"disclosure_hashtag": "#b"},
        ("content", "PUT", "/api/v1/onboarding"): {"version": 0, "steps": []},
        ("content", "PUT", "/api/v1/me/expertise"): {"areas": []},
        ("share", "POST", "/api/v1/advocates/me"): {"accept": True},
        ("share", "PUT", "/api/v1/advocates/me/networks/{network}"): {"audience_size": 10},
        ("share", "POST", "/api/v1/advocates/me/opt-out"): {"erase": False},
        # Sharing A's content or A's buddy draft.
        ("share", "POST", "/api/v1/shares"): {"content_id": ids["content_id"], "network": "x"},
        ("share", "PUT", "/api/v1/settings/sharing"): {"daily_share_cap": 10},
        ("share", "PUT", "/api/v1/settings/leaders"): {"leaders_group": None},
        ("share", "PUT", "/api/v1/settings/link-domains"): {"domains": []},
        ("share", "PUT", "/api/v1/settings/retention"): {"detail_retention_days": 400},
        ("share", "POST", "/api/v1/settings/connectors"): {"name": "B's connector"},
        ("share", "POST", "/api/v1/engagements"): {
            "id": ref("eng"),
            "kind": "reaction",
            "share_id": ids["share_id"],
            "observed_at": _now(),
        },
        ("share", "POST", "/api/v1/company/followers"): {"network": "linkedin", "followers": 1},
        ("share", "POST", "/api/v1/buddies/me/request"): {},
        ("share", "PUT", "/api/v1/buddies/me/settings"): {},
        # B's Ana and Ben, who have a pair already.
        ("share", "POST", "/api/v1/buddies/pairs"): {"employee_ids": ["ana", "ben"]},
        ("share", "POST", "/api/v1/buddies/pairs/{pair_id}/accept"): {},
        ("share", "POST", "/api/v1/buddies/drafts"): {"network": "linkedin", "text": "hi"},
        ("share", "POST", "/api/v1/buddies/drafts/{draft_id}/comments"): {"text": "B was here"},
        ("share", "PUT", "/api/v1/buddies/drafts/{draft_id}/reaction"): {"reaction": None},
        # Cheering A's share.
        ("share", "POST", "/api/v1/buddies/cheers"): {"share_id": ids["share_id"]},
        ("rewards", "PUT", "/api/v1/me/leaderboard-visibility"): {"hidden": False},
        ("rewards", "POST", "/api/v1/rules"): {"points": {"share": 10}},
        ("rewards", "POST", "/api/v1/rules/simulate"): {"rules": {"points": {"share": 10}}},
        ("rewards", "PUT", "/api/v1/settings/leaderboards"): {},
        # A's challenge id in B is a challenge of B's own.
        ("rewards", "POST", "/api/v1/challenges"): {
            "challenge_id": ref("bch"),
            "name": "B's",
            "action": "share",
            "target": 1,
            "starts_at": _now(),
            "ends_at": _now(30),
        },
        ("rewards", "POST", "/api/v1/awards/{award_id}/clawback"): {"reason": "B takes it back"},
        ("rewards", "PUT", "/api/v1/catalog/{item_id}"): {
            "name": "B's own",
            "price": 1,
            "stock": 1,
        },
        # Redeeming A's catalog item.
        ("rewards", "POST", "/api/v1/redemptions"): {"item_id": ids["sticker_id"]},
        ("rewards", "POST", "/api/v1/reward-suggestions"): {"title": "B's wish"},
        ("rewards", "PUT", "/api/v1/admin/reward-suggestions/{suggestion_id}/status"): {
            "status": "declined"
        },
        ("metrics", "PUT", "/api/v1/settings"): {},
        ("metrics", "POST", "/api/v1/wins/{win_id}/tell"): {"text": "B's story"},
        ("metrics", "PUT", "/api/v1/goals/{goal_id}"): {
            "name": "B's goal",
            "metric": "shares",
            "target": 1,
            "start": str(datetime.now(UTC).date()),
            "end": str((datetime.now(UTC) + timedelta(days=30)).date()),
        },
        ("people", "POST", "/scim/v2/Users"): _scim_user("b-user"),
        ("people", "PUT", "/scim/v2/Users/{user_id}"): _scim_user(ids["user_id"]),
        ("people", "PATCH", "/scim/v2/Users/{user_id}"): _scim_patch(),
        ("people", "POST", "/scim/v2/Groups"): {"displayName": ref("b-group"), "members": []},
        ("people", "PUT", "/scim/v2/Groups/{group_id}"): {"displayName": "B's", "members": []},
        ("people", "PATCH", "/scim/v2/Groups/{group_id}"): _scim_patch(),
    }


# The bodies above that name an id of A's, and how B's call is refused.
NAMES_A = {
    ("share", "POST", "/api/v1/shares"): {403, 404},
    # B's Ana has a buddy (B's Ben): A's share is "not a share of your buddy" (422).
    ("share", "POST", "/api/v1/buddies/cheers"): {403, 422},
    ("rewards", "POST", "/api/v1/redemptions"): {403, 404},
    # Signed by B's connector: A's share is not found in B (404), or B's caller is refused
    # before the signature is read.
    ("share", "POST", "/api/v1/engagements"): {401, 403, 404},
}

# Query parameters a list needs.
QUERIES = {
    ("metrics", "GET", "/api/v1/export/{table}.csv"): {
        "start": str((datetime.now(UTC) - timedelta(days=2)).date()),
        "end": str((datetime.now(UTC) + timedelta(days=1)).date()),
    },
}

# Lists in which A's own people find A's marker (as who): the proof that the marker check
# can see a leak at all.
PERIOD = "start={start}&end={end}".format(
    **QUERIES[("metrics", "GET", "/api/v1/export/{table}.csv")]
)
A_SEES_ITSELF = {
    ("content", "/api/v1/content", "curator"),
    ("content", "/api/v1/feed", "ana"),
    ("content", "/api/v1/guidelines", "admin"),
    ("share", "/api/v1/shares", "ana"),
    ("share", "/api/v1/buddies/pairs", "admin"),
    ("share", "/api/v1/buddies/drafts", "ana"),
    ("share", "/api/v1/settings/connectors", "admin"),
    ("share", "/api/v1/settings/link-domains", "admin"),
    ("share", "/api/v1/me/export", "ana"),
    ("rewards", "/api/v1/catalog", "ana"),
    ("rewards", "/api/v1/me/challenges", "ana"),
    ("rewards", "/api/v1/reward-suggestions", "ana"),
    ("rewards", "/api/v1/me/export", "ana"),
    ("metrics", "/api/v1/goals", "curator"),
    ("metrics", "/api/v1/dashboard", "curator"),
    ("metrics", f"/api/v1/export/content.csv?{PERIOD}", "curator"),
    ("people", "/scim/v2/Users", "scim"),
    ("people", "/scim/v2/Groups", "scim"),
    ("people", "/api/v1/me/export", "ana"),
}


def _scim_user(user_name: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"formatted": f"Person {user_name}"},
        "active": True,
    }


def _scim_patch() -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }


@pytest.fixture(scope="module")
def tenants() -> tuple[str, str]:
    return ref("iso-a"), ref("iso-b")


@pytest.fixture(scope="module")
def scim_tokens() -> dict[str, str]:
    return {"a": ref("scim-a-") + "a" * SCIM_TOKEN_BYTES, "b": ref("scim-b-") + "b" * 40}


@pytest.fixture(scope="module")
def people_api(
    tenants: tuple[str, str], scim_tokens: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A people api whose SCIM tokens name both tenants (the platform's knows one)."""
    a, b = tenants
    api = ServiceProcess(
        "people",
        "api",
        env={
            "PEOPLE_DATABASE": ref("chorus_people_iso_"),
            "PEOPLE_SCIM_TOKENS": json.dumps({a: scim_tokens["a"], b: scim_tokens["b"]}),
        },
    ).start(tmp_path_factory.mktemp("people-iso"))
    try:
        api.wait_healthy()
        yield api
    finally:
        api.stop()


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201)), response.text
    body: dict[str, Any] = response.json()
    return body


async def _seed(
    http: httpx.AsyncClient, urls: dict[str, str], tenant: str, scim: dict[str, str]
) -> Seeded:
    """Tenant A with one of every kind an id in a path can name."""
    a = Seeded(tenant)
    admin = token(tenant, "admin", roles=("employee", "admin"))
    curator = token(tenant, "curator", roles=("employee", "curator"))
    ana = token(tenant, "ana")
    ben = token(tenant, "ben")
    content, share, rewards, metrics = (urls[s] for s in APIS[:4])

    item = _ok(
        await http.post(
            f"{content}/api/v1/content",
            headers=curator,
            json={
                "title": f"A's news {MARK}",
                "kind": "article",
                "url": f"https://a.example.com/{MARK}",
                "suggested_texts": {"linkedin": f"Read this {MARK}"},
            },
        )
    )
    a.ids["content_id"] = item["id"]
    guideline = _ok(
        await http.post(
            f"{content}/api/v1/guidelines",
            headers=admin,
            json={"title": f"A's rules {MARK}", "body": f"Be kind {MARK}"},
        )
    )
    assert guideline["version"] == 1
    path = _ok(
        await http.put(
            f"{content}/api/v1/onboarding",
            headers=admin,
            json={"version": 0, "steps": [{"titles": {"en": f"Why {MARK}"}}]},
        )
    )
    a.ids["step_id"] = path["steps"][0]["id"]

    for person in (ana, ben):
        _ok(await http.post(f"{share}/api/v1/advocates/me", headers=person, json={"accept": True}))

    async def share_it() -> httpx.Response:
        return await http.post(
            f"{share}/api/v1/shares",
            headers=ana,
            json={"content_id": a.ids["content_id"], "network": "linkedin"},
        )

    shared = (await eventually(share_it, lambda r: r.status_code == 201)).json()
    a.ids["share_id"] = shared["id"]
    a.ids["short_code"] = shared["short_code"]
    connector = _ok(
        await http.post(
            f"{share}/api/v1/settings/connectors", headers=admin, json={"name": f"A {MARK}"}
        )
    )
    a.ids["connector_id"] = connector["id"]
    _ok(
        await http.put(
            f"{share}/api/v1/settings/link-domains",
            headers=admin,
            json={"domains": [f"{MARK}.example.com"]},
        )
    )
    pair = _ok(
        await http.post(
            f"{share}/api/v1/buddies/pairs",
            headers=admin,
            json={"employee_ids": ["ana", "ben"], "names": {"ana": f"Ana {MARK}", "ben": "Ben"}},
        )
    )
    a.ids["pair_id"] = pair["id"]
    for person in (ana, ben):
        _ok(
            await http.post(
                f"{share}/api/v1/buddies/pairs/{pair['id']}/accept", headers=person, json={}
            )
        )
    draft = _ok(
        await http.post(
            f"{share}/api/v1/buddies/drafts",
            headers=ana,
            json={"network": "linkedin", "text": f"Draft {MARK}"},
        )
    )
    a.ids["draft_id"] = draft["id"]

    a.ids["challenge_id"] = f"{CHOSEN}-challenge"
    _ok(
        await http.post(
            f"{rewards}/api/v1/challenges",
            headers=admin,
            json={
                "challenge_id": a.ids["challenge_id"],
                "name": f"A's challenge {MARK}",
                "action": "share",
                "target": 3,
                "starts_at": _now(-1),
                "ends_at": _now(30),
            },
        )
    )
    a.ids["item_id"] = f"{CHOSEN}-item"
    _ok(
        await http.put(
            f"{rewards}/api/v1/catalog/{a.ids['item_id']}",
            headers=admin,
            json={"name": f"A's mug {MARK}", "price": 1000, "stock": 5},
        )
    )
    suggestion = _ok(
        await http.post(
            f"{rewards}/api/v1/reward-suggestions", headers=ana, json={"title": f"Wish {MARK}"}
        )
    )
    a.ids["suggestion_id"] = suggestion["suggestion_id"]

    # The share reaches rewards through Kafka: its award is A's, and so is Ana's balance.
    async def points() -> httpx.Response:
        return await http.get(f"{rewards}/api/v1/me/points", headers=ana)

    mine = await eventually(points, lambda r: r.status_code == 200 and r.json()["recent"])
    a.ids["award_id"] = mine.json()["recent"][0]["award_id"]
    # A sticker Ana's points buy: a redemption of A's.
    sticker = f"{CHOSEN}-sticker"
    _ok(
        await http.put(
            f"{rewards}/api/v1/catalog/{sticker}",
            headers=admin,
            json={"name": f"A's sticker {MARK}", "price": 1, "stock": 5},
        )
    )
    redeemed = _ok(
        await http.post(f"{rewards}/api/v1/redemptions", headers=ana, json={"item_id": sticker})
    )
    a.ids["redemption_id"] = redeemed["redemption_id"]
    a.ids["sticker_id"] = sticker

    a.ids["goal_id"] = f"{CHOSEN}-goal"
    _ok(
        await http.put(
            f"{metrics}/api/v1/goals/{a.ids['goal_id']}",
            headers=curator,
            json={
                "name": f"A's goal {MARK}",
                "metric": "shares",
                "target": 10,
                "start": str(datetime.now(UTC).date()),
                "end": str((datetime.now(UTC) + timedelta(days=30)).date()),
            },
        )
    )

    # The share reaches metrics through Kafka too.
    async def summary() -> httpx.Response:
        return await http.get(f"{metrics}/api/v1/summary", headers=admin)

    await eventually(
        summary, lambda r: r.status_code == 200 and r.json()["figures"].get("shares") == 1
    )
    # Wins are drafted from milestones A has not reached: an id of A's shape stands in.
    a.ids["win_id"] = f"{CHOSEN}-win"

    people = urls["people"]
    headers = {"Authorization": f"Bearer {scim['a']}", "Content-Type": SCIM_JSON}
    user = _ok(
        await http.post(f"{people}/scim/v2/Users", headers=headers, json=_scim_user(f"ana-{MARK}")),
        201,
    )
    a.ids["user_id"] = user["id"]
    group = _ok(
        await http.post(
            f"{people}/scim/v2/Groups",
            headers=headers,
            json={"displayName": f"team-{MARK}", "members": [{"value": user["id"]}]},
        ),
        201,
    )
    a.ids["group_id"] = group["id"]
    # A's Ana in A's directory: her own record is A's, and B's Ana is another person.
    _ok(
        await http.post(
            f"{people}/scim/v2/Users",
            headers=headers,
            json={**_scim_user("ana"), "title": f"Advocate {MARK}"},
        ),
        201,
    )
    return a


@dataclass
class Finding:
    route: tuple[str, str, str]
    caller: str
    status: int
    why: str
    body: str

    def __str__(self) -> str:
        service, method, path = self.route
        said = self.body[:300]
        return f"{service} {method} {path} as {self.caller}: {self.status} {self.why}: {said}"


@dataclass
class Call:
    """One route of the matrix, with A's ids (or shared values) in its path."""

    route: tuple[str, str, str]
    url: str
    names_a: bool  # its path names one of A's ids
    body: Any = None


class Matrix:
    """Tenant B's callers against the routes, collecting what went wrong."""

    def __init__(
        self, http: httpx.AsyncClient, a: Seeded, b_tenant: str, scim_b: str, connector: Any
    ) -> None:
        self.http = http
        self.a = a
        self.b_tenant = b_tenant
        self.connector = connector
        self.callers = {
            "admin": token(b_tenant, "b-admin", roles=("employee", "admin")),
            "curator": token(b_tenant, "b-curator", roles=("employee", "curator")),
            "employee": token(b_tenant, "ana"),
        }
        self.scim_callers = {
            "scim": {"Authorization": f"Bearer {scim_b}", "Content-Type": SCIM_JSON},
            # A person's token is no SCIM client's.
            "admin-jwt": {**self.callers["admin"], "Content-Type": SCIM_JSON},
        }
        self.findings: list[Finding] = []

    def callers_of(self, service: str, path: str) -> dict[str, dict[str, str]]:
        # People's SCIM routes are its identity providers'; its /api/ routes are a person's.
        scim = service == "people" and not path.startswith("/api/")
        return self.scim_callers if scim else self.callers

    def note(self, call: Call, caller: str, response: httpx.Response, why: str) -> None:
        self.findings.append(Finding(call.route, caller, response.status_code, why, response.text))

    async def write(self, call: Call) -> None:
        """A call that names A's ids in its path or body: refused, never 2xx or 5xx."""
        service = call.route[0]
        for caller, headers in self.callers_of(service, call.route[2]).items():
            sent = {**headers}
            raw = None if call.body is None else json.dumps(call.body).encode()
            if raw is not None and service != "people":
                sent["Content-Type"] = "application/json"
            if call.route == ("share", "POST", "/api/v1/engagements"):
                sent |= _signed(self.b_tenant, self.connector, raw or b"")
            response = await self.http.request(call.route[1], call.url, headers=sent, content=raw)
            status = response.status_code
            allowed = EXPECTED.get(call.route, {403, 404})
            if service == "people" and caller == "admin-jwt":
                allowed = {401}
            elif call.route in NAMES_A:
                allowed = NAMES_A[call.route]
            if status >= 500:
                self.note(call, caller, response, "5xx")
            elif (call.names_a or call.route in NAMES_A) and status not in allowed:
                self.note(call, caller, response, f"not in {sorted(allowed)}")
            # A refusal may name the id B sent, never A's titles, names or texts.
            if MARK in response.text:
                self.note(call, caller, response, "shows A")

    async def read(self, call: Call, query: dict[str, str]) -> None:
        """A list, feed, export or figure as B: never 5xx, nothing of A in it."""
        leaks = [MARK, *self.a.made_by_the_platform()]
        for caller, headers in self.callers_of(call.route[0], call.route[2]).items():
            response = await self.http.get(call.url, headers=headers, params=query)
            if response.status_code >= 500:
                self.note(call, caller, response, "5xx")
            if leaked := [m for m in leaks if m in response.text]:
                self.note(call, caller, response, f"shows {leaked}")


def _calls(
    service: str, base: str, document: dict[str, Any], a: Seeded, bodies: dict[Any, Any]
) -> tuple[list[Call], list[str]]:
    """Every route of one api's document as calls, and the routes the matrix cannot make."""
    schemas = document.get("components", {}).get("schemas", {})
    calls: list[Call] = []
    uncovered: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = (service, method.upper(), path)
            if route in NOT_APPLICABLE:
                continue
            params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
            names_a = [p["name"] for p in params if p["name"] not in SHARED_PATH_VALUES]
            missing = [name for name in names_a if name not in a.ids]
            # A write whose document takes a body needs one in writes().
            if missing or ("requestBody" in operation and route not in bodies):
                why = f"no id of A for {missing}" if missing else "no body in writes()"
                uncovered.append(f"{service} {method.upper()} {path}: {why}")
                continue
            # A shared value with an enum (a dimension, an export's table) is tried in full.
            choices: list[dict[str, str]] = [{}]
            for param in params:
                name = param["name"]
                if name in names_a:
                    values = [a.ids[name]]
                else:
                    schema = param.get("schema", {})
                    if "$ref" in schema:
                        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
                    values = [str(v) for v in schema.get("enum", [SHARED_PATH_VALUES[name]])]
                choices = [c | {name: v} for c in choices for v in values]
            for choice in choices:
                url = base + path.format(**choice)
                calls.append(Call(route, url, bool(names_a), bodies.get(route)))
    return calls, uncovered


@pytest.fixture(scope="module")
def urls(platform: Any, people_api: ServiceProcess) -> dict[str, str]:
    return {s: platform.url(s) for s in APIS[:4]} | {"people": people_api.url}


@pytest.fixture(scope="module")
async def tenant_a(
    urls: dict[str, str], tenants: tuple[str, str], scim_tokens: dict[str, str]
) -> Seeded:
    async with httpx.AsyncClient(timeout=30) as http:
        return await _seed(http, urls, tenants[0], scim_tokens)


async def test_tenant_b_reaches_nothing_of_tenant_a_through_the_apis(
    platform: Any,
    people_api: ServiceProcess,
    urls: dict[str, str],
    tenant_a: Seeded,
    tenants: tuple[str, str],
    scim_tokens: dict[str, str],
) -> None:
    a_tenant, b_tenant = tenants
    a = tenant_a
    ops = {s: platform.processes[(s, "api")].ops_url for s in APIS[:4]}
    ops["people"] = people_api.ops_url
    async with httpx.AsyncClient(timeout=30) as http:
        b_admin = token(b_tenant, "b-admin", roles=("employee", "admin"))
        # B's connector signs B's engagement report on A's share.
        connector = _ok(
            await http.post(
                f"{urls['share']}/api/v1/settings/connectors", headers=b_admin, json={"name": "B"}
            )
        )
        # Each of B's callers has a buddy in B, so a cheer of A's share reaches the lookup
        # of the share.
        for pair in (("ana", "ben"), ("b-admin", "b-curator")):
            await _pair(http, urls["share"], b_tenant, pair)
        matrix = Matrix(http, a, b_tenant, scim_tokens["b"], connector)
        before = await _view_of_a(http, urls, a, scim_tokens["a"])

        bodies = writes(a)
        calls: list[Call] = []
        uncovered: list[str] = []
        for service in APIS:
            document = (await http.get(f"{ops[service]}/openapi.json")).json()
            made, missed = _calls(service, urls[service], document, a, bodies)
            calls += made
            uncovered += missed
        assert not uncovered, "routes the matrix does not exercise:\n" + "\n".join(uncovered)

        reads = [c for c in calls if c.route[1] == "GET" and not c.names_a]
        # B's callers leave (and erase themselves) last: until then they have a buddy, a
        # balance and a consent, so a refusal is about A's id, not about them.
        leaving = ("/erasure", "/opt-out")
        for call in sorted(calls, key=lambda c: c.route[2].endswith(leaving)):
            if call not in reads:
                await matrix.write(call)
        # The lists last, after every write B tried on A's ids.
        for call in reads:
            await matrix.read(call, QUERIES.get(call.route, {}))
        assert not matrix.findings, "\n".join(str(f) for f in matrix.findings)

        # The marker check can see a leak: A's own people find it in A's lists.
        a_callers = {
            "admin": token(a_tenant, "admin", roles=("employee", "admin")),
            "curator": token(a_tenant, "curator", roles=("employee", "curator")),
            "ana": token(a_tenant, "ana"),
            "scim": {"Authorization": f"Bearer {scim_tokens['a']}"},
        }
        blind = []
        for service, path, who in sorted(A_SEES_ITSELF):
            seen = await http.get(urls[service] + path, headers=a_callers[who])
            if MARK not in seen.text:
                blind.append(f"{service} {path} as {who}: {seen.status_code} {seen.text[:200]}")
        assert not blind, "A does not see itself in:\n" + "\n".join(blind)

        # A's objects that B's upserts and deletes named are A's still.
        assert await _view_of_a(http, urls, a, scim_tokens["a"]) == before


# The web app's routes that name no tenant's data.
WEB_NOT_APPLICABLE = {
    ("GET", "/signin"): "the sign-in form",
    ("POST", "/signin"): "signs a person in",
    ("GET", "/signin/callback"): "the identity provider's answer to a sign-in",
    ("GET", "/signin/sso/{tenant}"): "sends the browser to the named tenant's provider",
    ("POST", "/signout"): "signs the person out",
    ("POST", "/language"): "the visitor's language, in a cookie",
    ("GET", "/static/{name}"): "the app's own files",
    ("GET", "/static/vendor/{name}"): "the app's own files",
}
# The pages' path parameters: A's ids (by the api's name for them) or values any tenant
# uses. B has a catalog item of its own under A's mug's id, so the page names A's sticker.
WEB_IDS = {"item_id": "sticker_id"}
WEB_SHARED = {"network": "linkedin", "table": "content"}


@pytest.fixture(scope="module")
def web_b(
    urls: dict[str, str], tenants: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The web app in front of the platform's apis, whose development sign-in knows tenant
    B's people."""
    web = ServiceProcess(
        "web",
        "api",
        env={
            "WEB_DATABASE": ref("chorus_web_iso_"),
            "WEB_CONTENT_URL": urls["content"],
            "WEB_SHARE_URL": urls["share"],
            "WEB_REWARDS_URL": urls["rewards"],
            "WEB_METRICS_URL": urls["metrics"],
            "WEB_PEOPLE_URL": urls["people"],
            "WEB_DEV_PEOPLE": json.dumps(web_people(tenants[1])),
        },
    ).start(tmp_path_factory.mktemp("web-iso"))
    try:
        web.wait_healthy()
        yield web
    finally:
        web.stop()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


async def _signed_in(web: ServiceProcess, tenant: str, person: str) -> httpx.AsyncClient:
    """A browser of `person`, signed in through the development sign-in."""
    client = httpx.AsyncClient(base_url=web.url, timeout=30)
    form = await client.get("/signin")
    signed = await client.post(
        "/signin", data={"person": f"{tenant}/{person}", "csrf": csrf_of(form.text)}
    )
    assert signed.status_code == 303, signed.text
    return client


async def test_tenant_b_reaches_nothing_of_tenant_a_through_the_web_app(
    web_b: ServiceProcess,
    urls: dict[str, str],
    tenant_a: Seeded,
    tenants: tuple[str, str],
    scim_tokens: dict[str, str],
) -> None:
    a = tenant_a
    async with httpx.AsyncClient(timeout=30) as http:
        before = await _view_of_a(http, urls, a, scim_tokens["a"])
    routes = [
        (method, route.path)
        for router in importlib.import_module("web.bootstrap").DEFINITION.routers()
        for route in router.routes
        for method in sorted(getattr(route, "methods", ()))
    ]
    leaks = [MARK, *a.made_by_the_platform()]
    findings: list[str] = []
    uncovered: list[str] = []
    pages: list[tuple[str, str, str, bool]] = []
    for method, path in routes:
        if (method, path) in WEB_NOT_APPLICABLE or method == "HEAD":
            continue
        params = re.findall(r"{(\w+)}", path)
        names_a = [p for p in params if p not in WEB_SHARED]
        missing = [p for p in names_a if WEB_IDS.get(p, p) not in a.ids]
        if missing:
            uncovered.append(f"web {method} {path}: no id of A for {missing}")
            continue
        values = {p: WEB_SHARED.get(p) or a.ids[WEB_IDS.get(p, p)] for p in params}
        pages.append((method, path, path.format(**values), bool(names_a)))
    assert not uncovered, "pages the matrix does not open:\n" + "\n".join(uncovered)

    for person in ("admin", "curator", "e01"):
        browser = await _signed_in(web_b, tenants[1], person)
        try:
            findings += await _browse(browser, person, pages, leaks)
        finally:
            await browser.aclose()
    assert not findings, "\n".join(findings)
    async with httpx.AsyncClient(timeout=30) as http:
        assert await _view_of_a(http, urls, a, scim_tokens["a"]) == before


async def _view_of_a(
    http: httpx.AsyncClient, urls: dict[str, str], a: Seeded, scim_a: str
) -> dict[str, Any]:
    """A's objects as A's own people see them, to compare before and after B's calls."""
    admin = token(a.tenant, "admin", roles=("employee", "admin"))
    curator = token(a.tenant, "curator", roles=("employee", "curator"))
    ana = token(a.tenant, "ana")
    scim = {"Authorization": f"Bearer {scim_a}"}
    content, share, rewards, metrics, people = (urls[s] for s in APIS)
    views = {
        "item": (f"{content}/api/v1/content/{a.ids['content_id']}", curator),
        "guidelines": (f"{content}/api/v1/guidelines", admin),
        "onboarding": (f"{content}/api/v1/onboarding", ana),
        "share": (f"{share}/api/v1/shares/{a.ids['share_id']}", ana),
        "connectors": (f"{share}/api/v1/settings/connectors", admin),
        "link domains": (f"{share}/api/v1/settings/link-domains", admin),
        "pairs": (f"{share}/api/v1/buddies/pairs", admin),
        "draft": (f"{share}/api/v1/buddies/drafts/{a.ids['draft_id']}", ana),
        "catalog": (f"{rewards}/api/v1/catalog", ana),
        "redemptions": (f"{rewards}/api/v1/admin/redemptions", admin),
        "suggestions": (f"{rewards}/api/v1/reward-suggestions", ana),
        "challenges": (f"{rewards}/api/v1/me/challenges", ana),
        "user": (f"{people}/scim/v2/Users/{a.ids['user_id']}", scim),
        "group": (f"{people}/scim/v2/Groups/{a.ids['group_id']}", scim),
    }
    seen = {name: _ok(await http.get(url, headers=who), 200) for name, (url, who) in views.items()}
    # A goal's progress moves with the clock; its definition is what B must not change.
    goals = _ok(await http.get(f"{metrics}/api/v1/goals", headers=curator), 200)
    seen["goals"] = [
        {k: goal[k] for k in ("id", "name", "metric", "target", "start", "end")}
        for goal in goals["items"]
    ]
    return seen


async def _browse(
    browser: httpx.AsyncClient,
    person: str,
    pages: list[tuple[str, str, str, bool]],
    leaks: list[str],
) -> list[str]:
    """Every page as one of B's people: what went wrong."""
    findings = []
    csrf = csrf_of((await browser.get("/me")).text)
    # Leaving and erasing last: until then the person is signed in.
    for method, path, url, on_a in sorted(pages, key=lambda p: p[1].startswith("/me/")):
        data = {"csrf": csrf} if method == "POST" else None
        response = await browser.request(method, url, data=data)
        status = response.status_code
        said = f"web {method} {path} as {person}: {status}"
        if status >= 500:
            findings.append(f"{said} 5xx: {response.text[:300]}")
        elif on_a and method == "GET" and status not in (403, 404):
            findings.append(f"{said} not 403/404: {response.text[:300]}")
        # A refused form is shown again with its message (409, 422) or sends the browser
        # back with it (303): A's objects, compared before and after, show what B did.
        elif on_a and 200 <= status < 300:
            findings.append(f"{said} took A's id: {response.text[:300]}")
        # A page on A's id may name the id B asked for, never A's titles, names or texts.
        if leaked := [m for m in (leaks if not on_a else [MARK]) if m in response.text]:
            findings.append(f"{said} shows {leaked}")
    return findings


async def _pair(http: httpx.AsyncClient, share: str, tenant: str, people: tuple[str, str]) -> None:
    """Two people of a tenant as buddies, both accepted."""
    admin = token(tenant, "b-admin", roles=("employee", "admin"))
    pair = _ok(
        await http.post(
            f"{share}/api/v1/buddies/pairs",
            headers=admin,
            json={"employee_ids": list(people), "names": {p: p.title() for p in people}},
        )
    )
    roles = {"b-admin": ("employee", "admin"), "b-curator": ("employee", "curator")}
    for person in people:
        accept = f"{share}/api/v1/buddies/pairs/{pair['id']}/accept"
        headers = token(tenant, person, roles=roles.get(person, ("employee",)))
        _ok(await http.post(accept, headers=headers, json={}))


def _signed(tenant: str, connector: dict[str, Any], raw: bytes) -> dict[str, str]:
    """The signature headers of B's connector for the raw report."""
    timestamp = str(int(time.time()))
    digest = hmac.new(
        connector["secret"].encode(), timestamp.encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    return {
        "X-Chorus-Tenant": tenant,
        "X-Chorus-Connector": connector["id"],
        "X-Chorus-Timestamp": timestamp,
        "X-Chorus-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }
