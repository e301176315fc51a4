"""Headers every response of the web app carries.

The Content-Security-Policy allows scripts and styles from this origin only: no inline
script, no inline style attribute, no eval (htmx is configured not to need one), and no
framing by anyone (`frame-ancestors 'none'`). Forms post to this origin only, and to the
identity providers' (signing out of Chorus goes on to sign out of the provider).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


def csp(providers: Iterable[str] = ()) -> str:
    """The policy, with the providers' issuer addresses among the forms' targets."""
    origins = sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, providers)})
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # Content images come from the company's sites and CDNs.
            "img-src 'self' https: data:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            " ".join(["form-action 'self'", *origins]),
            "frame-ancestors 'none'",
        ]
    )


HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), clipboard-write=(self)"),
]


class SecurityHeaders:
    """Raw ASGI: adds the headers to every HTTP response, error pages included."""

    def __init__(self, app: Any, providers: Iterable[str] = ()) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", csp(providers).encode()), *HEADERS]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(n, v) for n, v in self.headers if n not in names],
                ]
                if scope.get("scheme") == "https":
                    message["headers"].append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
