"""The web app's protections, each with a test that fails when the protection goes."""

from __future__ import annotations

from typing import Any

import httpx
from cryptography.fernet import Fernet
from playwright.sync_api import BrowserContext
from web_support import csrf_of, join, publish, sign_in, sign_in_client

from support import ServiceProcess, ref, token

XSS_TITLE = "<script>alert(1)</script>"
XSS_SUMMARY = '"><img src=x onerror=alert(1)>'


def test_every_page_forbids_inline_script_and_framing(platform: Any, web_url: str) -> None:
    response = httpx.get(f"{web_url}/signin")
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_published_title_is_text_not_markup(
    platform: Any, web_url: str, desktop: BrowserContext
) -> None:
    tenant = platform.web_tenant
    # A topic of its own: the first page of a busy tenant's feed may be full of other items.
    topic = ref("xss")
    item = publish(
        platform, tenant, title=XSS_TITLE, summary=XSS_SUMMARY, kind="article", topics=[topic]
    )
    dialogs: list[str] = []
    page = desktop.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    client = sign_in_client(web_url, tenant, "e11")
    html = client.get(f"/feed?topic={topic}").text
    # Escaped in the HTML itself, not only defused by the CSP.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert '"><img src=x' not in html
    sign_in(page, web_url, tenant, "e11")
    page.goto(f"{web_url}/feed?topic={topic}")
    assert page.get_by_role("heading", name=XSS_TITLE).first.is_visible()
    assert page.locator("img[src=x]").count() == 0
    page.goto(f"{web_url}/share/{item['id']}")
    page.wait_for_load_state("networkidle")
    assert dialogs == []


def test_the_policy_stops_a_script_that_got_in_anyway(
    platform: Any, web_url: str, desktop: BrowserContext
) -> None:
    page = desktop.new_page()
    page.goto(f"{web_url}/signin")
    ran = page.evaluate(
        """() => new Promise(resolve => {
            const s = document.createElement('script');
            s.textContent = 'window.__injected = true';
            document.body.appendChild(s);
            setTimeout(() => resolve(window.__injected === true), 100);
        })"""
    )
    assert ran is False


def test_no_other_site_can_frame_the_app(
    platform: Any, web_url: str, desktop: BrowserContext
) -> None:
    page = desktop.new_page()
    page.set_content(f'<iframe id="f" src="{web_url}/signin" width="600" height="400"></iframe>')
    page.wait_for_timeout(1500)
    frame = page.frames[-1]
    try:
        text = frame.evaluate("() => document.body ? document.body.innerText : ''")
    except Exception:
        text = ""
    assert "Sign in" not in text


def test_a_form_without_its_token_is_refused(platform: Any, web_url: str) -> None:
    tenant = platform.web_tenant
    item = publish(platform, tenant, title="Refused without a token", kind="article")
    join(platform, tenant, "e12")
    client = sign_in_client(web_url, tenant, "e12")
    refused = client.post(f"/share/{item['id']}", data={"network": "linkedin", "text": "Hi"})
    assert refused.status_code == 403
    assert "expired" in refused.text
    wrong = client.post(
        f"/share/{item['id']}", data={"network": "linkedin", "text": "Hi", "csrf": "guess"}
    )
    assert wrong.status_code == 403
    shares = httpx.get(
        f"{platform.url('share')}/api/v1/shares",
        params={"employee_id": "e12"},
        headers=token(tenant, "e12"),
    ).json()["items"]
    assert shares == []


def test_the_session_cookie_is_httponly_lax_expiring_and_secure_over_https(
    platform: Any, web_url: str
) -> None:
    # As behind a proxy that ends TLS: the cookies are Secure, so this plain-http client
    # would not send them back by itself.
    client = httpx.Client(base_url=web_url, headers={"X-Forwarded-Proto": "https"})
    page = client.get("/signin")
    presession = page.cookies["chorus_presession"]
    assert "secure" in page.headers["set-cookie"].lower()
    response = client.post(
        "/signin",
        data={"person": f"{platform.web_tenant}/e13", "csrf": csrf_of(page.text)},
        headers={"Cookie": f"chorus_presession={presession}"},
    )
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("chorus_session=")
    ).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    assert "max-age=" in cookie and "path=/" in cookie
    plain = sign_in_client(web_url, platform.web_tenant, "e13")
    assert plain.cookies.get("chorus_session")


def test_signing_out_ends_the_session(platform: Any, web_url: str) -> None:
    client = sign_in_client(web_url, platform.web_tenant, "e14")
    old = client.cookies.get("chorus_session")
    feed = client.get("/feed")
    assert feed.status_code == 200
    assert client.post("/signout", data={"csrf": csrf_of(feed.text)}).status_code == 303
    stale = httpx.Client(base_url=web_url, cookies={"chorus_session": old or ""})
    again = stale.get("/feed")
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")


def test_the_development_sign_in_exists_only_locally(platform: Any, tmp_path: Any) -> None:
    web = ServiceProcess(
        "web",
        "api",
        env={
            "CHORUS_ENV": "production",
            "CHORUS_JWT_SECRET": "a-production-secret-for-this-test-only",
            "CHORUS_PSEUDONYM_KEY": "a-production-pseudonym-key-for-this-test-only",
            "WEB_TOKEN_KEY": Fernet.generate_key().decode(),
            "WEB_DATABASE": f"chorus_web_{platform.suffix}_prod",
        },
    ).start(tmp_path)
    try:
        web.wait_healthy()
        assert httpx.get(f"{web.url}/signin").status_code == 404
        assert httpx.post(f"{web.url}/signin", data={"person": "x/y"}).status_code == 404
    finally:
        web.stop()
