"""The web app's token key outside CHORUS_ENV=local: set, and a Fernet key."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from web.config import WebSettings

FERNET_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("CHORUS_OIDC_PROVIDERS", "WEB_OIDC_CLIENTS", "WEB_DEV_PEOPLE", "WEB_TOKEN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_JWT_SECRET", "j" * 32)
    monkeypatch.setenv("CHORUS_PSEUDONYM_KEY", "p" * 32)
    return monkeypatch


def _refusal() -> str:
    with pytest.raises(ValidationError) as refused:
        WebSettings()
    [error] = refused.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


def test_a_real_key_passes(production: pytest.MonkeyPatch) -> None:
    production.setenv("WEB_TOKEN_KEY", FERNET_KEY)
    assert WebSettings().token_key == FERNET_KEY


def test_the_local_key_is_refused_in_production(production: pytest.MonkeyPatch) -> None:
    assert _refusal() == "WEB_TOKEN_KEY must be set outside CHORUS_ENV=local"


@pytest.mark.parametrize("key", ["short", base64.urlsafe_b64encode(b"k" * 31).decode()])
def test_a_key_that_is_not_a_fernet_key_is_refused(
    production: pytest.MonkeyPatch, key: str
) -> None:
    production.setenv("WEB_TOKEN_KEY", key)
    assert _refusal() == "WEB_TOKEN_KEY must be 32 bytes in url-safe base64 (a Fernet key)"
