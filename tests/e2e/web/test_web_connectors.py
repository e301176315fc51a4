"""Engagement connectors in the program team's settings: added with a secret shown once,
listed without it, given a new secret (the old one refused from then on) and removed.

The connectors made here are removed at the end.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, expect
from web_support import axe_violations, screenshot, sign_in

from share.domain.signatures import sign
from support import token

PATH = "/api/v1/settings/connectors"


def _report(share_api: str, tenant: str, connector: str, secret: str) -> int:
    """The status of a signed report on a share that does not exist: 404 when the secret
    signs, 401 when it does not."""
    raw = json.dumps(
        {"id": "r", "kind": "reaction", "share_id": "none", "observed_at": "2026-01-01T00:00:00Z"}
    ).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Chorus-Tenant": tenant,
        "X-Chorus-Connector": connector,
        "X-Chorus-Timestamp": stamp,
        "X-Chorus-Signature": sign(secret.encode(), stamp, raw),
    }
    return httpx.post(
        f"{share_api}/api/v1/engagements", content=raw, headers=headers, timeout=10
    ).status_code


def test_the_program_team_adds_rotates_and_removes_a_connector(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    admin = token(tenant, "admin", roles=("employee", "admin"))
    share_api = platform.url("share")
    before = {c["id"] for c in httpx.get(f"{share_api}{PATH}", headers=admin).json()["items"]}
    try:
        page = desktop.new_page()
        sign_in(page, web_url, tenant, "admin", "/program/run/settings")
        page.goto(f"{web_url}/program/run/settings#connectors")
        field = page.locator("#connector_name")
        field.fill("   ")
        page.get_by_role("button", name="Add connector").click()
        expect(page.locator("#connector_name-error")).to_contain_text("Enter a name")
        expect(field).to_have_attribute("aria-invalid", "true")
        assert axe_violations(page) == []

        page.locator("#connector_name").fill("ATS applications")
        page.get_by_role("button", name="Add connector").click()
        shown = page.locator("#connector-secret")
        expect(shown).to_contain_text("Copy the secret of ATS applications now")
        connector = page.locator("#fresh-connector").input_value()
        secret = page.locator("#fresh-secret").input_value()
        assert page.locator("#fresh-tenant").input_value() == tenant
        assert len(secret) == 64
        assert _report(share_api, tenant, connector, secret) == 404
        assert axe_violations(page) == []
        screenshot(page, "program-run-settings-connectors-desktop")

        # Listed without its secret, on every later visit.
        page.goto(f"{web_url}/program/run/settings#connectors")
        row = page.locator("#connectors tbody tr", has_text="ATS applications")
        expect(row).to_contain_text(connector)
        assert secret not in page.content()

        row.get_by_role("button", name="New secret").click()
        renewed = page.locator("#fresh-secret").input_value()
        assert renewed != secret and page.locator("#fresh-connector").input_value() == connector
        assert _report(share_api, tenant, connector, secret) == 401
        assert _report(share_api, tenant, connector, renewed) == 404

        small = phone.new_page()
        sign_in(small, web_url, tenant, "admin", "/program/run/settings")
        small.goto(f"{web_url}/program/run/settings#connectors")
        assert axe_violations(small) == []

        page.goto(f"{web_url}/program/run/settings#connectors")
        page.locator("#connectors tbody tr", has_text="ATS applications").get_by_role(
            "button", name="Remove"
        ).click()
        page.wait_for_url(f"{web_url}/program/run/settings?saved=connector#connectors")
        expect(page.locator("main")).to_contain_text("The connector is removed")
        expect(page.locator("#connectors")).not_to_contain_text(connector)
        assert _report(share_api, tenant, connector, renewed) == 401
    finally:
        for item in httpx.get(f"{share_api}{PATH}", headers=admin).json()["items"]:
            if item["id"] not in before:
                httpx.delete(f"{share_api}{PATH}/{item['id']}", headers=admin)
