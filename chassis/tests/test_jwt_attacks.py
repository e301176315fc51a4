"""Forged, stale and malformed bearer tokens, each refused with a 401 in our own words.

Every attack is tried on both ways a token is trusted: a development token (HS256 with the
shared secret, issuer `chorus-local`) and an identity provider's (RS256, its key served as
JWKS by token_support.Provider). The refusal names what is wrong in general terms and
never passes on the JWT library's message, which would tell an attacker which library and
which check they reached, and could echo what they sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from token_support import ISSUER, SECRET, Provider, app_with, claims_of

from chassis.auth import LEEWAY_SECONDS, LOCAL_ISSUER

PROVIDER = Provider()
PROVIDER.add_key("k1")
INTRUDER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Path:
    """One way a token is trusted: whose issuer it names and how its tokens are signed."""

    name: str
    issuer: str
    # The other path's issuer: a token signed this path's way that names it must not pass.
    other_issuer: str

    def sign(self, payload: Any, header: dict[str, Any] | None = None) -> str:
        """`payload` signed as this path's issuer signs, whatever it holds: `jwt.encode`
        would refuse some of the claims an attack needs (an issuer that is not a string)."""
        body = json.dumps(payload).encode()
        if self.name == "development":
            return jwt.api_jws.encode(body, SECRET, algorithm="HS256", headers=header)
        head = {"kid": "k1", **(header or {})}
        return jwt.api_jws.encode(body, PROVIDER.keys["k1"], algorithm="RS256", headers=head)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return claims_of(self.issuer, **overrides)


DEVELOPMENT = Path("development", LOCAL_ISSUER, ISSUER)
IDP = Path("provider", ISSUER, LOCAL_ISSUER)
PATHS = (DEVELOPMENT, IDP)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: Any) -> str:
    return _b64(json.dumps(value).encode())


def _hmac_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """HMAC-signed by hand: PyJWT rightly refuses to use a public key as an HMAC secret."""
    head_and_body = f"{_json({**header, 'alg': 'HS256'})}.{_json(payload)}"
    signature = hmac.new(key, head_and_body.encode(), hashlib.sha256).digest()
    return f"{head_and_body}.{_b64(signature)}"


def _public_pem() -> bytes:
    public = PROVIDER.keys["k1"].public_key()
    pem: bytes = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def _unsigned(path: Path, alg: Any, *, signature: str = "") -> str:
    """A token that says it needs no signature, optionally with a real one left on."""
    head = _json({"alg": alg, "typ": "JWT", "kid": "k1"})
    return f"{head}.{_json(path.claims(roles=['admin']))}.{signature}"


def _signature_of(token: str) -> str:
    return token.rsplit(".", 1)[1]


def _with_payload(token: str, payload: Any) -> str:
    head, _, signature = token.split(".")
    return f"{head}.{_json(payload)}.{signature}"


def _with_raw_payload(path: Path, payload: bytes) -> str:
    head, _, signature = path.sign(path.claims()).split(".")
    return f"{head}.{_b64(payload)}.{signature}"


def _with_header(path: Path, header: Any) -> str:
    return f"{_json(header)}.{_json(path.claims())}.{_signature_of(path.sign(path.claims()))}"


# Our refusals, word for word.
MALFORMED = "the token is not three base64url parts: a JSON header, JSON claims and a signature"
HEADER = "the token's header is not one this service accepts"
TOO_LONG = "the token is longer than 16384 characters"
ALGORITHM = "the token's signing algorithm is not accepted for its issuer"
SIGNATURE = "the token's signature does not match its issuer's key"
UNKNOWN_KEY = "the token's key id is not one of its issuer's keys"
EXPIRED = "the token has expired"
NOT_YET = "the token is not valid yet"
AUDIENCE = "the token's audience is not this service"
UNTRUSTED = "claim 'iss' names an issuer that is not trusted"
NO_ISSUER = "claim 'iss' must name the token's issuer"


def _missing(name: str) -> str:
    return f"claim '{name}' is missing"


def _time(name: str) -> str:
    return f"claim '{name}' must be a number of seconds since 1970-01-01 UTC"


def _strings(name: str) -> str:
    return f"claim '{name}' must be a list of strings"


SUBJECT = "claim 'sub' must be a non-empty string"
# A development token's tenant is its claim; a provider's is the provider's, which a tenant
# claim may repeat but not contradict.
TENANT = {
    "development": "claim 'tenant' must be a non-empty string",
    "provider": "claim 'tenant' names a tenant other than its issuer's",
}


@dataclass(frozen=True)
class Attack:
    name: str
    forge: Callable[[Path], str]
    # Our detail, or each path's where they differ.
    detail: str | dict[str, str]
    paths: tuple[Path, ...] = field(default=PATHS)

    def detail_on(self, path: Path) -> str:
        return self.detail if isinstance(self.detail, str) else self.detail[path.name]


def _now() -> int:
    return int(time.time())


ATTACKS = [
    # Unsigned tokens: `alg: none` in any spelling, with or without a signature left on.
    Attack("alg none", lambda p: _unsigned(p, "none"), ALGORITHM),
    Attack(
        "alg none with a signature",
        lambda p: _unsigned(p, "none", signature=_signature_of(p.sign(p.claims()))),
        ALGORITHM,
    ),
    Attack("alg None", lambda p: _unsigned(p, "None"), ALGORITHM),
    Attack("alg NONE", lambda p: _unsigned(p, "NONE"), ALGORITHM),
    Attack("alg nOnE", lambda p: _unsigned(p, "nOnE"), ALGORITHM),
    Attack("alg not a string", lambda p: _unsigned(p, 5), ALGORITHM),
    # HS/RS confusion: the provider's public key (which anyone can fetch) as an HMAC secret.
    # A provider's tokens are never HMAC; a development token's secret is not that key.
    Attack(
        "HS256 with the public key as PEM",
        lambda p: _hmac_signed({"kid": "k1"}, p.claims(roles=["admin"]), _public_pem()),
        {"development": SIGNATURE, "provider": ALGORITHM},
    ),
    Attack(
        "HS256 with the public key as JWK",
        lambda p: _hmac_signed({"kid": "k1"}, p.claims(), json.dumps(PROVIDER.jwk("k1")).encode()),
        {"development": SIGNATURE, "provider": ALGORITHM},
    ),
    Attack(
        "signed this way, claiming the other issuer",
        lambda p: p.sign(claims_of(p.other_issuer)),
        ALGORITHM,
    ),
    # Keys the provider did not publish.
    Attack(
        "a key id not in the JWKS",
        lambda p: jwt.encode(p.claims(), INTRUDER, algorithm="RS256", headers={"kid": "k-9"}),
        UNKNOWN_KEY,
        paths=(IDP,),
    ),
    Attack(
        "another key under the provider's key id",
        lambda p: jwt.encode(p.claims(), INTRUDER, algorithm="RS256", headers={"kid": "k1"}),
        SIGNATURE,
        paths=(IDP,),
    ),
    Attack(
        "the signing key embedded in the header",
        lambda p: jwt.encode(
            p.claims(),
            INTRUDER,
            algorithm="RS256",
            headers={
                "kid": "k1",
                "jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(INTRUDER.public_key())),
            },
        ),
        SIGNATURE,
        paths=(IDP,),
    ),
    Attack("a key id not a string", lambda p: _with_header(p, {"alg": "HS256", "kid": 5}), HEADER),
    Attack(
        "a key id as a list", lambda p: _with_header(p, {"alg": "RS256", "kid": ["k1"]}), HEADER
    ),
    Attack(
        "an unknown critical header",
        lambda p: p.sign(p.claims(), {"crit": ["x-ours"], "x-ours": 1}),
        HEADER,
    ),
    # Tampering.
    Attack(
        "a tampered payload",
        lambda p: _with_payload(p.sign(p.claims()), p.claims(roles=["admin"])),
        SIGNATURE,
    ),
    Attack(
        "the signature left out", lambda p: p.sign(p.claims()).rsplit(".", 1)[0] + ".", SIGNATURE
    ),
    # Lifetime.
    Attack("expired an hour ago", lambda p: p.sign(p.claims(exp=_now() - 3600)), EXPIRED),
    Attack(
        "expired beyond the leeway",
        lambda p: p.sign(p.claims(exp=_now() - LEEWAY_SECONDS - 5)),
        EXPIRED,
    ),
    Attack("not valid yet", lambda p: p.sign(p.claims(nbf=_now() + 3600)), NOT_YET),
    Attack("issued in the future", lambda p: p.sign(p.claims(iat=_now() + 3600)), NOT_YET),
    Attack("no expiry", lambda p: p.sign(p.claims(exp=...)), _missing("exp")),
    Attack("expiry as a string", lambda p: p.sign(p.claims(exp=str(_now() + 60))), _time("exp")),
    Attack("expiry as text", lambda p: p.sign(p.claims(exp="tomorrow")), _time("exp")),
    Attack("expiry infinite", lambda p: p.sign(p.claims(exp=float("inf"))), _time("exp")),
    Attack("expiry not a number", lambda p: p.sign(p.claims(exp=float("nan"))), _time("exp")),
    Attack("expiry true", lambda p: p.sign(p.claims(exp=True)), _time("exp")),
    Attack("not-before as a list", lambda p: p.sign(p.claims(nbf=[0])), _time("nbf")),
    Attack("issued-at as text", lambda p: p.sign(p.claims(iat="today")), _time("iat")),
    # Audience.
    Attack("another audience", lambda p: p.sign(p.claims(aud="another-app")), AUDIENCE),
    Attack("audiences without ours", lambda p: p.sign(p.claims(aud=["a", "b"])), AUDIENCE),
    Attack("an empty audience list", lambda p: p.sign(p.claims(aud=[])), _missing("aud")),
    Attack(
        "an audience not a string",
        lambda p: p.sign(p.claims(aud=5)),
        "claim 'aud' must be a string or a list of strings",
    ),
    Attack("no audience", lambda p: p.sign(p.claims(aud=...)), _missing("aud")),
    # Issuer.
    Attack("an issuer not trusted", lambda p: p.sign(claims_of("https://evil.example")), UNTRUSTED),
    Attack("no issuer", lambda p: p.sign(p.claims(iss=...)), NO_ISSUER),
    Attack("an empty issuer", lambda p: p.sign(p.claims(iss="")), NO_ISSUER),
    Attack("an issuer not a string", lambda p: p.sign(p.claims(iss=[ISSUER])), NO_ISSUER),
    # Tenant.
    Attack(
        "no tenant",
        lambda p: p.sign(p.claims(tenant=...)),
        TENANT["development"],
        paths=(DEVELOPMENT,),
    ),
    Attack("another tenant", lambda p: p.sign(p.claims(tenant="globex")), TENANT, paths=(IDP,)),
    Attack("a tenant as a number", lambda p: p.sign(p.claims(tenant=7)), TENANT),
    Attack("a tenant as a list", lambda p: p.sign(p.claims(tenant=["acme"])), TENANT),
    Attack("a tenant as an object", lambda p: p.sign(p.claims(tenant={"id": "acme"})), TENANT),
    # Subject, roles and groups.
    Attack("no subject", lambda p: p.sign(p.claims(sub=...)), SUBJECT),
    Attack("a subject as a number", lambda p: p.sign(p.claims(sub=5)), SUBJECT),
    Attack("a subject as a list", lambda p: p.sign(p.claims(sub=["e1"])), SUBJECT),
    Attack("a subject as an object", lambda p: p.sign(p.claims(sub={"id": "e1"})), SUBJECT),
    Attack("roles as a string", lambda p: p.sign(p.claims(roles="admin")), _strings("roles")),
    Attack("roles as an object", lambda p: p.sign(p.claims(roles={"admin": 1})), _strings("roles")),
    Attack(
        "roles with a number", lambda p: p.sign(p.claims(roles=["admin", 1])), _strings("roles")
    ),
    Attack("groups as a string", lambda p: p.sign(p.claims(groups="sales")), _strings("groups")),
    Attack("groups as a number", lambda p: p.sign(p.claims(groups=7)), _strings("groups")),
    Attack("groups with a null", lambda p: p.sign(p.claims(groups=[None])), _strings("groups")),
    Attack(
        "a token id not a string",
        lambda p: p.sign(p.claims(jti=5)),
        "claim 'jti' must be a string",
    ),
    # Not a token at all.
    Attack("one part", lambda p: "abc", MALFORMED),
    Attack("two parts", lambda p: p.sign(p.claims()).rsplit(".", 1)[0], MALFORMED),
    Attack("four parts", lambda p: p.sign(p.claims()) + ".abc", MALFORMED),
    Attack("only dots", lambda p: "..", MALFORMED),
    Attack("not base64url", lambda p: "!!!.???.***", MALFORMED),
    Attack(
        "a header not JSON",
        lambda p: f"{_b64(b'not json')}.{_json(p.claims())}.{_signature_of(p.sign(p.claims()))}",
        MALFORMED,
    ),
    Attack("a header as a JSON list", lambda p: _with_header(p, ["HS256"]), MALFORMED),
    Attack(
        "claims not JSON",
        lambda p: _with_raw_payload(p, b"{oops"),
        MALFORMED,
    ),
    Attack(
        "claims as a JSON list",
        lambda p: _with_payload(p.sign(p.claims()), [p.issuer]),
        MALFORMED,
    ),
    Attack(
        "claims nested 5000 deep",
        lambda p: _with_raw_payload(p, b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        MALFORMED,
    ),
    # Large enough to cost every service some parsing on every request, and larger than any
    # identity provider's token: refused before it is decoded.
    Attack("100 KB, validly signed", lambda p: p.sign(p.claims(pad="x" * 100_000)), TOO_LONG),
    Attack("100 KB of dots", lambda p: "." * 100_000, TOO_LONG),
]

# What the library's messages and exceptions are made of; none may reach the caller.
LIBRARY_WORDS = (
    "jwt",
    "jose",
    "joserfc",
    "pyjwt",
    "signature verification",
    "signature has expired",
    "not enough segments",
    "invalid header",
    "invalid payload",
    "padding",
    "specified alg",
    "must be an integer",
    "audience doesn't match",
    "invalid claim format",
    "critical extension",
    "key id header",
    "error",
    "exception",
    "traceback",
)


def _cases() -> list[Any]:
    return [
        pytest.param(path, attack, id=f"{path.name}: {attack.name}")
        for attack in ATTACKS
        for path in attack.paths
    ]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app_with(PROVIDER.verifier(secret=SECRET)), raise_server_exceptions=False)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_a_valid_token_of_either_kind_is_accepted(client: TestClient, path: Path) -> None:
    # Without this, every refusal below could be a verifier that refuses everything.
    response = client.get("/me", headers={"Authorization": f"Bearer {path.sign(path.claims())}"})
    assert response.status_code == 200, response.text
    # A time is a number however large (Python's float() of this one would overflow).
    lasting = path.sign(path.claims(exp=10**400))
    assert client.get("/me", headers={"Authorization": f"Bearer {lasting}"}).status_code == 200


def test_a_providers_token_needs_no_tenant_claim(client: TestClient) -> None:
    # Its tenant is the provider's; a tenant claim may only repeat it.
    untenanted = IDP.sign(IDP.claims(tenant=...))
    assert client.get("/me", headers={"Authorization": f"Bearer {untenanted}"}).status_code == 200


@pytest.mark.parametrize(("path", "attack"), _cases())
def test_an_attack_is_a_401_in_our_own_words(
    client: TestClient, path: Path, attack: Attack
) -> None:
    token = attack.forge(path)
    response = client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith(
        'Bearer error="invalid_token", error_description="'
    )
    body = response.json()
    assert body["title"] == "Invalid token"
    assert body["detail"] == attack.detail_on(path)
    said = f"{body['title']} {body['detail']}".lower()
    assert not [word for word in LIBRARY_WORDS if word in said]
    # Nothing of what was sent comes back.
    assert not [part for part in token.split(".") if len(part) >= 8 and part in response.text]
