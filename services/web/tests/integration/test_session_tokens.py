"""The tokens a session holds are encrypted in the database (against the real server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import json_util
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from support import MONGODB_URL, ref
from web.adapters.sessions import SessionStore

TOKENS = {
    "token": "eyJhbGciOiJSUzI1NiJ9.access-token-body.signature",
    "refresh_token": "refresh-token-value-1",
    "id_token": "eyJhbGciOiJSUzI1NiJ9.id-token-body.signature",
}


@pytest.fixture
async def db() -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    name = ref("chorus_web_sessions_")
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


def _person() -> dict[str, Any]:
    return {
        "tenant": "demo",
        "employee_id": "alice",
        "name": "Alice",
        "roles": ["employee"],
        "groups": [],
        "method": "Keycloak",
        "token_renew_at": datetime.now(UTC),
    }


async def test_tokens_are_stored_encrypted_and_read_back(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    key = Fernet.generate_key().decode()
    store = SessionStore(db, key, cache_seconds=0)
    session_id, _ = await store.create(hours=1, **_person(), **TOKENS)

    stored = json_util.dumps(await db["sessions"].find_one({}))
    for value in TOKENS.values():
        assert value not in stored

    read = await SessionStore(db, key, cache_seconds=0).get(session_id)
    assert read is not None
    assert (read.token, read.refresh_token, read.id_token) == tuple(TOKENS.values())

    # Renewed tokens are encrypted too.
    await store.renewed(read, token="renewed-access-token", refresh_token="refresh-token-2")
    stored = json_util.dumps(await db["sessions"].find_one({}))
    assert "renewed-access-token" not in stored and "refresh-token-2" not in stored
    again = await SessionStore(db, key, cache_seconds=0).get(session_id)
    assert again is not None and again.token == "renewed-access-token"


async def test_a_session_under_another_key_signs_its_person_out(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    session_id, _ = await SessionStore(db, Fernet.generate_key().decode()).create(
        hours=1, **_person(), **TOKENS
    )
    other = SessionStore(db, Fernet.generate_key().decode(), cache_seconds=0)
    assert await other.get(session_id) is None
