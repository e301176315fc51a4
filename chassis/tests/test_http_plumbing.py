"""problem+json errors, bearer-token auth and settings safety, on a small app of our own."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from token_support import SECRET, app_with, development_token

from chassis.auth import TokenVerifier, issue_token
from chassis.settings import LOCAL_JWT_SECRET, ServiceSettings
from contracts.erasure import LOCAL_PSEUDONYM_KEY


def _app() -> FastAPI:
    return app_with(TokenVerifier(secret=SECRET))


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


def _auth(roles: tuple[str, ...] = ("employee",), secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(secret, sub="e1", tenant="acme", roles=roles)}


def test_invalid_body_is_a_422_problem_naming_the_field(client: TestClient) -> None:
    response = client.post("/things", json={"title": "", "count": -1}, headers=_auth())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {e["field"] for e in body["errors"]} == {"title", "count"}
    assert "title" in body["detail"] and body["status"] == 422


def test_missing_token_is_a_401_problem(client: TestClient) -> None:
    response = client.post("/things", json={"title": "x", "count": 1})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


def test_token_signed_with_another_secret_is_refused(client: TestClient) -> None:
    headers = _auth(secret="another-secret-with-enough-length-1234")
    response = client.post("/things", json={"title": "x", "count": 1}, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "the token's signature does not match its issuer's key"


def test_valid_token_gives_tenant_and_subject(client: TestClient) -> None:
    response = client.post("/things", json={"title": "x", "count": 1}, headers=_auth())
    assert response.json() == {"tenant": "acme", "by": "e1"}


def test_role_is_enforced(client: TestClient) -> None:
    assert client.get("/admin", headers=_auth()).status_code == 403
    assert client.get("/admin", headers=_auth(("admin",))).status_code == 200


def test_unknown_route_and_unexpected_errors_are_problems(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    boom = client.get("/boom")
    assert boom.status_code == 500
    assert "secret internals" not in boom.text


def _claims(**claims: Any) -> dict[str, str]:
    """A development token of `claims` over a valid subject, tenant and lifetime; `...`
    leaves one out."""
    return {"Authorization": "Bearer " + development_token(**claims)}


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("groups", "sales"),
        ("groups", {"sales": True}),
        ("groups", 7),
        ("groups", ["sales", 7]),
        ("roles", "admin"),
        ("roles", ["admin", None]),
        ("roles", {"admin": 1}),
        ("languages", "en"),
        ("languages", ["en", 1]),
        ("location", 5),
        ("location", ["oslo"]),
        ("tenant", ...),
        ("tenant", 5),
        ("tenant", ""),
        ("tenant", ["acme"]),
        ("sub", 5),
        ("sub", ""),
    ],
)
def test_a_claim_of_the_wrong_type_is_a_401_problem_naming_it(
    client: TestClient, claim: str, value: Any
) -> None:
    response = client.get("/me", headers=_claims(**{claim: value}))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith(
        'Bearer error="invalid_token", error_description="'
    )
    # Our words, naming the claim; nothing from the JWT library.
    assert response.json()["detail"].startswith(f"claim '{claim}' ")


@pytest.mark.parametrize(
    "tenant",
    [
        "a:b",  # would reach tenant "a"'s documents keyed "a:b:<id>" and the other way round
        "Acme",
        "acme corp",
        "-acme",
        "acme_eu",
        "acme.eu",
        "acme/eu",
        "acme\n",
        "ac\u00e9me",
        "a" * 64,
    ],
)
def test_a_tenant_outside_the_pattern_is_a_401_problem_naming_it(
    client: TestClient, tenant: str
) -> None:
    response = client.get("/me", headers=_claims(tenant=tenant))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith(
        'Bearer error="invalid_token", error_description="'
    )
    assert response.json()["detail"].startswith("claim 'tenant' must be lower-case letters")


@pytest.mark.parametrize("tenant", ["acme", "a", "0", "web-1f2e3d4c5b", "demo", "b" * 63])
def test_a_tenant_within_the_pattern_is_accepted(client: TestClient, tenant: str) -> None:
    response = client.post(
        "/things", json={"title": "x", "count": 1}, headers=_claims(tenant=tenant)
    )
    assert response.status_code == 200, response.text
    assert response.json()["tenant"] == tenant


def test_claims_of_the_right_type_are_read_whole(client: TestClient) -> None:
    headers = _claims(groups=["sales", "s"], location="oslo", languages=["nb", "en"])
    assert client.get("/me", headers=headers).json() == {
        "groups": ["s", "sales"],
        "roles": ["employee"],
        "location": "oslo",
        "languages": ["nb", "en"],
    }
    # Optional claims may be absent or null; roles too (the caller then has none).
    bare = _claims(roles=None, groups=None, location=None, languages=None)
    assert client.get("/me", headers=bare).json() == {
        "groups": [],
        "roles": [],
        "location": None,
        "languages": [],
    }


class _Settings(ServiceSettings):
    service = "demo"
    default_api_port = 1
    default_worker_port = 2


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real pseudonym key, so that production settings here fail only for what each test
    is about; the pseudonym key's own tests replace or remove it."""
    monkeypatch.setenv("CHORUS_PSEUDONYM_KEY", "a-real-pseudonym-key-of-32-bytes-or-more")


def test_default_secret_is_refused_outside_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.delenv("CHORUS_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="CHORUS_JWT_SECRET"):
        _Settings()
    monkeypatch.setenv("CHORUS_JWT_SECRET", REAL_SECRET)
    assert _Settings().jwt_secret == REAL_SECRET


REAL_SECRET = "a-real-secret-of-32-bytes-or-more"


@pytest.mark.parametrize(
    ("secret", "size"),
    [("a-real-secret", 13), ("x" * 31, 31), ("\u00e9" * 15 + "x", 31)],  # bytes, not letters
)
@pytest.mark.parametrize("providers", ["", '[{"tenant": "acme", "issuer": "https://idp.example"}]'])
def test_a_short_jwt_secret_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, secret: str, size: int, providers: str
) -> None:
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", providers)
    monkeypatch.setenv("CHORUS_JWT_SECRET", secret)
    with pytest.raises(ValidationError) as refused:
        _Settings()
    [error] = refused.value.errors()
    # One line naming the setting; the secret itself appears nowhere in the report.
    assert error["msg"] == (
        f"Value error, CHORUS_JWT_SECRET is {size} bytes long; outside CHORUS_ENV=local a "
        "secret needs at least 32 bytes"
    )
    assert secret not in str(refused.value)


def test_secrets_of_32_bytes_pass_and_local_secrets_may_be_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_JWT_SECRET", "x" * 32)
    assert _Settings().jwt_secret == "x" * 32
    monkeypatch.setenv("CHORUS_ENV", "local")
    monkeypatch.setenv("CHORUS_JWT_SECRET", "short")
    assert _Settings().jwt_secret == "short"


def test_the_development_pseudonym_key_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_JWT_SECRET", REAL_SECRET)
    monkeypatch.delenv("CHORUS_PSEUDONYM_KEY")
    with pytest.raises(ValidationError) as refused:
        _Settings()
    [error] = refused.value.errors()
    assert error["msg"] == "Value error, CHORUS_PSEUDONYM_KEY must be set outside CHORUS_ENV=local"
    # Given explicitly, the development value is refused all the same.
    monkeypatch.setenv("CHORUS_PSEUDONYM_KEY", LOCAL_PSEUDONYM_KEY)
    with pytest.raises(ValidationError, match="CHORUS_PSEUDONYM_KEY must be set"):
        _Settings()
    # Locally it is the default.
    monkeypatch.setenv("CHORUS_ENV", "local")
    monkeypatch.delenv("CHORUS_PSEUDONYM_KEY")
    assert _Settings().pseudonym_key == LOCAL_PSEUDONYM_KEY


@pytest.mark.parametrize(
    ("key", "size"),
    [("a-real-key", 10), ("x" * 31, 31), ("\u00e9" * 15 + "x", 31)],  # bytes, not letters
)
def test_a_short_pseudonym_key_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, key: str, size: int
) -> None:
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_JWT_SECRET", REAL_SECRET)
    monkeypatch.setenv("CHORUS_PSEUDONYM_KEY", key)
    with pytest.raises(ValidationError) as refused:
        _Settings()
    [error] = refused.value.errors()
    # One line naming the setting; the key itself appears nowhere in the report.
    assert error["msg"] == (
        f"Value error, CHORUS_PSEUDONYM_KEY is {size} bytes long; outside CHORUS_ENV=local a "
        "secret needs at least 32 bytes"
    )
    assert key not in str(refused.value)
    monkeypatch.setenv("CHORUS_PSEUDONYM_KEY", "x" * 32)
    assert _Settings().pseudonym_key == "x" * 32


def _providers(issuer: str, jwks_url: str = "") -> str:
    return json.dumps([{"tenant": "acme", "issuer": issuer, "jwks_url": jwks_url}])


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/realms/acme",
        "http://localhost:8080/realms/acme",
        "http://127.0.0.1/realms/acme",
        "ftp://idp.example.com/realms/acme",
        "https:///realms/acme",
        "idp.example.com/realms/acme",
    ],
)
@pytest.mark.parametrize("where", ["issuer", "jwks_url"])
def test_a_provider_other_than_https_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, url: str, where: str
) -> None:
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.delenv("CHORUS_JWT_SECRET", raising=False)
    if where == "issuer":
        monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", _providers(url))
    else:
        monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", _providers("https://idp.example", url))
    with pytest.raises(ValidationError) as refused:
        _Settings()
    [error] = refused.value.errors()
    assert error["msg"] == (
        f"Value error, CHORUS_OIDC_PROVIDERS {where} must be an https:// URL outside "
        "CHORUS_ENV=local"
    )


def test_providers_over_https_pass_and_over_http_only_locally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHORUS_JWT_SECRET", raising=False)
    monkeypatch.setenv("CHORUS_ENV", "production")
    monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", _providers("https://idp.example/realms/acme"))
    [provider] = _Settings().providers
    assert (provider.tenant, provider.issuer, provider.audience) == (
        "acme",
        "https://idp.example/realms/acme",
        "chorus",
    )
    # Outside local, without a secret of its own, no development token is accepted.
    assert _Settings().development_secret == ""
    monkeypatch.setenv("CHORUS_ENV", "local")
    monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", _providers("http://127.0.0.1:8180/realms/acme"))
    assert _Settings().providers[0].issuer == "http://127.0.0.1:8180/realms/acme"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('[{"tenant": "Acme", "issuer": "https://idp.example"}]', "tenant"),
        ('[{"issuer": "https://idp.example"}]', "tenant"),
        ('[{"tenant": "acme"}]', "issuer"),
        ("{", "json"),
    ],
)
def test_a_malformed_provider_list_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, raw: str, field: str
) -> None:
    monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", raw)
    with pytest.raises(ValidationError, match=field):
        _Settings()


def test_an_issuer_named_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = [{"tenant": t, "issuer": "https://idp.example"} for t in ("acme", "globex")]
    monkeypatch.setenv("CHORUS_OIDC_PROVIDERS", json.dumps(twice))
    with pytest.raises(ValidationError, match="more than once"):
        _Settings()


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHORUS_ENV", raising=False)
    settings = _Settings()
    assert settings.database == "chorus_demo"
    assert settings.jwt_secret == LOCAL_JWT_SECRET
    assert "KAFKA_BOOTSTRAP_SERVERS" in _Settings.env_var_names()


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        ({"iss": ...}, "claim 'iss' must name the token's issuer"),
        ({"iss": "https://idp.example/realms/acme"}, "claim 'iss' names an issuer that is not"),
        ({"aud": ...}, "claim 'aud' is missing"),
        ({"aud": "another-app"}, "the token's audience is not this service"),
        ({"exp": ...}, "claim 'exp' is missing"),
        ({"exp": int(time.time()) - 60}, "the token has expired"),
    ],
)
def test_a_development_token_needs_its_issuer_audience_and_lifetime(
    client: TestClient, claims: dict[str, Any], said: str
) -> None:
    response = client.get("/me", headers=_claims(**claims))
    assert response.status_code == 401, response.text
    assert response.json()["detail"].startswith(said)


def test_without_a_secret_no_development_token_is_accepted() -> None:
    app = _app()
    app.state.token_verifier = TokenVerifier(secret="")
    response = TestClient(app).get("/me", headers=_auth())
    assert response.status_code == 401
    assert response.json()["detail"].startswith("claim 'iss' names an issuer that is not trusted")
