"""The engagement retention field of the program settings: a whole number of days within
the bounds metrics and share share, as people type it; its error in every language; and
its save, which sets it for metrics and then for share (a share that does not take it is
said next to the field)."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web.adapters.backends import Backend, Backends
from web.adapters.sessions import Session
from web.entrypoints import program_admin
from web.entrypoints.common import WebServices, optional_session
from web.entrypoints.program_admin import retention_days
from web.i18n import LANGUAGES, Texts


@pytest.mark.parametrize(
    ("typed", "expected"), [("30", 30), (" 400 ", 400), ("3 650", 3650), ("1 000", 1000)]
)
def test_days_as_people_type_them(typed: str, expected: int) -> None:
    assert retention_days(typed) == expected


@pytest.mark.parametrize("typed", ["", "29", "3651", "-40", "1.5", "a year"])
def test_what_is_not_a_retention(typed: str) -> None:
    assert retention_days(typed) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_error_is_in_every_language(language: str) -> None:
    error = Texts(language).gettext("Enter a whole number of days from 30 to 3,650.")
    assert "30" in error and "650" in error


# -- the form's save: metrics' setting, then share's ----------------------------------------


@dataclass
class FakeApis:
    """Metrics' and share's settings apis as the page uses them; share may be down."""

    metrics: dict[str, Any] = field(
        default_factory=lambda: {"detail_retention_days": 400, "timezone": "UTC"}
    )
    share: dict[str, Any] = field(default_factory=lambda: {"detail_retention_days": 400})
    share_down: bool = False

    def answer(self, request: httpx.Request) -> httpx.Response:
        service, path = request.url.host, request.url.path
        if request.method == "PUT" and path == "/api/v1/settings":
            assert service == "metrics"
            self.metrics = json.loads(request.content)
            return httpx.Response(200, json=self.metrics)
        if request.method == "PUT" and path == "/api/v1/settings/retention":
            assert service == "share"
            if self.share_down:
                return httpx.Response(503, json={"title": "Unavailable", "status": 503})
            self.share = json.loads(request.content)
            return httpx.Response(200, json=self.share)
        if request.method == "GET" and (service, path) == ("metrics", "/api/v1/settings"):
            return httpx.Response(200, json=self.metrics)
        # Everything else the settings page reads: empty.
        return httpx.Response(200, json={"items": []})


def _admin(language: str) -> Session:
    now = datetime.now(UTC)
    return Session(
        id_hash="h",
        tenant="acme",
        employee_id="a1",
        name="Ada",
        roles=["employee", "admin"],
        groups=[],
        token="token",
        csrf="csrf-token",
        expires_at=now + timedelta(hours=1),
        created_at=now,
        language=language,
    )


def _client(apis: FakeApis, language: str) -> TestClient:
    transport = httpx.MockTransport(apis.answer)
    backends = Backends(*(Backend(name, f"http://{name}", 2.0, transport) for name in BACKENDS))
    app = FastAPI()
    app.include_router(program_admin.router)
    app.state.services = WebServices(
        settings=cast(Any, None), backends=backends, sessions=cast(Any, None)
    )
    session = _admin(language)

    async def signed_in() -> Session:
        return session

    app.dependency_overrides[optional_session] = signed_in
    return TestClient(app)


BACKENDS = ("content", "share", "rewards", "metrics", "people")


def test_saving_the_retention_sets_it_for_metrics_and_share() -> None:
    apis = FakeApis()
    with _client(apis, "en") as client:
        answer = client.post(
            "/program/run/retention",
            data={"csrf": "csrf-token", "detail_retention_days": "90"},
            follow_redirects=False,
        )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("/program/run/settings?saved=retention#retention")
    # Metrics' other settings are sent back as they were.
    assert apis.metrics == {"detail_retention_days": 90, "timezone": "UTC"}
    assert apis.share == {"detail_retention_days": 90}


def test_share_refusing_the_retention_is_said_next_to_the_field_in_the_persons_language() -> None:
    apis = FakeApis(share_down=True)
    with _client(apis, "sv") as client:
        answer = client.post(
            "/program/run/retention",
            data={"csrf": "csrf-token", "detail_retention_days": "90"},
            follow_redirects=False,
        )
    assert answer.status_code == 422
    message = Texts("sv").gettext(
        "The figures follow the new retention, the engagement reports not yet: "
        "save it again in a minute."
    )
    assert message.startswith("Siffrorna")
    error = re.search(r'<p class="error" id="detail_retention_days-error">([^<]*)</p>', answer.text)
    assert error is not None and html.unescape(error.group(1)) == message
    field_ = re.search(r'<input [^>]*id="detail_retention_days"[^>]*>', answer.text)
    assert field_ is not None and 'value="90"' in field_.group(0)
    assert 'aria-invalid="true"' in field_.group(0)
    assert "detail_retention_days-error" in field_.group(0)
    assert apis.share == {"detail_retention_days": 400}
