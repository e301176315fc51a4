"""Single sign-on in a real browser against the real local provider (Keycloak's demo
realm): sign in, reach the feed, keep working after the access token expired, sign out
of Chorus and of the provider."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect
from pymongo import MongoClient
from web_support import axe_violations, new_context, publish, screenshot

from support import (
    KEYCLOAK_PASSWORD,
    KEYCLOAK_URL,
    MONGODB_URL,
    ServiceProcess,
    keycloak_issuer,
    keycloak_providers,
    ref,
)

pytestmark = pytest.mark.skipif(
    not KEYCLOAK_URL, reason="needs the local identity provider: devstack start --keycloak"
)

# The demo realm's client whose access tokens live 10 seconds.
CLIENT = {
    "tenant": "demo",
    "client_id": "chorus-web-short",
    "client_secret": "chorus-web-local-secret",
}


@pytest.fixture(scope="module")
def sso_web(platform: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A web app whose tenant "demo" signs in with the demo realm."""
    web = ServiceProcess("web", "api")
    web.env = {
        **platform.web_env(f"chorus_web_sso_{platform.suffix}"),
        "CHORUS_OIDC_PROVIDERS": keycloak_providers(),
        "WEB_OIDC_CLIENTS": json.dumps([CLIENT]),
    }
    web.start(tmp_path_factory.mktemp("sso-logs"))
    try:
        web.wait_healthy()
        yield web
    finally:
        web.stop()


def _session_token(platform: Any) -> str:
    """The access token the session holds (this web app's only session)."""
    with MongoClient(MONGODB_URL) as client:
        sessions = client[f"chorus_web_sso_{platform.suffix}"]["sessions"]
        doc = sessions.find_one({"tenant": "demo", "method": "oidc"})
    assert doc is not None, "no session"
    token: str = doc["token"]
    return token


def test_sign_in_with_the_provider_renew_and_sign_out(
    platform: Any, sso_web: ServiceProcess, browser: Browser
) -> None:
    title = f"Our new office opens {ref('')}"
    publish(platform, "demo", title=title)
    context = new_context(browser, "desktop")
    page = context.new_page()
    web = sso_web.url

    # The feed needs a session: off to the sign-in page, then to the company's provider.
    page.goto(f"{web}/feed")
    expect(page).to_have_url(f"{web}/signin?next=/feed")
    provider = page.get_by_role("link", name="Continue with Demo Keycloak")
    expect(provider).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "signin-providers")
    provider.click()
    page.wait_for_url(f"{keycloak_issuer()}/**")
    page.fill("#username", "alice")
    page.fill("#password", KEYCLOAK_PASSWORD)
    page.click("#kc-login")
    page.wait_for_url(f"{web}/feed")
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    first = _session_token(platform)

    # The access token lives 10 seconds; after it expired, pages still reach the services.
    time.sleep(12)
    page.reload()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    page.goto(f"{web}/me")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    renewed = _session_token(platform)
    assert renewed != first

    # Signing out ends the provider's session too: the next sign-in asks for the password.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{web}/signin")
    page.goto(f"{web}/feed")
    expect(page).to_have_url(f"{web}/signin?next=/feed")
    page.get_by_role("link", name="Continue with Demo Keycloak").click()
    page.wait_for_url(f"{keycloak_issuer()}/**")
    expect(page.locator("#password")).to_be_visible()
    context.close()


def test_a_return_from_the_provider_that_this_browser_did_not_start_is_refused(
    sso_web: ServiceProcess,
) -> None:
    with httpx.Client(base_url=sso_web.url, timeout=15) as browser:
        started = browser.get("/signin/sso/demo", params={"next": "/me"})
        assert started.status_code == 303
        at_provider = httpx.URL(started.headers["location"])
        asked = dict(at_provider.params)
        assert at_provider.path.endswith("/protocol/openid-connect/auth")
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
        assert asked["nonce"] and asked["state"] and asked["client_id"] == "chorus-web-short"
        assert asked["redirect_uri"] == f"{sso_web.url}/signin/callback"
        state = asked["state"]
        # Another browser (no pre-session cookie of this one) brings the state back.
        with httpx.Client(base_url=sso_web.url, timeout=15) as other:
            refused = other.get("/signin/callback", params={"state": state, "code": "x"})
        assert refused.status_code == 400
        assert "Signing in did not work" in refused.text
        # The state was used up by that attempt; a made-up one is refused alike.
        for made_up in (state, "made-up"):
            again = browser.get("/signin/callback", params={"state": made_up, "code": "x"})
            assert again.status_code == 400
        # A tenant without a provider has no sign-in.
        assert browser.get("/signin/sso/globex").status_code == 404
        # Forms go to this site and, to sign out there too, to the provider only.
        policy = browser.get("/signin").headers["content-security-policy"]
        assert f"form-action 'self' {KEYCLOAK_URL};" in policy
