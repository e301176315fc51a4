"""Sessions and the few per-person settings the web app keeps, in its own database.

The browser holds only a random session id (the cookie); the database holds its SHA-256,
so a leaked copy of the collection opens no session. A session carries the person's
bearer token for the services' APIs: a development token minted at the local sign-in
today, the identity provider's access token once single sign-on is configured. Pages
read the session only, never how it was signed in. The tokens a session holds (the bearer
token, and the provider's refresh and ID tokens) are encrypted at rest with `WEB_TOKEN_KEY`
(Fernet): a leaked copy of the collection holds no usable token either.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import TTLCache
from cryptography.fernet import Fernet, InvalidToken
from pymongo.asynchronous.database import AsyncDatabase


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Session:
    id_hash: str
    tenant: str
    employee_id: str
    name: str
    roles: list[str]
    groups: list[str]
    token: str
    csrf: str
    expires_at: datetime
    created_at: datetime
    location: str | None = None
    languages: list[str] = field(default_factory=list)
    # How the person signed in: "dev" (the local sign-in page) or an identity provider's name.
    method: str = "dev"
    # The person's chosen language (None: the browser's), and when they were last here
    # before this session: feed items published since are marked new.
    language: str | None = None
    last_visit: datetime | None = None
    # Signed in with an identity provider: when its access token is renewed, and what
    # renews it and ends the provider's session.
    token_renew_at: datetime | None = None
    refresh_token: str = ""
    id_token: str = ""

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


@dataclass
class Preferences:
    """What the person chose in the web app."""

    language: str | None = None
    # When the person last opened the feed: items published after it are "new".
    feed_seen_at: datetime | None = None


# The session's fields that hold tokens, encrypted in the database.
SECRET_FIELDS = ("token", "refresh_token", "id_token")


class SessionStore:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], token_key: str, cache_seconds: float = 10.0
    ) -> None:
        self._fernet = Fernet(token_key.encode())
        self.sessions = db["sessions"]
        self.preferences = db["preferences"]
        # A session is read on every request; a copy held a few seconds saves a database
        # round trip per page. Logout in this process drops the copy at once.
        self._cache: TTLCache[str, Session] = TTLCache(maxsize=50_000, ttl=cache_seconds)

    async def ensure_indexes(self) -> None:
        await self.sessions.create_index("expires_at")
        await self.sessions.create_index([("tenant", 1), ("employee_id", 1)])

    async def create(
        self, *, hours: float, now: datetime | None = None, **fields: Any
    ) -> tuple[str, Session]:
        """A new session; returns the id for the cookie and the session."""
        now = now or datetime.now(UTC)
        session_id = secrets.token_urlsafe(32)
        session = Session(
            id_hash=_digest(session_id),
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            **fields,
        )
        doc = self._sealed(asdict(session))
        doc["_id"] = doc.pop("id_hash")
        await self.sessions.insert_one(doc)
        self._cache[session.id_hash] = session
        return session_id, session

    async def get(self, session_id: str, now: datetime | None = None) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        key = _digest(session_id)
        session = self._cache.get(key)
        if session is None:
            doc = await self.sessions.find_one({"_id": key})
            if doc is None:
                return None
            doc["id_hash"] = doc.pop("_id")
            for name in ("expires_at", "created_at", "last_visit", "token_renew_at"):
                if isinstance(doc.get(name), datetime):
                    doc[name] = doc[name].replace(tzinfo=UTC)
            doc = self._opened(doc)
            if doc is None:
                return None
            session = Session(**{k: v for k, v in doc.items() if k in Session.__dataclass_fields__})
            self._cache[key] = session
        if session.expires_at <= (now or datetime.now(UTC)):
            return None
        return session

    def _sealed(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {
            k: self._fernet.encrypt(v.encode()).decode() if k in SECRET_FIELDS and v else v
            for k, v in doc.items()
        }

    def _opened(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """The stored session with its tokens decrypted; None when they cannot be (written
        under another key): the person signs in again."""
        try:
            return {
                k: self._fernet.decrypt(v.encode()).decode() if k in SECRET_FIELDS and v else v
                for k, v in doc.items()
            }
        except InvalidToken:
            return None

    async def set_language(self, session: Session, language: str | None) -> None:
        """The person's language, for this session and the next ones."""
        session.language = language
        await self.sessions.update_many(
            {"tenant": session.tenant, "employee_id": session.employee_id},
            {"$set": {"language": language}},
        )
        for cached in list(self._cache.values()):
            if cached.tenant == session.tenant and cached.employee_id == session.employee_id:
                cached.language = language
        await self.save_preferences(session.tenant, session.employee_id, language=language)

    async def delete(self, session_id: str) -> None:
        await self.end(_digest(session_id))

    async def end(self, id_hash: str) -> None:
        self._cache.pop(id_hash, None)
        await self.sessions.delete_one({"_id": id_hash})

    async def renewed(self, session: Session, **fields: Any) -> None:
        """The session with a renewed token (and what the token now says of the person)."""
        for name, value in fields.items():
            setattr(session, name, value)
        await self.sessions.update_one({"_id": session.id_hash}, {"$set": self._sealed(fields)})

    async def delete_person(
        self, tenant: str, employee_id: str, *, keep_preferences: bool = False
    ) -> None:
        """Every session of a person and, unless kept, their settings (erasure)."""
        for key, session in list(self._cache.items()):
            if session.tenant == tenant and session.employee_id == employee_id:
                self._cache.pop(key, None)
        await self.sessions.delete_many({"tenant": tenant, "employee_id": employee_id})
        if not keep_preferences:
            await self.preferences.delete_one({"_id": f"{tenant}:{employee_id}"})

    async def purge_expired(self, now: datetime | None = None) -> int:
        result = await self.sessions.delete_many({"expires_at": {"$lte": now or datetime.now(UTC)}})
        return result.deleted_count

    async def preferences_of(self, tenant: str, employee_id: str) -> Preferences:
        doc = await self.preferences.find_one({"_id": f"{tenant}:{employee_id}"}) or {}
        seen = doc.get("feed_seen_at")
        return Preferences(
            language=doc.get("language"),
            feed_seen_at=seen.replace(tzinfo=UTC) if isinstance(seen, datetime) else None,
        )

    async def save_preferences(self, tenant: str, employee_id: str, **fields: Any) -> None:
        await self.preferences.update_one(
            {"_id": f"{tenant}:{employee_id}"},
            {"$set": {**fields, "tenant": tenant, "employee_id": employee_id}},
            upsert=True,
        )
