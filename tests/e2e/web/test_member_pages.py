"""The member's own pages in a browser: joining, rewards, settings and privacy, contributing.

Each test signs in as its own person (e20..e29) and checks every page it passes for WCAG
2.2 AA violations at phone and desktop size.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bson import json_util
from playwright.sync_api import BrowserContext, Page, expect
from pymongo import AsyncMongoClient
from web_support import (
    axe_violations,
    join,
    produce,
    publish,
    reload_until,
    screenshot,
    sign_in,
    wait_shareable,
)

from contracts import PersonDeactivated, PersonDeactivatedData
from contracts.topics import ADVOCATE_OPTED_OUT
from metrics.adapters.mongo import decode_facts
from support import MONGODB_URL, eventually, read_topic, ref, token

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GUIDELINES = {
    "title": "How we share",
    "body": "Share what is public.\nSay that you work here.\nBe kind in the comments.",
    # Not required: other tests share in this tenant without acknowledging.
    "acknowledgement_required": False,
}


def _api(platform: Any, service: str) -> str:
    return str(platform.url(service))


def _admin(tenant: str) -> dict[str, str]:
    return token(tenant, "admin", roles=("employee", "admin"))


@pytest.fixture(scope="module")
def guidelines(platform: Any) -> dict[str, Any]:
    """The tenant's current guidelines, published once for these tests."""
    tenant = platform.web_tenant
    current = httpx.get(
        f"{_api(platform, 'content')}/api/v1/guidelines/current",
        headers=token(tenant, "e20"),
        timeout=10,
    )
    if current.status_code == 200:
        return dict(current.json())
    published = httpx.post(
        f"{_api(platform, 'content')}/api/v1/guidelines",
        json=GUIDELINES,
        headers=_admin(tenant),
        timeout=10,
    )
    assert published.status_code == 201, published.text
    return dict(published.json())


def _signed_in(context: BrowserContext, web_url: str, tenant: str, person: str) -> Page:
    page = context.new_page()
    sign_in(page, web_url, tenant, person)
    return page


def _check(page: Page, url: str | None, name: str) -> None:
    """Open `url` (or stay), then: no axe violations, and a screenshot to look at."""
    if url is not None:
        page.goto(url)
    page.wait_for_load_state()
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == [], name
    screenshot(page, name)


def _advocate(platform: Any, tenant: str, person: str) -> httpx.Response:
    return httpx.get(
        f"{_api(platform, 'share')}/api/v1/advocates/me", headers=token(tenant, person), timeout=10
    )


def _own_share(platform: Any, tenant: str, person: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{_api(platform, 'share')}/api/v1/shares",
        json={"url": "https://www.example.com/own", "network": "linkedin", "text": "Worth a read"},
        headers=token(tenant, person),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _balance(platform: Any, tenant: str, person: str) -> int:
    """The person's balance once their first share's points arrived (events flow)."""
    deadline = time.monotonic() + 60
    while True:
        mine = httpx.get(
            f"{_api(platform, 'rewards')}/api/v1/me/points",
            headers=token(tenant, person),
            timeout=10,
        )
        balance = int(mine.json()["balance"])
        if balance >= 10 or time.monotonic() > deadline:
            return balance
        time.sleep(0.2)


def _put_item(platform: Any, tenant: str, item_id: str, name: str, price: int, stock: int) -> None:
    answer = httpx.put(
        f"{_api(platform, 'rewards')}/api/v1/catalog/{item_id}",
        json={"name": name, "price": price, "stock": stock},
        headers=_admin(tenant),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_joining_reads_the_guidelines_and_saves_my_networks(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext, guidelines: Any
) -> None:
    tenant = platform.web_tenant
    _check(_signed_in(phone, web_url, tenant, "e21"), f"{web_url}/join", "join-phone")
    page = _signed_in(desktop, web_url, tenant, "e20")
    _check(page, f"{web_url}/join?next=/rewards", "join-desktop")
    expect(page.get_by_role("heading", name=guidelines["title"])).to_be_visible()

    # Without ticking the box, and with an audience that is not a number of people.
    page.get_by_label("LinkedIn", exact=True).check()
    page.get_by_label("Followers or connections on LinkedIn", exact=True).fill("-5")
    page.get_by_role("button", name="Join the program").click()
    page.wait_for_load_state()
    accept = page.locator("#accept")
    expect(page.locator("#accept-error")).to_be_visible()
    assert accept.get_attribute("aria-describedby") == "accept-error"
    audience = page.locator("#audience_linkedin")
    assert audience.get_attribute("aria-describedby") == "audience_linkedin-error"
    expect(page.locator("#audience_linkedin-error")).to_contain_text("whole number")
    expect(page.locator("#error-summary a[href='#accept']")).to_be_visible()
    expect(page.locator("#error-summary a[href='#audience_linkedin']")).to_be_visible()
    assert page.locator(".field.invalid").count() == 2
    _check(page, None, "join-errors-desktop")
    assert _advocate(platform, tenant, "e20").status_code == 404

    accept.check()
    audience.fill("1 250")
    page.get_by_label("X", exact=True).check()
    page.get_by_label("Followers or connections on X", exact=True).fill("80")
    page.get_by_role("button", name="Join the program").click()
    page.wait_for_url(f"{web_url}/rewards")

    advocate = _advocate(platform, tenant, "e20").json()
    assert advocate["status"] == "enrolled"
    assert advocate["guidelines_version"] == guidelines["version"]
    assert {k: v["audience_size"] for k, v in advocate["networks"].items()} == {
        "linkedin": 1250,
        "x": 80,
    }
    current = httpx.get(
        f"{_api(platform, 'content')}/api/v1/guidelines/current",
        headers=token(tenant, "e20"),
        timeout=10,
    ).json()
    assert current["acknowledged_at"] is not None

    page.goto(f"{web_url}/join")
    expect(page.get_by_role("heading", name="You are in the program")).to_be_visible()
    _check(page, None, "join-member-desktop")


def test_redeeming_asks_first_and_says_plainly_what_went_wrong(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    join(platform, tenant, "e22")
    _own_share(platform, tenant, "e22")
    assert _balance(platform, tenant, "e22") == 10
    mug, poster, trip = ref("mug-"), ref("poster-"), ref("trip-")
    _put_item(platform, tenant, mug, f"Mug {mug}", 4, 5)
    _put_item(platform, tenant, poster, f"Poster {poster}", 3, 2)
    _put_item(platform, tenant, trip, f"Trip {trip}", 100_000, 1)

    _check(_signed_in(phone, web_url, tenant, "e22"), f"{web_url}/rewards", "rewards-phone")
    page = _signed_in(desktop, web_url, tenant, "e22")
    _check(page, f"{web_url}/rewards", "rewards-desktop")
    trip_card = page.locator(".rewards li", has_text=f"Trip {trip}")
    expect(trip_card).to_contain_text("more points to go")
    assert trip_card.get_by_role("link", name="Redeem").count() == 0

    page.locator(".rewards li", has_text=f"Mug {mug}").get_by_role("link", name="Redeem").click()
    page.wait_for_url(f"{web_url}/rewards/redeem/{mug}")
    _check(page, None, "rewards-confirm-desktop")
    summary = page.locator("dl.sum")
    expect(summary).to_contain_text("4 points")
    expect(summary).to_contain_text("10 points")
    expect(summary).to_contain_text("6 points")
    page.get_by_role("button", name="Redeem for 4 points").click()
    page.wait_for_url(f"{web_url}/rewards?redeemed=*")
    expect(page.get_by_role("status").first).to_contain_text(f"You redeemed Mug {mug}")
    expect(page.locator("#redemptions-title + ul")).to_contain_text(f"Mug {mug}")
    _check(page, None, "rewards-redeemed-desktop")

    # The poster runs out between the confirmation and the click.
    page.goto(f"{web_url}/rewards/redeem/{poster}")
    _put_item(platform, tenant, poster, f"Poster {poster}", 3, 0)
    page.get_by_role("button", name="Redeem for 3 points").click()
    page.wait_for_load_state()
    expect(page.locator("#error-summary")).to_contain_text("just run out")
    expect(page.locator("#error-summary")).to_contain_text("No points were spent")
    _check(page, None, "rewards-refused-desktop")
    points = httpx.get(
        f"{_api(platform, 'rewards')}/api/v1/me/points", headers=token(tenant, "e22"), timeout=10
    ).json()
    assert (points["balance"], points["spent"]) == (6, 4)


def test_settings_and_the_download_of_my_data(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    join(platform, tenant, "e23")
    shared = _own_share(platform, tenant, "e23")
    _check(_signed_in(phone, web_url, tenant, "e23"), f"{web_url}/me", "me-phone")
    page = _signed_in(desktop, web_url, tenant, "e23")
    _check(page, f"{web_url}/me", "me-desktop")

    page.get_by_label("Network", exact=True).select_option("linkedin")
    page.get_by_label("Followers or connections there").fill("-1")
    page.get_by_role("button", name="Add network").click()
    page.wait_for_load_state()
    expect(page.locator("#audience_new-error")).to_be_visible()
    _check(page, None, "me-errors-desktop")
    page.get_by_label("Followers or connections there").fill("300")
    page.get_by_role("button", name="Add network").click()
    page.wait_for_url(f"{web_url}/me?saved=networks*")
    expect(page.get_by_label("Followers or connections on LinkedIn", exact=True)).to_have_value(
        "300"
    )

    page.get_by_label("No, hide me. I still see my own rank.").check()
    page.locator("#leaderboards").get_by_role("button", name="Save").click()
    page.wait_for_url(f"{web_url}/me?saved=leaderboard*")
    visibility = httpx.get(
        f"{_api(platform, 'rewards')}/api/v1/me/leaderboard-visibility",
        headers=token(tenant, "e23"),
        timeout=10,
    ).json()
    assert visibility["hidden"] is True

    suggestion = httpx.post(
        f"{_api(platform, 'content')}/api/v1/content",
        json={"title": f"Worth sharing {ref('')}", "kind": "article", "url": "https://x.example"},
        headers=token(tenant, "e23"),
        timeout=10,
    )
    assert suggestion.status_code == 201, suggestion.text
    # HR's directory knows them (as the development sign-in does: team-3, Oslo); every
    # service that keeps a copy of it learns of them from the people events.
    _provision(platform, tenant, "e23", "team-3", "Oslo")
    for service in ("content", "share", "rewards"):
        _exported(
            platform,
            tenant,
            "e23",
            service,
            lambda m: ((m["records"] or {}).get("directory") or {}).get("groups") == ["team-3"],
        )
    # The workers count the share: until the ledger and the facts hold it, they are missing.
    _exported(
        platform,
        tenant,
        "e23",
        "rewards",
        lambda m: (
            bool(m["ledger"])
            and sum(e["points"] for e in m["ledger"]) == m["records"]["points"]["earned"]
        ),
    )
    _exported(
        platform,
        tenant,
        "e23",
        "metrics",
        lambda m: any(f["type"] == "post-shared" for f in m["facts"]),
    )

    with page.expect_download() as downloading:
        page.locator("#privacy").get_by_role("link", name="Download your data").click()
    download = downloading.value
    assert download.suggested_filename.startswith("chorus-my-data-")
    assert download.suggested_filename.endswith(".json")
    mine = json.loads(open(download.path(), encoding="utf-8").read())
    assert mine["person"]["employee_id"] == "e23"
    for service in ("content", "share", "rewards", "metrics", "people"):
        assert "unavailable" not in mine[service], mine[service]
    directory = mine["people"]["user"]
    assert directory["employee_id"] == "e23"
    assert directory["resource"]["userName"] == "e23"
    assert directory["resource"]["title"] == "Advocate"
    assert directory["resource"][ENTERPRISE]["department"] == "Marketing"
    assert directory["resource"]["active"] is True
    assert [g["display_name"] for g in mine["people"]["groups"]] == ["team-3"]
    for service in ("content", "share", "rewards"):
        copy = mine[service]["directory"]
        assert (copy["status"], copy["groups"], copy["location"]) == ("active", ["team-3"], "Oslo")
    assert mine["share"]["advocate"]["networks"]["linkedin"]["audience_size"] == 300
    assert [s["id"] for s in mine["share"]["shares"]] == [shared["id"]]
    assert "engagement" in mine["share"]["shares"][0]
    assert {"points", "badges", "challenges", "redemptions", "standing"} <= set(mine["rewards"])
    assert mine["rewards"]["leaderboard_visibility"]["hidden"] is True
    ledger = mine["rewards"]["ledger"]
    assert ledger and all(e["points"] for e in ledger)
    assert sum(e["points"] for e in ledger) == mine["rewards"]["points"]["earned"]
    assert [i["id"] for i in mine["content"]["items"]] == [suggestion.json()["id"]]
    assert mine["content"]["items"][0]["suggestion"] is True
    assert "acknowledgements" in mine["content"]
    facts = mine["metrics"]["facts"]
    assert mine["metrics"]["erased"] is False
    assert [f["counters"]["shares"] for f in facts if f["type"] == "post-shared"] == [1]
    assert mine["metrics"]["totals"]["shares"] == 1
    sessions = mine["web"]["sessions"]
    assert len(sessions) == 2
    assert all("token" not in s and "csrf" not in s and "_id" not in s for s in sessions)
    # Mine only: no other person of the tenant appears anywhere in the services' parts.
    others = {f"e{n:02d}" for n in range(1, 41)} - {"e23"}
    text = json.dumps({k: mine[k] for k in ("content", "share", "rewards", "metrics", "people")})
    assert not [o for o in others if f'"{o}"' in text]


def _provision(platform: Any, tenant: str, person: str, group: str, location: str) -> None:
    """`person` in HR's directory, as the tenant's identity provider provisions them by SCIM,
    in `group`, working at `location`."""
    scim = httpx.Client(
        base_url=f"{_api(platform, 'people')}/scim/v2",
        headers={
            "Authorization": f"Bearer {platform.web_scim_token}",
            "Content-Type": "application/scim+json",
        },
        timeout=15,
    )
    with scim:
        user = scim.post(
            "/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "userName": person,
                "name": {"givenName": "Employee", "familyName": person},
                "emails": [{"value": f"{person}@example.com", "type": "work", "primary": True}],
                "title": "Advocate",
                "active": True,
                "addresses": [{"type": "work", "locality": location, "primary": True}],
                ENTERPRISE: {"department": "Marketing"},
            },
        )
        assert user.status_code == 201, user.text
        made = scim.post(
            "/Groups", json={"displayName": group, "members": [{"value": user.json()["id"]}]}
        )
        assert made.status_code == 201, made.text


def _exported(
    platform: Any, tenant: str, person: str, service: str, check: Callable[[Any], bool]
) -> None:
    """Until the service's own export of `person`'s data passes `check`."""

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30) as http:

            async def export() -> Any:
                answer = await http.get(
                    f"{_api(platform, service)}/api/v1/me/export", headers=token(tenant, person)
                )
                assert answer.status_code == 200, answer.text
                return answer.json()

            await eventually(export, check, timeout=60)

    # Playwright's own event loop runs in this thread: the waiting runs in another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def test_leaving_is_one_confirmed_step(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    join(platform, tenant, "e24")
    _check(_signed_in(phone, web_url, tenant, "e24"), f"{web_url}/me/leave", "leave-phone")
    page = _signed_in(desktop, web_url, tenant, "e24")
    page.goto(f"{web_url}/me")
    page.locator("#privacy").get_by_role("link", name="Leave the program").click()
    page.wait_for_url(f"{web_url}/me/leave")
    _check(page, None, "leave-desktop")
    page.get_by_role("button", name="Leave the program").click()
    page.wait_for_url(f"{web_url}/me?saved=left")
    expect(page.get_by_role("status").first).to_contain_text("You left the program")
    assert _advocate(platform, tenant, "e24").json()["status"] == "opted_out"
    expect(page.locator("#networks").get_by_role("link", name="Join the program")).to_be_visible()
    _check(page, None, "me-left-desktop")


def _erasure_of(tenant: str, person: str) -> str:
    """The id of the erasure request share announced for `person` (its AdvocateOptedOut)."""

    def erasures(records: list[Any]) -> list[dict[str, Any]]:
        found = [json.loads(r.value) for r in records]
        return [
            e
            for e in found
            if e["tenantid"] == tenant and e["data"]["employee_id"] == person and e["data"]["erase"]
        ]

    with ThreadPoolExecutor(1) as pool:
        records = pool.submit(
            asyncio.run, read_topic(ADVOCATE_OPTED_OUT, lambda rs: bool(erasures(rs)), 30)
        ).result()
    [event] = erasures(records)
    return str(event["id"])


def _stored_anywhere(platform: Any, person: str) -> list[str]:
    """Every service database's collections where `person`'s id appears as a word."""
    needle = re.compile(rf"(?<![0-9A-Za-z]){re.escape(person)}(?![0-9A-Za-z])")

    async def scan() -> list[str]:
        found = []
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
        try:
            for service in ("content", "share", "rewards", "metrics", "people", "web"):
                db = client[f"chorus_{service}_{platform.suffix}"]
                for name in await db.list_collection_names():
                    async for doc in db[name].find({}):
                        text = json_util.dumps(doc)
                        if service == "metrics" and name == "fact_log":
                            text += json_util.dumps(decode_facts(doc["facts"]))
                        if needle.search(text):
                            found.append(f"{service}.{name}")
                            break
        finally:
            await client.close()
        return found

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scan()).result()


def _totals(platform: Any, tenant: str) -> dict[str, int]:
    reply = httpx.get(
        f"{_api(platform, 'metrics')}/api/v1/summary", headers=_admin(tenant), timeout=10
    )
    reply.raise_for_status()
    return dict(reply.json()["figures"])


def test_erasing_removes_me_and_signs_me_out(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    join(platform, tenant, "e25")
    httpx.put(
        f"{_api(platform, 'share')}/api/v1/advocates/me/networks/linkedin",
        json={"audience_size": 40},
        headers=token(tenant, "e25"),
        timeout=10,
    ).raise_for_status()
    # They shared something, so every service holds something of theirs.
    item = publish(platform, tenant, title=f"Erasure story {ref('t')}")
    wait_shareable(platform, tenant, item["id"])
    shared = httpx.post(
        f"{_api(platform, 'share')}/api/v1/shares",
        json={"content_id": item["id"], "network": "email"},
        headers=token(tenant, "e25"),
        timeout=10,
    )
    assert shared.status_code == 201, shared.text
    _exported(
        platform,
        tenant,
        "e25",
        "metrics",
        lambda mine: (mine.get("totals") or {}).get("shares", 0) >= 1,
    )
    before = _totals(platform, tenant)
    _check(_signed_in(phone, web_url, tenant, "e25"), f"{web_url}/me/erase", "erase-phone")
    page = _signed_in(desktop, web_url, tenant, "e25")
    page.goto(f"{web_url}/me")
    page.locator("#privacy").get_by_role("link", name="Erase your data").click()
    page.wait_for_url(f"{web_url}/me/erase")
    _check(page, None, "erase-desktop")
    page.get_by_role("button", name="Erase my data").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible()
    _check(page, None, "erased-desktop")
    # Share keeps nothing under their id: as far as it knows, they never joined.
    assert _advocate(platform, tenant, "e25").status_code == 404
    # Signed out here, and on the phone too: every session of the person is gone.
    page.goto(f"{web_url}/me")
    assert "/signin" in page.url
    other = phone.pages[0]
    other.goto(f"{web_url}/me")
    assert "/signin" in other.url

    # One request, which every service confirms: the program team sees it complete.
    request_id = _erasure_of(tenant, "e25")
    admin = _signed_in(desktop, web_url, tenant, "admin")
    admin.goto(f"{web_url}/program/run")
    admin.get_by_role("link", name="Erasure requests").click()
    admin.wait_for_url(f"{web_url}/program/run/erasures")
    row = admin.locator(f'tr[data-request="{request_id}"]')
    reload_until(admin, lambda: row.locator('[data-status="complete"]').count(), 120)
    expect(row).to_contain_text("Complete")
    _check(admin, None, "erasures-desktop")
    # Nothing stored anywhere names them, and the program's totals did not move (the
    # erasure counts as the opt-out it also is).
    assert _stored_anywhere(platform, "e25") == []
    after = _totals(platform, tenant)
    assert after.pop("opt_outs", 0) == before.pop("opt_outs", 0) + 1
    assert after == before


def test_an_own_post_and_a_suggestion(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    join(platform, tenant, "e26")
    on_phone = _signed_in(phone, web_url, tenant, "e26")
    _check(on_phone, f"{web_url}/share/own", "own-post-phone")
    _check(on_phone, f"{web_url}/suggest", "suggest-phone")
    page = _signed_in(desktop, web_url, tenant, "e26")
    page.goto(f"{web_url}/feed")
    page.get_by_role("link", name="Write your own post").click()
    page.wait_for_url(f"{web_url}/share/own")
    _check(page, None, "own-post-desktop")

    page.get_by_label("Link", exact=True).fill("not a link")
    page.get_by_label("Your text").fill("A good read about our team")
    page.get_by_role("button", name="Share", exact=True).click()
    page.wait_for_load_state()
    # The hint, the note about where the link leads (empty here), and the error.
    described = page.locator("#url").get_attribute("aria-describedby") or ""
    assert described.split() == ["url-hint", "url-note", "url-error"]
    expect(page.locator("#url-error")).to_contain_text("https://")
    expect(page.get_by_label("Your text")).to_have_value("A good read about our team")
    _check(page, None, "own-post-errors-desktop")
    page.get_by_label("Link", exact=True).fill("https://www.example.com/our-team")
    page.get_by_label("Title (optional)").fill("Our team")
    page.get_by_label("X", exact=True).check()
    page.get_by_role("button", name="Share", exact=True).click()
    # The share goes through the share api and its outbox; with both tiers of the suite on
    # two cores it has taken longer than the default 15 s.
    page.wait_for_url(f"{web_url}/shared/*", timeout=45_000)
    expect(page.get_by_role("heading", name="Shared")).to_be_visible()
    share_id = page.url.rsplit("/", 1)[1]
    mine = httpx.get(
        f"{_api(platform, 'share')}/api/v1/shares/{share_id}",
        headers=token(tenant, "e26"),
        timeout=10,
    ).json()
    assert (mine["network"], mine["content_id"], mine["text"]) == (
        "x",
        None,
        "A good read about our team",
    )
    assert mine["target_url"].startswith("https://www.example.com/our-team")

    page.goto(f"{web_url}/feed")
    page.get_by_role("link", name="Suggest something").click()
    page.wait_for_url(f"{web_url}/suggest")
    _check(page, None, "suggest-desktop")
    page.get_by_role("button", name="Send suggestion").click()
    page.wait_for_load_state()
    expect(page.locator("#title-error")).to_be_visible()
    expect(page.locator("#url-error")).to_be_visible()
    _check(page, None, "suggest-errors-desktop")
    title = f"Meetup {ref('')}"
    page.get_by_label("Event").check()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Why is it worth sharing? (optional)").fill("Our engineers speak there.")
    page.get_by_role("button", name="Send suggestion").click()
    page.wait_for_url(f"{web_url}/suggest?thanks=1")
    expect(page.get_by_role("heading", name="Thank you for your suggestion")).to_be_visible()
    _check(page, None, "suggest-thanks-desktop")
    drafts = httpx.get(
        f"{_api(platform, 'content')}/api/v1/content",
        params={"status": "draft", "kind": "event"},
        headers=token(tenant, "curator", roles=("employee", "curator")),
        timeout=10,
    ).json()["items"]
    suggestion = next(d for d in drafts if d["title"] == title)
    assert (suggestion["suggestion"], suggestion["created_by"]) == (True, "e26")


def test_a_person_the_directory_deactivates_is_signed_out(
    platform: Any, web_url: str, desktop: BrowserContext
) -> None:
    tenant = platform.web_tenant
    page = _signed_in(desktop, web_url, tenant, "e26")
    page.goto(f"{web_url}/me")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    now = datetime.now(UTC)
    produce(
        [
            PersonDeactivated.create(
                tenant_id=tenant,
                subject="e26",
                data=PersonDeactivatedData(employee_id="e26", version=2, deactivated_at=now),
            )
        ]
    )
    for _ in range(60):
        page.goto(f"{web_url}/me")
        if "/signin" in page.url:
            break
        page.wait_for_timeout(500)
    assert "/signin" in page.url
