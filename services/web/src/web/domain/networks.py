"""Networks in the share panel: which first, how long a text may be, how a share opens."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.events import Network
from contracts.texts import LIMITS, length

# The order of the chips when the person has told us nothing: the professional networks
# first, since that is where an employer's content is read.
DEFAULT_ORDER = (
    Network.LINKEDIN,
    Network.X,
    Network.FACEBOOK,
    Network.XING,
    Network.WHATSAPP,
    Network.EMAIL,
    Network.INSTAGRAM,
)
LABELS = {
    Network.LINKEDIN: "LinkedIn",
    Network.X: "X",
    Network.FACEBOOK: "Facebook",
    Network.XING: "XING",
    Network.WHATSAPP: "WhatsApp",
    Network.EMAIL: "Email",
    Network.INSTAGRAM: "Instagram",
}
# Share pages that take only the link and ignore any text: the text goes to the clipboard.
LINK_ONLY = frozenset({Network.LINKEDIN, Network.FACEBOOK, Network.XING, Network.INSTAGRAM})


@dataclass(frozen=True)
class Choice:
    network: Network
    label: str
    limit: int
    text: str
    connected: bool
    direct_posting: bool
    link_only: bool
    # Which of the curators' variants `text` is (None: no suggested text), and of how many.
    variant: int | None = None
    variants: int = 0


def ordered(connected: Iterable[str]) -> list[Network]:
    """The person's own networks first (in the default order), then the rest."""
    mine = {n for n in DEFAULT_ORDER if n.value in set(connected)}
    return [n for n in DEFAULT_ORDER if n in mine] + [n for n in DEFAULT_ORDER if n not in mine]


def choices(
    connected: dict[str, dict[str, object]],
    suggested: dict[str, str],
    fallback: str,
    offered: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Choice]:
    """The networks to share on, each with its text: the variant offered to the person
    (the one their colleagues used least, chosen by the share service), else the
    suggested text, else `fallback`."""
    offered = offered or {}
    out = []
    for n in ordered(connected):
        offer = offered.get(n.value) or {}
        variant = offer.get("variant")
        has_offer = isinstance(variant, int) and isinstance(offer.get("text"), str)
        out.append(
            Choice(
                network=n,
                label=LABELS[n],
                limit=LIMITS[n],
                text=str(offer["text"]) if has_offer else (suggested.get(n.value) or fallback),
                connected=n.value in connected,
                direct_posting=bool((connected.get(n.value) or {}).get("direct_posting")),
                link_only=n in LINK_ONLY,
                variant=variant if has_offer else (0 if suggested.get(n.value) else None),
                variants=int(offer.get("variants") or 0) if has_offer else 0,
            )
        )
    return out


def variant_of(raw: object) -> int | None:
    """A variant index as the share form sends it, if it is one."""
    text = str(raw or "")
    return int(text) if text.isdigit() and len(text) < 3 else None


def parse(value: str) -> Network | None:
    try:
        return Network(value)
    except ValueError:
        return None


def too_long(network: Network, text: str) -> tuple[int, int] | None:
    """(used, limit) when the text is over the network's limit."""
    used, limit = length(network, text), LIMITS[network]
    return (used, limit) if used > limit else None
