"""Single sign-on with each tenant's OpenID Connect provider.

The authorization code flow with PKCE (S256), `state` and `nonce`; the tokens are renewed
with the refresh token, and signing out ends the provider's session too (RP-initiated
logout). Authlib builds the requests; the tokens are checked by the same verifier every
service uses (`chassis.auth`): the access token for Chorus's audience, the ID token for
this client's, with the nonce this sign-in sent.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import httpx2
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from pydantic import BaseModel, Field, TypeAdapter
from pymongo.asynchronous.database import AsyncDatabase

from chassis.auth import (
    TENANT_PATTERN,
    OidcProvider,
    Principal,
    TokenVerifier,
    discover,
    principal_of,
)
from chassis.errors import Problem

# How long a person has to finish signing in at their provider.
PENDING_MINUTES = 10
# An access token is renewed this long before it expires, or after two thirds of its
# lifetime if that comes first (a short-lived token).
RENEW_BEFORE_SECONDS = 30
# ...and at least once a day: a provider's token whose lifetime runs past the last date there
# is is renewed then, not a 500.
RENEW_AT_LEAST_SECONDS = 86_400


class OidcClientSettings(BaseModel):
    """This app's client at a tenant's provider (`WEB_OIDC_CLIENTS`, a JSON list)."""

    tenant: str = Field(pattern=rf"^{TENANT_PATTERN.pattern}$")
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scope: str = "openid profile email"
    # Where the person's display name is in the ID token.
    name_claim: str = "name"


CLIENTS = TypeAdapter(list[OidcClientSettings])


def renew_time(expires: float, issued: float, now: float) -> float:
    """When a session renews an access token issued at `issued` that expires at `expires`:
    RENEW_BEFORE_SECONDS before, or after two thirds of its lifetime if that comes first,
    never before now and at least once a day."""
    before: float = RENEW_BEFORE_SECONDS
    if issued < expires:
        before = min(before, (expires - issued) / 3)
    renew_at = expires - before
    return min(max(renew_at, now), now + RENEW_AT_LEAST_SECONDS)


class SignInFailed(Exception):
    """The provider's answer cannot open a session; `reason` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    """What a finished sign-in (or a renewal) vouches for."""

    principal: Principal
    name: str
    access_token: str
    # When a page renews the access token before it uses it.
    renew_at: datetime
    refresh_token: str
    id_token: str


@dataclass(frozen=True)
class Pending:
    tenant: str
    nonce: str
    verifier: str
    next: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class PendingSignIns:
    """Sign-ins sent to a provider and not back yet, each usable once, from the browser
    that started it (its pre-session cookie), within PENDING_MINUTES."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["signins"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("expires_at")

    async def add(self, state: str, browser: str, pending: Pending) -> None:
        await self.collection.insert_one(
            {
                "_id": _digest(state),
                "browser": _digest(browser),
                "tenant": pending.tenant,
                "nonce": pending.nonce,
                "verifier": pending.verifier,
                "next": pending.next,
                "expires_at": datetime.now(UTC) + timedelta(minutes=PENDING_MINUTES),
            }
        )

    async def take(self, state: str, browser: str) -> Pending | None:
        doc = await self.collection.find_one_and_delete({"_id": _digest(state)})
        if doc is None or not secrets.compare_digest(doc["browser"], _digest(browser)):
            return None
        if doc["expires_at"].replace(tzinfo=UTC) <= datetime.now(UTC):
            return None
        return Pending(doc["tenant"], doc["nonce"], doc["verifier"], doc["next"])

    async def purge_expired(self) -> int:
        result = await self.collection.delete_many({"expires_at": {"$lte": datetime.now(UTC)}})
        return result.deleted_count


class TenantSignIn:
    """One tenant's provider as this app signs people in with it."""

    def __init__(
        self, provider: OidcProvider, client: OidcClientSettings, verifier: TokenVerifier
    ) -> None:
        self.provider = provider
        self.client = client
        self._verifier = verifier
        self._endpoints: dict[str, Any] = {}

    @property
    def label(self) -> str:
        return self.provider.name or self.provider.tenant

    async def endpoints(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once."""
        if not self._endpoints:
            try:
                async with httpx.AsyncClient(timeout=5.0) as http:
                    self._endpoints = await discover(http, self.provider.issuer)
            except httpx.HTTPError as exc:
                raise Problem(
                    503,
                    "Identity provider unreachable",
                    f"the discovery document of {self.provider.issuer} could not be read: {exc}",
                ) from exc
            except ValueError as exc:
                raise Problem(503, "Identity provider misconfigured", str(exc)) from exc
        return self._endpoints

    def _oauth(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client.client_id,
            client_secret=self.client.client_secret,
            scope=self.client.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=10.0,
        )

    async def start(self, redirect_uri: str) -> tuple[str, str, str, str]:
        """The provider's sign-in address, and the state, nonce and PKCE verifier it uses."""
        endpoints = await self.endpoints()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        async with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                endpoints["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
        return url, state, nonce, verifier

    async def finish(self, code: str, redirect_uri: str, pending: Pending) -> SignedIn:
        endpoints = await self.endpoints()
        async with self._oauth(redirect_uri) as oauth:
            try:
                tokens = await oauth.fetch_token(
                    endpoints["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                )
            except (OAuthError, httpx2.HTTPError) as exc:
                raise SignInFailed(f"the code was not exchanged: {exc}") from exc
        return await self._signed_in(dict(tokens), nonce=pending.nonce)

    async def renew(self, refresh_token: str, id_token: str) -> SignedIn:
        endpoints = await self.endpoints()
        async with self._oauth() as oauth:
            try:
                tokens = await oauth.refresh_token(
                    endpoints["token_endpoint"], refresh_token=refresh_token
                )
            except (OAuthError, httpx2.HTTPError) as exc:
                raise SignInFailed(f"the session was not renewed: {exc}") from exc
        renewed = dict(tokens)
        renewed.setdefault("refresh_token", refresh_token)
        renewed.setdefault("id_token", id_token)
        return await self._signed_in(renewed, nonce=None)

    async def _signed_in(self, tokens: dict[str, Any], nonce: str | None) -> SignedIn:
        access, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not isinstance(access, str) or not isinstance(id_token, str):
            raise SignInFailed("the provider sent no access token or no ID token")
        try:
            principal = await self._verifier.verify(access)
            await self._verifier.verify(id_token, audience=self.client.client_id)
        except Problem as exc:
            raise SignInFailed(f"a token was refused: {exc.detail}") from exc
        if principal.tenant != self.provider.tenant:
            raise SignInFailed(f"the token is {principal.tenant!r}'s, not {self.label!r}'s")
        claims = jwt.decode(id_token, options={"verify_signature": False})
        if nonce is not None and not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("the ID token's nonce is not this sign-in's")
        lifetime = jwt.decode(access, options={"verify_signature": False})
        expires = int(lifetime.get("exp", time.time()))
        renew_at = renew_time(expires, int(lifetime.get("iat", expires)), time.time())
        # The ID token says who the person is: the same subject as the access token.
        if principal_of(claims, self.provider).employee_id != principal.employee_id:
            raise SignInFailed("the ID token and the access token name different people")
        name = claims.get(self.client.name_claim)
        return SignedIn(
            principal=principal,
            name=name if isinstance(name, str) and name else principal.employee_id,
            access_token=access,
            renew_at=datetime.fromtimestamp(renew_at, UTC),
            refresh_token=str(tokens.get("refresh_token") or ""),
            id_token=id_token,
        )

    async def logout_url(self, id_token: str, after: str) -> str | None:
        """The provider's end-session address (RP-initiated logout), if it has one."""
        endpoint = (await self.endpoints()).get("end_session_endpoint")
        if not endpoint:
            return None
        query = {
            "client_id": self.client.client_id,
            "post_logout_redirect_uri": after,
        }
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(query)}"


def sign_ins(
    providers: list[OidcProvider], clients: list[OidcClientSettings], verifier: TokenVerifier
) -> dict[str, TenantSignIn]:
    """Each tenant that has both a trusted provider and a client here, by tenant."""
    by_tenant = {p.tenant: p for p in providers}
    return {
        c.tenant: TenantSignIn(by_tenant[c.tenant], c, verifier)
        for c in clients
        if c.tenant in by_tenant
    }
