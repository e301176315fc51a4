"""What the chassis' token tests share: development tokens signed with SECRET, an identity
provider answering as OIDC providers document (discovery document, then JWKS) through
httpx's mock transport, and a small app whose routes need a caller.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field

from chassis import errors
from chassis.auth import (
    AUDIENCE,
    LOCAL_ISSUER,
    CurrentUser,
    OidcProvider,
    Principal,
    TokenVerifier,
    require_roles,
)

SECRET = "test-secret-with-enough-length-for-hs256"
ISSUER = "https://idp.example/realms/acme"


def claims_of(issuer: str = LOCAL_ISSUER, **overrides: Any) -> dict[str, Any]:
    """Valid claims of `issuer`'s token (subject, tenant, roles, lifetime) with `overrides`;
    an override of `...` leaves that claim out."""
    now = int(time.time())
    every: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "e1",
        "tenant": "acme",
        "roles": ["employee"],
        "iat": now,
        "exp": now + 60,
    }
    every.update(overrides)
    return {k: v for k, v in every.items() if v is not ...}


def development_token(**overrides: Any) -> str:
    return jwt.encode(claims_of(**overrides), SECRET, algorithm="HS256")


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

    def jwk(self, kid: str) -> dict[str, Any]:
        """The public key `kid` as the provider publishes it."""
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**data, "kid": kid, "use": "sig", "alg": "RS256"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/certs"})
        assert request.url == f"{ISSUER}/certs"
        self.fetches += 1
        keys = [self.jwk(kid) for kid in self.keys]
        # An encryption key is published beside them and never used to verify.
        keys.append({**keys[0], "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"})
        return httpx.Response(200, json={"keys": keys})

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "chorus", "sub": "p1", "exp": now + 60, **claims}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def verifier(self, secret: str = "") -> TokenVerifier:
        """A verifier trusting this provider as tenant acme's (and, with `secret`, development
        tokens), fetching its keys from it."""
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return TokenVerifier(
            secret=secret, providers=[OidcProvider(tenant="acme", issuer=ISSUER)], client=client
        )


class Body(BaseModel):
    title: str = Field(min_length=1)
    count: int = Field(ge=0)


def app_with(verifier: TokenVerifier) -> FastAPI:
    """An app with problem+json errors whose routes need a caller, as `verifier` says."""
    app = FastAPI()
    app.state.token_verifier = verifier
    errors.install(app)

    @app.post("/things")
    def create(body: Body, user: CurrentUser) -> dict[str, str]:
        return {"tenant": user.tenant, "by": user.employee_id}

    @app.get("/me")
    def me(user: CurrentUser) -> dict[str, Any]:
        return {
            "groups": sorted(user.groups),
            "roles": sorted(user.roles),
            "location": user.location,
            "languages": list(user.languages),
        }

    @app.get("/admin")
    def admin(user: Annotated[Principal, Depends(require_roles("admin"))]) -> dict[str, str]:
        return {"ok": user.employee_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    return app
