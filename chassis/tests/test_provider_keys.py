"""How the services keep an identity provider's keys: fetched once, again on a key id not
seen before (a rotation) but not more often than every 30 s, and kept when a fetch fails.

The provider (token_support.Provider) is served by httpx's mock transport, answering as an
OIDC provider documents (discovery document, then JWKS); the tokens are real RS256 tokens.
"""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from token_support import ISSUER, Provider

from chassis import auth
from chassis.auth import KEYS_RETRY_SECONDS
from chassis.errors import Problem


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    return now


def test_keys_are_fetched_once_then_on_a_rotation(clock: list[float]) -> None:
    provider = Provider()
    provider.add_key("k1")
    verifier = provider.verifier()

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
    verifier = provider.verifier()

    async def run() -> None:
        await verifier.verify(provider.token("k1"))
        for n in range(50):
            intruder.add_key(f"made-up-{n}")
            with pytest.raises(Problem, match="key id is not one of its issuer's keys"):
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
    verifier = provider.verifier()

    async def run() -> None:
        provider.down = True
        with pytest.raises(Problem) as unreachable:
            await verifier.verify(provider.token("k1"))
        assert unreachable.value.status == 503
        # What kind of failure, without the client library's words or the addresses it used.
        assert unreachable.value.detail == (
            f"the keys of {ISSUER} could not be fetched: it answered 503"
        )
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
    verifier = provider.verifier()
    token = jwt.encode(
        {"iss": ISSUER, "aud": "chorus", "sub": "p1", "exp": int(time.time()) + 60},
        provider.keys["k1"],
        algorithm="RS256",
        headers={"kid": "enc-1"},
    )
    with pytest.raises(Problem, match="key id is not one of its issuer's keys"):
        asyncio.run(verifier.verify(token))
