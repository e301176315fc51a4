"""Which requests to a short link are human clicks, and who made them (pseudonymously)."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime, timedelta
from urllib.parse import quote, unquote

from cachetools import LRUCache
from crawlerdetect import CrawlerDetect

UNIQUE_WINDOW = timedelta(hours=1)

# Link-preview crawlers, bots and scripts: they fetch the link to render a card or check it,
# no person clicked. CrawlerDetect's list (kept up to date by its maintainers) knows
# over a thousand; ours adds what it leaves out: Office and Outlook fetching a link from a
# mail, and fetchers naming themselves a preview. Measured in docs/architecture.md.
_DETECT = CrawlerDetect()
_ALSO = re.compile(r"ms-office|msoffice|outlook-android|preview", re.IGNORECASE)
# The list is compiled now, not on the first click after the start (about 0.1 s).
_DETECT.is_crawler("Mozilla/5.0")


def is_bot(user_agent: str) -> bool:
    """A crawler, link-preview fetcher or script; an empty user agent counts as one."""
    known: bool | None = _SEEN.get(user_agent)
    if known is None:
        known = (
            not user_agent.strip()
            or _ALSO.search(user_agent) is not None
            or bool(_DETECT.is_crawler(user_agent))
        )
        # User agents repeat: the answer is remembered instead of searched again.
        if len(user_agent) <= 512:
            _SEEN[user_agent] = known
    return known


_SEEN: LRUCache[str, bool] = LRUCache(maxsize=10_000)


def daily_salt(secret: bytes, day: date) -> bytes:
    """The salt of `day`: derived, so every api replica agrees without sharing state."""
    return hmac.new(secret, f"visitor-salt:{day.isoformat()}".encode(), hashlib.sha256).digest()


def visitor_hash(salt: bytes, ip: str, user_agent: str) -> str:
    """Pseudonymous visitor: IP and user agent hashed with the day's salt, never stored raw.

    BLAKE2b keyed with the salt: a MAC like HMAC-SHA256, in one call instead of two hash
    passes, on the path of every click."""
    return hashlib.blake2b(f"{ip}\x1f{user_agent}".encode(), key=salt, digest_size=16).hexdigest()


class DailySalts:
    """The visitor salt of the current UTC day, derived once a day."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._day: date | None = None
        self._salt = b""

    def today(self, now: datetime) -> bytes:
        if now.date() != self._day:
            self._day, self._salt = now.date(), daily_salt(self._secret, now.date())
        return self._salt


def is_unique(last_unique_at: datetime | None, now: datetime) -> bool:
    """A visitor's click is unique when their last unique click on the link is over an hour old."""
    return last_unique_at is None or now - last_unique_at >= UNIQUE_WINDOW


def advocate_cookie(secret: bytes, tenant: str, employee_id: str) -> str:
    """The signed cookie value that tells the redirect an advocate is clicking.

    Tenant and employee id are percent-encoded, so the value is ASCII whatever the ids
    (a header holds Latin-1 at most) and neither can hold the `:` between the parts."""
    payload = f"{tenant}:{employee_id}"
    mac = hmac.new(secret, f"advocate:{payload}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{quote(tenant, safe='')}:{quote(employee_id, safe='')}:{mac}"


def cookie_advocate(secret: bytes, value: str) -> tuple[str, str] | None:
    """(tenant, employee) of a valid advocate cookie, or None for anything else."""
    payload, _, mac = value.rpartition(":")
    tenant, _, employee_id = (unquote(part) for part in payload.partition(":"))
    if not tenant or not employee_id:
        return None
    expected = advocate_cookie(secret, tenant, employee_id).rpartition(":")[2]
    # Compared as bytes: compare_digest raises on a str with non-ASCII characters.
    return (tenant, employee_id) if hmac.compare_digest(mac.encode(), expected.encode()) else None
