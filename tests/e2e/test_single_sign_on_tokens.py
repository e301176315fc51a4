"""Tokens from the real local identity provider (Keycloak, `devstack start --keycloak`):
every service accepts the demo realm's tokens for Chorus's audience and refuses the rest.

Each refused token is sent to every service's api, and also given to the verifier itself,
which says why.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chassis.auth import LEEWAY_SECONDS, TokenVerifier, parse_providers
from chassis.errors import Problem
from support import KEYCLOAK_URL, keycloak_issuer, keycloak_providers, keycloak_token

pytestmark = pytest.mark.skipif(
    not KEYCLOAK_URL, reason="needs the local identity provider: devstack start --keycloak"
)

# An authenticated read of each service, as the demo realm's people are allowed it.
READS = {
    "content": "/api/v1/content",
    "share": "/api/v1/shares",
    "rewards": "/api/v1/me/points",
    "metrics": "/api/v1/summary",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def _signed_hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """HMAC-signed by hand: PyJWT rightly refuses to use a public key as an HMAC secret."""
    head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def _realm_public_key_pem(kid: str) -> bytes:
    certs = httpx.get(f"{keycloak_issuer()}/protocol/openid-connect/certs", timeout=10).json()
    [data] = [k for k in certs["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(data).key
    pem: bytes = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    """Every token of the story: one valid, the others each wrong in one way."""
    short = keycloak_token("chorus-tests-short", "carol")  # lives 2 seconds
    valid = keycloak_token("chorus-tests", "alice")
    header, claims = _parts(valid)
    alien_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    made = {
        "valid": valid,
        "another audience": keycloak_token("other-app", "alice", secret="other-app-secret"),
        "another issuer": keycloak_token("chorus-tests", "alice", realm="elsewhere"),
        "tenant not the issuer's": keycloak_token("chorus-tests", "mallory"),
        "alg none": f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}."
        f"{_b64(json.dumps(claims).encode())}.",
        "HS256 with the public key": _signed_hs256(
            header, claims, _realm_public_key_pem(header["kid"])
        ),
        "signed by another key": jwt.encode(
            claims, alien_key, algorithm="RS256", headers={"kid": header["kid"]}
        ),
        "unknown key id": jwt.encode(
            claims, alien_key, algorithm="RS256", headers={"kid": "made-up"}
        ),
    }
    # Past its expiry and the leeway allowed for clocks.
    expires = _parts(short)[1]["exp"]
    time.sleep(max(0.0, expires + LEEWAY_SECONDS + 1 - time.time()))
    made["expired"] = short
    return made


REFUSALS = {
    "another audience": "the token's audience is not this service",
    "another issuer": "claim 'iss' names an issuer that is not trusted",
    "tenant not the issuer's": "claim 'tenant' names a tenant other than its issuer's",
    "alg none": "the token's signing algorithm is not accepted for its issuer",
    "HS256 with the public key": "the token's signing algorithm is not accepted for its issuer",
    "signed by another key": "the token's signature does not match its issuer's key",
    "unknown key id": "the token's key id is not one of its issuer's keys",
    "expired": "the token has expired",
}


def _verify(token: str) -> Any:
    async def run() -> Any:
        verifier = TokenVerifier(providers=parse_providers(keycloak_providers()))
        try:
            return await verifier.verify(token)
        finally:
            await verifier.close()

    # A loop of its own, in a thread: the browser tests' Playwright keeps one running here.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result()


def test_the_demo_realms_token_speaks_for_its_person(tokens: dict[str, str]) -> None:
    principal = _verify(tokens["valid"])
    assert principal.employee_id == "alice"  # the same person as in the demo data
    assert principal.tenant == "demo"
    assert {"employee", "admin"} <= principal.roles
    assert principal.groups == {"people", "leadership"}
    assert principal.location == "Stockholm"


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_the_verifier_refuses_and_says_why(tokens: dict[str, str], case: str) -> None:
    with pytest.raises(Problem) as refused:
        _verify(tokens[case])
    assert refused.value.status == 401
    assert refused.value.detail.startswith(REFUSALS[case]), refused.value.detail


def test_every_service_accepts_the_valid_token_and_refuses_the_others(
    platform: Any, tokens: dict[str, str]
) -> None:
    for service, path in READS.items():
        url = platform.url(service) + path
        ok = httpx.get(url, headers={"Authorization": f"Bearer {tokens['valid']}"}, timeout=10)
        assert ok.status_code == 200, (service, ok.text)
        for case, said in REFUSALS.items():
            response = httpx.get(
                url, headers={"Authorization": f"Bearer {tokens[case]}"}, timeout=10
            )
            assert response.status_code == 401, (service, case, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["detail"].startswith(said), (service, case)
