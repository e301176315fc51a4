"""How every service names a person it has erased: the one erasure rule of the platform.

An erasure (an `AdvocateOptedOut` with `erase`, which share publishes for an erasure request
and for a person HR deleted) leaves nothing under the person's id in any service:

- records others still count (a share, a ledger entry, a fact) keep their counters under a
  *pseudonym*: `erased-` and 16 hex digits of a SHA-256 of the opt-out event's id. Every
  service derives the same one from the same event, so a share and its facts still line up,
  and nobody can work it out from the employee id;
- what a service must remember of the person after the erasure (a tombstone, so that a late
  event does not bring them back; which version of them was deleted) is keyed by
  `person_key`: a SHA-256 of tenant and employee id, which finds the record again when the
  id is given, and never names the id.
Pure functions.
"""

from __future__ import annotations

import hashlib

PSEUDONYM_PREFIX = "erased-"


def pseudonym(event_id: str) -> str:
    """The name an erased person's kept records go by, from the erasure event's id."""
    return PSEUDONYM_PREFIX + hashlib.sha256(event_id.encode()).hexdigest()[:16]


def person_key(tenant: str, employee_id: str) -> str:
    """A record of an erased person (or of any person, where the id must not be stored)."""
    return hashlib.sha256(f"{tenant}:{employee_id}".encode()).hexdigest()


def is_pseudonym(name: str | None) -> bool:
    return bool(name) and str(name).startswith(PSEUDONYM_PREFIX)
