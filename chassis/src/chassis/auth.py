"""Bearer tokens: OIDC-style JWTs, RS256 via JWKS in production, HS256 for local runs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from chassis.errors import Problem

ROLES = ("employee", "curator", "admin")

# Tenant ids: lower-case letters, digits and hyphens, starting with a letter or digit, at
# most 63 characters (a DNS label). Without this a tenant "a" could reach tenant "a:b"'s
# documents, whose ids are "<tenant>:<id>" with the id taken from the request; with ':'
# impossible in a tenant, "<tenant>:<id>" is unambiguous.
TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class Principal:
    """The caller: who they are, in which tenant, with which roles and groups."""

    employee_id: str
    tenant: str
    roles: frozenset[str]
    groups: frozenset[str] = field(default_factory=frozenset)
    # Optional profile claims used for targeting: `location` and `languages` (BCP 47).
    location: str | None = None
    languages: tuple[str, ...] = ()

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & set(roles))


class TokenVerifier:
    def __init__(self, *, secret: str = "", jwks_url: str = "", audience: str | None = None):
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._audience = audience

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self._secret, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                # The subject's type is checked below, in our own words like every claim's.
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": self._audience is not None,
                    "verify_sub": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Problem(
                401, "Invalid token", str(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from exc
        return Principal(
            employee_id=_text(claims, "sub"),
            tenant=_tenant(claims),
            roles=frozenset(_texts(claims, "roles")),
            groups=frozenset(_texts(claims, "groups")),
            location=_text(claims, "location", optional=True) or None,
            languages=tuple(_texts(claims, "languages")),
        )


def _invalid_claim(name: str, why: str) -> Problem:
    return Problem(
        401, "Invalid token", f"claim '{name}' {why}", headers={"WWW-Authenticate": "Bearer"}
    )


def _text(claims: dict[str, Any], name: str, *, optional: bool = False) -> str:
    """A string claim; a required one must not be empty, an optional one may be absent."""
    value = claims.get(name)
    if optional and value is None:
        return ""
    if not isinstance(value, str) or not (value or optional):
        raise _invalid_claim(name, "must be a string" if optional else "must be a non-empty string")
    return value


def _tenant(claims: dict[str, Any]) -> str:
    tenant = _text(claims, "tenant")
    if not TENANT_PATTERN.fullmatch(tenant):
        raise _invalid_claim(
            "tenant",
            "must be lower-case letters, digits and hyphens, starting with a letter or digit, "
            "at most 63 characters",
        )
    return tenant


def _texts(claims: dict[str, Any], name: str) -> list[str]:
    """A list-of-strings claim, absent or null meaning none. A string is refused, not read
    letter by letter: `"groups": "sales"` would otherwise make the caller a member of "s"."""
    value = claims.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid_claim(name, "must be a list of strings")
    return value


def issue_token(
    secret: str,
    *,
    sub: str,
    tenant: str,
    roles: Iterable[str] = ("employee",),
    groups: Iterable[str] = (),
    location: str | None = None,
    languages: Iterable[str] = (),
    ttl_seconds: int = 12 * 3600,
) -> str:
    """An HS256 token for local runs and tests."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "tenant": tenant,
        "roles": list(roles),
        "groups": list(groups),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if location:
        claims["location"] = location
    if languages:
        claims["languages"] = list(languages)
    return jwt.encode(claims, secret, algorithm="HS256")


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "Authentication required",
            "send an 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token)


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """Dependency that lets the caller in only with one of `roles`."""

    def check(user: CurrentUser) -> Principal:
        if not user.has_any(roles):
            raise Problem(403, "Forbidden", f"needs one of the roles: {', '.join(roles)}")
        return user

    return check
