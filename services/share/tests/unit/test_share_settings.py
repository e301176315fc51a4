"""The share service's secrets outside CHORUS_ENV=local: set, and long enough."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from share.config import ShareSettings
from share.entrypoints.api import ConnectIn

REAL = "r" * 32
FERNET_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "CHORUS_OIDC_PROVIDERS",
        "SHARE_LINK_SECRET",
        "SHARE_WEBHOOK_SECRET",
        "SHARE_TOKEN_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_JWT_SECRET", "j" * 32)
    monkeypatch.setenv("CHORUS_PSEUDONYM_KEY", "p" * 32)
    monkeypatch.setenv("SHARE_LINK_SECRET", REAL)
    monkeypatch.setenv("SHARE_WEBHOOK_SECRET", REAL)
    monkeypatch.setenv("SHARE_TOKEN_KEY", FERNET_KEY)
    return monkeypatch


def _refusal() -> str:
    with pytest.raises(ValidationError) as refused:
        ShareSettings()
    [error] = refused.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


def test_real_secrets_pass(production: pytest.MonkeyPatch) -> None:
    settings = ShareSettings()
    assert (settings.link_secret, settings.webhook_secret) == (REAL, REAL)


@pytest.mark.parametrize("variable", ["SHARE_LINK_SECRET", "SHARE_WEBHOOK_SECRET"])
def test_a_short_secret_is_refused_naming_it(production: pytest.MonkeyPatch, variable: str) -> None:
    production.setenv(variable, "s" * 31)
    assert _refusal() == (
        f"{variable} is 31 bytes long; outside CHORUS_ENV=local a secret needs at least 32 bytes"
    )


@pytest.mark.parametrize("variable", ["SHARE_LINK_SECRET", "SHARE_WEBHOOK_SECRET"])
def test_the_development_secret_is_refused(production: pytest.MonkeyPatch, variable: str) -> None:
    production.delenv(variable)
    assert _refusal() == f"{variable} must be set outside CHORUS_ENV=local"


def test_a_short_jwt_secret_is_refused_in_share_too(production: pytest.MonkeyPatch) -> None:
    production.setenv("CHORUS_JWT_SECRET", "j" * 20)
    assert _refusal().startswith("CHORUS_JWT_SECRET is 20 bytes long")


@pytest.mark.parametrize(
    "key",
    [
        base64.urlsafe_b64encode(b"k" * 16).decode(),  # 16 bytes: too short
        "not a key",
        "k" * 32,  # 32 letters are 24 bytes once decoded
    ],
)
def test_a_token_key_that_is_not_a_fernet_key_is_refused(
    production: pytest.MonkeyPatch, key: str
) -> None:
    production.setenv("SHARE_TOKEN_KEY", key)
    assert _refusal() == "SHARE_TOKEN_KEY must be 32 bytes in url-safe base64 (a Fernet key)"


def test_local_runs_keep_their_development_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHARE_LINK_SECRET", "SHARE_WEBHOOK_SECRET", "SHARE_TOKEN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHORUS_ENV", "local")
    monkeypatch.setenv("SHARE_LINK_SECRET", "short")
    assert ShareSettings().link_secret == "short"


def test_a_token_lifetime_is_ten_years_at_most() -> None:
    # Found by schemathesis: a lifetime past the last date there is was a 500 (an overflow).
    with pytest.raises(ValidationError) as refused:
        ConnectIn(audience_size=1, expires_in=72881600086421)
    assert refused.value.errors()[0]["loc"] == ("expires_in",)
    assert ConnectIn(audience_size=1, expires_in=3600).expires_in == 3600
