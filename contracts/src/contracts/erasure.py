"""How every service names a person it has erased: the one erasure rule of the platform.

An erasure (an `AdvocateOptedOut` with `erase`, which share publishes for an erasure request
and for a person HR deleted) leaves nothing under the person's id in any service:

- records others still count (a share, a ledger entry, a fact) keep their counters under a
  *pseudonym*: `erased-` and 16 hex digits of a SHA-256 of the opt-out event's id. Every
  service derives the same one from the same event, so a share and its facts still line up,
  and nobody can work it out from the employee id;
- what a service must remember of the person after the erasure (a tombstone, so that a late
  event does not bring them back; which version of them was deleted) is keyed by
  `person_key`: an HMAC-SHA256 of tenant and employee id under the platform's *pseudonym
  key* (`CHORUS_PSEUDONYM_KEY`), which finds the record again when the id is given, and
  never names the id. An unkeyed hash would not do: anyone holding a copy of a database
  could hash every employee id of a tenant and find who was erased. Without the key they
  cannot, and destroying the key makes every stored `person_key` unlinkable for good (at a
  price: see docs/architecture.md, *Erasure, as one flow*).

**Where the key comes from.** Every process is given the same key and sets it here once,
when it starts (`use_pseudonym_key`, which `chassis.process` calls from the settings before
anything is served or consumed); `person_key` then reads it. Passing a keyed object to every
place that names a person instead would thread a secret through pure domain code (the feed's
targeting, metrics' facts, the directory) that has no other reason to know about secrets,
and every such place would have to be given the same one anyway: there is one key per
installation, not one per call. Until a process sets it the key is the development one
(`LOCAL_PSEUDONYM_KEY`), which is what unit tests, the test processes and local runs use,
so a key computed in a test matches the one a service stored; the settings refuse that
value outside CHORUS_ENV=local. `person_key` stays a pure function of its arguments and the
key: give `key=` to compute one under another key without touching the process's.
Pure functions otherwise.
"""

from __future__ import annotations

import hashlib
import hmac

PSEUDONYM_PREFIX = "erased-"

# The pseudonym key of local runs and tests; refused outside CHORUS_ENV=local.
LOCAL_PSEUDONYM_KEY = "chorus-local-development-only-pseudonym-key"

# The key this process keys `person_key` with: set once at start (`use_pseudonym_key`).
_process_key: bytes = LOCAL_PSEUDONYM_KEY.encode()


def use_pseudonym_key(key: str) -> None:
    """Key every `person_key` of this process with `key` (once, at start, from settings)."""
    global _process_key
    if not key:
        raise ValueError("the pseudonym key is empty")
    _process_key = key.encode()


def pseudonym(event_id: str) -> str:
    """The name an erased person's kept records go by, from the erasure event's id."""
    return PSEUDONYM_PREFIX + hashlib.sha256(event_id.encode()).hexdigest()[:16]


def person_key(tenant: str, employee_id: str, *, key: str | None = None) -> str:
    """A record of an erased person (or of any person, where the id must not be stored):
    HMAC-SHA256 of `tenant:employee_id` under the pseudonym key (the process's unless
    `key` is given)."""
    secret = key.encode() if key is not None else _process_key
    message = f"{tenant}:{employee_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def is_pseudonym(name: str | None) -> bool:
    return bool(name) and str(name).startswith(PSEUDONYM_PREFIX)
