"""Bearer tokens: JWTs from the tenants' identity providers (OIDC), verified by their JWKS,
and HS256 development tokens for local runs.

Every token must name its issuer (`iss`) and its audience (`aud`). A provider's token is
checked with that provider's published keys only (RS/ES/PS algorithms, never HMAC: a token
"signed" HS256 with the public key is refused, and so is `alg: none`), for that provider's
audience, and its tenant is the provider's: a `tenant` claim that says otherwise is refused.
The development issuer is trusted only while a shared secret is configured.

A refused token is a 401 whose detail is ours, naming what is wrong in general terms ("the
token has expired", "claim 'tenant' must be a non-empty string"): never the JWT library's
message, which tells a caller which library and which of its checks they reached, and never
what the token said.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, Field, TypeAdapter

from chassis.errors import Problem

if TYPE_CHECKING:
    from chassis.directory import Directory

log = logging.getLogger(__name__)

ROLES = ("employee", "curator", "admin")

# Tenant ids: lower-case letters, digits and hyphens, starting with a letter or digit, at
# most 63 characters (a DNS label). Without this a tenant "a" could reach tenant "a:b"'s
# documents, whose ids are "<tenant>:<id>" with the id taken from the request; with ':'
# impossible in a tenant, "<tenant>:<id>" is unambiguous.
TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

# The development tokens' issuer and the audience every Chorus api answers to by default.
LOCAL_ISSUER = "chorus-local"
AUDIENCE = "chorus"
# Clocks drift: `exp`, `nbf` and `iat` are allowed this many seconds either way.
LEEWAY_SECONDS = 10
# Longer tokens are refused before they are decoded. An identity provider's token is a few
# KB (a Keycloak token naming a hundred groups is about 8 KB); anything longer only makes
# every service pay for decoding it on every request.
MAX_TOKEN_CHARS = 16 * 1024
# The claims read as times, in the order PyJWT checks them.
TIME_CLAIMS = ("iat", "nbf", "exp")
# Keys are fetched again after this long, and on a key id not seen before, but then not
# more often than every KEYS_RETRY_SECONDS: a flood of made-up key ids must not become a
# flood of requests to the provider.
KEYS_MAX_AGE_SECONDS = 3600.0
KEYS_RETRY_SECONDS = 30.0
# Asymmetric algorithms only: a provider's key is public, so HMAC with it proves nothing.
PROVIDER_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcProvider(BaseModel):
    """A tenant's identity provider, as every service trusts it (`CHORUS_OIDC_PROVIDERS`).

    The claim names are paths: `realm_access.roles` reads `{"realm_access": {"roles": []}}`.
    An empty claim name means the provider does not send it.
    """

    tenant: str = Field(pattern=rf"^{TENANT_PATTERN.pattern}$")
    issuer: str = Field(min_length=1)
    audience: str = AUDIENCE
    # Where its keys are; empty: the `jwks_uri` of its discovery document.
    jwks_url: str = ""
    # The name shown on the sign-in button.
    name: str = ""
    # Where the person's id, tenant, roles, groups, location and languages are.
    subject_claim: str = "sub"
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"
    groups_claim: str = "groups"
    location_claim: str = "location"
    languages_claim: str = "languages"


PROVIDERS = TypeAdapter(list[OidcProvider])


def parse_providers(raw: str) -> list[OidcProvider]:
    return PROVIDERS.validate_json(raw) if raw.strip() else []


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


def _refused(detail: str) -> Problem:
    # RFC 6750, section 3: a token sent and refused is an `invalid_token` (a request without
    # one gets the bare challenge).
    challenge = f'Bearer error="invalid_token", error_description="{_quotable(detail)}"'
    return Problem(401, "Invalid token", detail, headers={"WWW-Authenticate": challenge})


def _quotable(text: str) -> str:
    """Text an RFC 6750 error_description may hold: printable ASCII but quote and backslash."""
    return "".join(c for c in text if " " <= c <= "~" and c not in '"\\')


class ProviderKeys:
    """One provider's signing keys, fetched without blocking the event loop and kept.

    PyJWT's own `PyJWKClient` fetches with urllib, which blocks the loop (or costs a thread
    hop on every request), and fetches again on every unknown key id; this keeps the keys
    in memory, fetches with httpx, one fetch at a time, and at most every
    KEYS_RETRY_SECONDS when a token names a key the provider has not published.
    """

    def __init__(self, provider: OidcProvider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK:
        if self._stale() or self._find(kid) is None:
            async with self._lock:  # one fetch at a time; the others then look again
                # Without any key yet (the provider was down), try again every second.
                interval = KEYS_RETRY_SECONDS if self._keys else 1.0
                due = time.monotonic() - self._tried_at >= interval
                if due and (self._stale() or self._find(kid) is None):
                    await self._fetch()
        if not self._keys:
            raise self._unreachable("no keys fetched yet")
        found = self._find(kid)
        if found is None:
            raise _refused("the token's key id is not one of its issuer's keys")
        return found

    def _stale(self) -> bool:
        return time.monotonic() - self._fetched_at > KEYS_MAX_AGE_SECONDS

    def _unreachable(self, why: str) -> Problem:
        return Problem(
            503,
            "Identity provider unreachable",
            f"the keys of {self.provider.issuer} could not be fetched: {why}",
        )

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            # A provider with a single key may leave the key id out.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            url = self.provider.jwks_url or await self._discovered_jwks_url()
            reply = await self._client.get(url)
            reply.raise_for_status()
            keys: dict[str, jwt.PyJWK] = {}
            for data in reply.json().get("keys", []):
                if data.get("use", "sig") != "sig":
                    continue
                try:
                    key = jwt.PyJWK(data)
                except jwt.PyJWTError:
                    continue  # a key type or algorithm this library does not know
                if key.algorithm_name in PROVIDER_ALGORITHMS:
                    keys[str(data.get("kid", ""))] = key
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            # The caller is told what kind of failure it was; the log has the details (an
            # address inside the network, a library's message).
            log.warning(
                "identity provider keys not fetched",
                extra={"issuer": self.provider.issuer, "error": repr(exc)},
            )
            if self._keys:
                return  # keep the keys already known; try again later
            raise self._unreachable(_fetch_failure(exc)) from exc
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _discovered_jwks_url(self) -> str:
        return str((await discover(self._client, self.provider.issuer))["jwks_uri"])


def _fetch_failure(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"it answered {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return "it did not answer"
    return "its answer was not a discovery document and key set"


async def discover(client: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    """An OpenID provider's discovery document, which must name `issuer` as its own; raises
    httpx.HTTPError when it cannot be read and ValueError when it is not the issuer's."""
    reply = await client.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    reply.raise_for_status()
    document = reply.json()
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        named = document.get("issuer") if isinstance(document, dict) else None
        raise ValueError(f"the discovery document names issuer {named!r}, not {issuer!r}")
    return document


class TokenVerifier:
    """Verifies bearer tokens: the providers' (by issuer) and, with a secret, development ones."""

    def __init__(
        self,
        *,
        secret: str = "",
        providers: Iterable[OidcProvider] = (),
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._secret = secret
        self._client = client or httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        self._providers = {p.issuer: ProviderKeys(p, self._client) for p in providers}

    def provider(self, issuer: str) -> OidcProvider | None:
        keys = self._providers.get(issuer)
        return keys.provider if keys else None

    async def close(self) -> None:
        await self._client.aclose()

    async def verify(self, token: str, *, audience: str | None = None) -> Principal:
        """The token's principal, or a 401 problem saying what is wrong with it.

        `audience` replaces the provider's (an id token's audience is the client's id)."""
        if len(token) > MAX_TOKEN_CHARS:
            raise _refused(f"the token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
            # Read for its issuer, which says how to check it; trusted only once checked.
            said = jwt.decode(token, options={"verify_signature": False})
        except jwt.DecodeError as exc:
            raise _refused(
                "the token is not three base64url parts: a JSON header, JSON claims and a signature"
            ) from exc
        except jwt.PyJWTError as exc:  # a key id not a string, a critical extension unknown
            raise _refused("the token's header is not one this service accepts") from exc
        issuer = said.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise _invalid_claim("iss", "must name the token's issuer")
        keys = self._providers.get(issuer)
        provider = keys.provider if keys else None
        key: Any
        if keys is not None:
            found = await keys.key(header.get("kid"))
            key, algorithms = found.key, [found.algorithm_name]
        elif issuer == LOCAL_ISSUER and self._secret:
            key, algorithms = self._secret, ["HS256"]
        else:
            raise _invalid_claim("iss", "names an issuer that is not trusted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience or (provider.audience if provider else AUDIENCE),
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                # The subject's type is checked below, in our own words like every claim's.
                options={"require": ["iss", "aud", "exp"], "verify_sub": False},
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc, said) from exc
        wrong = _wrong_time(claims)
        if wrong:
            raise wrong
        return principal_of(claims, provider)


def _refusal(exc: jwt.PyJWTError, claims: dict[str, Any]) -> Problem:
    """Our words for why PyJWT refused a token. `claims` are the token's: PyJWT checks the
    signature before any claim, so a claim at fault is a signed one."""
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return _refused("the token's signing algorithm is not accepted for its issuer")
    if isinstance(exc, jwt.InvalidSignatureError):
        return _refused("the token's signature does not match its issuer's key")
    # A time of the wrong type is named as such, whatever PyJWT made of it (`true` is 1: long
    # expired; "tomorrow" is its DecodeError).
    wrong = _wrong_time(claims)
    if wrong:
        return wrong
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return _invalid_claim(str(exc.claim), "is missing")
    if isinstance(exc, jwt.ExpiredSignatureError):
        return _refused("the token has expired")
    if isinstance(exc, jwt.ImmatureSignatureError):  # `nbf` or `iat` in the future
        return _refused("the token is not valid yet")
    if isinstance(exc, jwt.InvalidAudienceError):
        aud = claims.get("aud")
        if not isinstance(aud, str) and not (
            isinstance(aud, list) and all(isinstance(a, str) for a in aud)
        ):
            return _invalid_claim("aud", "must be a string or a list of strings")
        return _refused("the token's audience is not this service")
    if isinstance(exc, jwt.exceptions.InvalidJTIError):  # not exported at the top
        return _invalid_claim("jti", "must be a string")
    return _refused("the token is not valid")


def _wrong_time(claims: dict[str, Any]) -> Problem | None:
    """A refusal naming the first time claim present that is not a finite JSON number, if
    one is. A NumericDate is a number (RFC 7519, section 2), but PyJWT reads times with
    int(), so "exp": "99999999999" would pass."""
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        # An int is finite however large; isfinite() would overflow converting it to float.
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        ):
            return _invalid_claim(name, "must be a number of seconds since 1970-01-01 UTC")
    return None


# How development tokens name their claims: the defaults.
_DEVELOPMENT = OidcProvider(tenant="local", issuer=LOCAL_ISSUER)


def principal_of(claims: dict[str, Any], provider: OidcProvider | None) -> Principal:
    """Who verified claims speak for, read where the provider puts each claim."""
    if provider is None:  # a development token: every claim under its own name
        provider = _DEVELOPMENT
        tenant = _tenant(_text(claims, "tenant"))
    else:
        tenant = provider.tenant
        said = _claim(claims, provider.tenant_claim)
        if said is not None and said != tenant:
            raise _invalid_claim(provider.tenant_claim, "names a tenant other than its issuer's")
    location = _text(claims, provider.location_claim, optional=True)
    return Principal(
        employee_id=_text(claims, provider.subject_claim),
        tenant=tenant,
        roles=frozenset(_texts(claims, provider.roles_claim)),
        groups=frozenset(_texts(claims, provider.groups_claim)),
        location=location or None,
        languages=tuple(_texts(claims, provider.languages_claim)),
    )


def _invalid_claim(name: str, why: str) -> Problem:
    return _refused(f"claim '{name}' {why}")


def _claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, None where any step is missing (or no path is given)."""
    if not path:
        return None
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _text(claims: dict[str, Any], name: str, *, optional: bool = False) -> str:
    """A string claim; a required one must not be empty, an optional one may be absent."""
    value = _claim(claims, name)
    if optional and value is None:
        return ""
    if not isinstance(value, str) or not (value or optional):
        raise _invalid_claim(name, "must be a string" if optional else "must be a non-empty string")
    return value


def _tenant(tenant: str) -> str:
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
    value = _claim(claims, name)
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
    """An HS256 development token for local runs and tests."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": LOCAL_ISSUER,
        "aud": AUDIENCE,
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


def bearer_token(headers: Any) -> str:
    """The token of an `Authorization: Bearer` header; a 401 problem without one."""
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "Authentication required",
            "send an 'Authorization: Bearer <token>' header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


async def current_principal(request: Request) -> Principal:
    """The caller, as their token says, with what the service's copy of HR's directory
    says of their groups, location and languages (see chassis.directory) when it keeps one."""
    # The body limits' middleware verified the token already on most routes.
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = await verifier.verify(bearer_token(request.headers))
    directory: Directory | None = getattr(request.app.state, "directory", None)
    if directory is not None:
        principal = await directory.overlay(principal)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency that lets the caller in only with one of `roles`. A coroutine, as every
    dependency that does no blocking work is: FastAPI runs a plain function in its thread
    pool, a hop per request for nothing."""

    async def check(user: CurrentUser) -> Principal:
        if not user.has_any(roles):
            raise Problem(403, "Forbidden", f"needs one of the roles: {', '.join(roles)}")
        return user

    return check
