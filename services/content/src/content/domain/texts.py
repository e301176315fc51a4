"""Suggested share texts: each network's length rule and the tenant's disclosure hashtag."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from contracts import Network

# The event contract carries at most 3,000 characters per text, so no limit goes beyond it
# even where the network itself would take more (Facebook, WhatsApp, e-mail).
CONTRACT_MAX = 3000
LIMITS: dict[Network, int] = {
    Network.X: 280,
    Network.LINKEDIN: 3000,
    Network.FACEBOOK: CONTRACT_MAX,
    Network.XING: CONTRACT_MAX,
    Network.INSTAGRAM: 2200,
    Network.WHATSAPP: CONTRACT_MAX,
    Network.EMAIL: CONTRACT_MAX,
}

# X shortens every link to t.co, so each one counts 23 whatever its length.
X_URL_WEIGHT = 23
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# X counts code points in these ranges (Latin, Greek, Cyrillic, general punctuation) as one
# and every other code point (CJK, emoji, ...) as two.
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def x_length(text: str) -> int:
    """The length X counts for `text` (twitter-text v3 weighting)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    last = 0
    for match in _URL.finditer(text):
        total += _x_weight(text[last : match.start()]) + X_URL_WEIGHT
        last = match.end()
    return total + _x_weight(text[last:])


def _x_weight(text: str) -> int:
    return sum(1 if any(low <= ord(ch) <= high for low, high in _X_LIGHT) else 2 for ch in text)


def length(network: Network, text: str) -> int:
    return x_length(text) if network is Network.X else len(text)


def with_disclosure(text: str, hashtag: str | None) -> str:
    """`text` ending with the tenant's disclosure hashtag, added only when it is missing."""
    if not hashtag:
        return text
    if re.search(rf"(?<!\w){re.escape(hashtag)}(?!\w)", text, re.IGNORECASE):
        return text
    return f"{text.rstrip()} {hashtag}" if text.strip() else hashtag


def prepare(
    texts: Mapping[Network, str], hashtag: str | None, link: str | None
) -> tuple[dict[Network, str], dict[Network, str]]:
    """The texts with the disclosure added, and for each text over its network's limit, why.

    On X the item's link is attached to the post when the text has none of its own, so its
    23 characters (and a space) are counted too.
    """
    out: dict[Network, str] = {}
    errors: dict[Network, str] = {}
    for network, raw in texts.items():
        text = with_disclosure(raw, hashtag)
        used = length(network, text)
        if network is Network.X and link and not _URL.search(text):
            used += 1 + X_URL_WEIGHT
        limit = LIMITS[network]
        if used > limit:
            what = "counted as X counts it, links as 23" if network is Network.X else "characters"
            added = f", with the disclosure {hashtag}" if text != raw else ""
            errors[network] = f"{used} over the limit of {limit} ({what}{added})"
        out[network] = text
    return out, errors
