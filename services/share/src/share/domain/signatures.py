"""Webhook signatures: HMAC-SHA256 over the timestamp and the raw body."""

from __future__ import annotations

import hashlib
import hmac

MAX_SKEW_SECONDS = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_problem(
    secret: bytes | None, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str | None:
    """Why a webhook's signature is not acceptable, or None. Without a `secret` (the
    report names no connector we know) the answer is the one of a wrong signature, so a
    caller cannot tell which tenants and connectors exist."""
    if not timestamp or not signature:
        return "X-Chorus-Timestamp and X-Chorus-Signature headers are required"
    # ASCII digits only, and not too many: int() also reads "+1", "1_0" and other scripts'
    # digits, and a number past a float's range would break the subtraction below.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "X-Chorus-Timestamp: not a Unix time in seconds"
    sent = int(timestamp)
    # A bounded window, so a captured request cannot be replayed later.
    if abs(now - sent) > MAX_SKEW_SECONDS:
        return "X-Chorus-Timestamp: too far from the current time"
    # Compared as bytes: compare_digest raises on a str with non-ASCII characters.
    if secret is None or not hmac.compare_digest(
        sign(secret, timestamp, body).encode(), signature.encode()
    ):
        return "X-Chorus-Signature: does not match the body"
    return None
