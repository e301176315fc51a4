"""Identifiers: time-ordered, so sorting by id is sorting by creation."""

from __future__ import annotations

import base64
import itertools
import json
import os
import secrets
import string
import time
from typing import Any

from chassis.domain_errors import DomainError

_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """24 hex characters: milliseconds since the epoch, then randomness."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


class Sequence:
    """32 hex characters, unique without asking the system for randomness every time.

    A random 64-bit prefix drawn once (per process and again after a fork), then a
    counter: for hot paths where `uuid4()` costs a system call per id."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._new_prefix()
        # A forked child must not repeat its parent's ids.
        os.register_at_fork(after_in_child=self._new_prefix)

    def _new_prefix(self) -> None:
        self._prefix = secrets.token_hex(8)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


def short_code(length: int = 8) -> str:
    """A random base62 code for short links (62^8 ≈ 2.2e14 values)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, default=str).encode()).decode()


class InvalidCursor(DomainError):
    """A list was asked to go on from a cursor it never returned (400)."""

    default_title = "Invalid cursor"

    def __init__(self) -> None:
        super().__init__("cursor: not a cursor this API returned", field="cursor")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The position a list left off at; `InvalidCursor` when it is not ours."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(value, dict):
        raise InvalidCursor()
    return value
