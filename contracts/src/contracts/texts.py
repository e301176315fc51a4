"""Each network's length rule for a share text: one definition for every service.

The content service enforces it on suggested texts; the web app counts with it as the
person types and before it sends a share.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from contracts.events import Network

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
URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# X counts code points in these ranges (Latin, Greek, Cyrillic, general punctuation) as one
# and every other code point (CJK, emoji, ...) as two.
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def x_length(text: str) -> int:
    """The length X counts for `text` (twitter-text v3 weighting)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    last = 0
    for match in URL.finditer(text):
        total += _x_weight(text[last : match.start()]) + X_URL_WEIGHT
        last = match.end()
    return total + _x_weight(text[last:])


def _x_weight(text: str) -> int:
    return sum(1 if any(low <= ord(ch) <= high for low, high in _X_LIGHT) else 2 for ch in text)


def length(network: Network, text: str) -> int:
    return x_length(text) if network is Network.X else len(text)


def variants(
    suggested: Mapping[str, str], more: Mapping[str, Sequence[str]], network: Network
) -> list[str]:
    """Every wording of `network`'s suggested text, by variant index (empty: none).

    Variant 0 is the suggested text; the item's `text_variants` follow it (an event's or a
    stored copy's, keyed by the network's value).
    """
    first = suggested.get(network.value)
    if not first:
        return []
    return [first, *(t for t in more.get(network.value) or () if t)]
