"""How the services keep an identity provider's keys: fetched once, again on a key id not
seen before (a rotation) but not more often than every 30 s, and kept when a fetch fails.

The provider is served by httpx's mock transport, answering as an OIDC provider documents
(discovery document, then JWKS); the tokens are real RS256 tokens.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chassis import auth
from chassis.auth import KEYS_RETRY_SECONDS, OidcProvider, TokenVerifier
from chassis.errors import Problem

ISSUER = "https://idp.example/realms/acme"


class Provider:
    """Keys by id; counts the JWKS fetches; can be down."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        self.down = False

    def add_key(self, kid: str) -> Any:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[kid] = key
        return key

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/certs"})
        assert request.url == f"{ISSUER}/certs"
        self.fetches += 1
        keys = []
        for kid, key in self.keys.items():
            data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**data, "kid": kid, "use": "sig", "alg": "RS256"})
        # An encryption key is published beside them and never used to verify.
        keys.append({**keys[0], "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"})
        return httpx.Response(200, json={"keys": keys})

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "chorus", "sub": "p1", "exp": now + 60, **claims}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    return now


def _verifier(provider: Provider) -> TokenVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return TokenVerifier(providers=[OidcProvider(tenant="acme", issuer=ISSUER)], client=client)


def test_keys_are_fetched_once_then_on_a_rotation(clock: list[float]) -> None:
    provider = Provider()
    provider.add_key("k1")
    verifier = _verifier(provider)

    async def run() -> None:
        for _ in range(5):
            assert (await verifier.verify(provider.token("k1"))).tenant == "acme"
        assert provider.fetches == 1
        # The provider rotates: its new key is fetched once the retry interval has passed.
        provider.add_key("k2")
        clock[0] += KEYS_RETRY_SECONDS
        assert (await verifier.verify(provider.token("k2"))).employee_id == "p1"
        assert provider.fetches == 2

    asyncio.run(run())


def test_made_up_key_ids_do_not_become_a_flood_of_fetches(clock: list[float]) -> None:
    provider = Provider()
    provider.add_key("k1")
    intruder = Provider()
    verifier = _verifier(provider)

    async def run() -> None:
        await verifier.verify(provider.token("k1"))
        for n in range(50):
            intruder.add_key(f"made-up-{n}")
            with pytest.raises(Problem, match="is not one of the issuer's keys"):
                await verifier.verify(intruder.token(f"made-up-{n}"))
        assert provider.fetches == 1
        clock[0] += KEYS_RETRY_SECONDS
        with pytest.raises(Problem):
            await verifier.verify(intruder.token("made-up-0"))
        assert provider.fetches == 2

    asyncio.run(run())


def test_a_provider_down_keeps_the_keys_known_and_is_a_503_before_any(
    clock: list[float],
) -> None:
    provider = Provider()
    provider.add_key("k1")
    verifier = _verifier(provider)

    async def run() -> None:
        provider.down = True
        with pytest.raises(Problem) as unreachable:
            await verifier.verify(provider.token("k1"))
        assert unreachable.value.status == 503
        provider.down = False
        clock[0] += KEYS_RETRY_SECONDS
        await verifier.verify(provider.token("k1"))
        provider.down = True
        clock[0] += 2 * 3600  # the keys are old: fetched again, which fails, and kept
        assert (await verifier.verify(provider.token("k1"))).tenant == "acme"

    asyncio.run(run())


def test_an_encryption_key_never_verifies(clock: list[float]) -> None:
    provider = Provider()
    provider.add_key("k1")
    verifier = _verifier(provider)
    token = jwt.encode(
        {"iss": ISSUER, "aud": "chorus", "sub": "p1", "exp": int(time.time()) + 60},
        provider.keys["k1"],
        algorithm="RS256",
        headers={"kid": "enc-1"},
    )
    with pytest.raises(Problem, match="'enc-1' is not one of the issuer's keys"):
        asyncio.run(verifier.verify(token))
