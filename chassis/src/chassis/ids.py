"""Identifiers: time-ordered, so sorting by id is sorting by creation."""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
from typing import Any

from chassis.errors import Problem

_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """24 hex characters: milliseconds since the epoch, then randomness."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def short_code(length: int = 8) -> str:
    """A random base62 code for short links (62^8 ≈ 2.2e14 values)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, default=str).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The position a list left off at; a 400 problem naming `cursor` when it is not ours."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "Invalid cursor", "cursor: not a cursor this API returned") from exc
    if not isinstance(value, dict):
        raise Problem(400, "Invalid cursor", "cursor: not a cursor this API returned")
    return value
