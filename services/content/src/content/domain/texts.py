"""Suggested share texts: each network's length rule and the tenant's disclosure hashtag."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set

from contracts import Network
from contracts.texts import LIMITS, URL, X_URL_WEIGHT, length, x_length

__all__ = ["LIMITS", "length", "prepare", "prepare_variants", "with_disclosure", "x_length"]


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
        if network is Network.X and link and not URL.search(text):
            used += 1 + X_URL_WEIGHT
        limit = LIMITS[network]
        if used > limit:
            what = "counted as X counts it, links as 23" if network is Network.X else "characters"
            added = f", with the disclosure {hashtag}" if text != raw else ""
            errors[network] = f"{used} over the limit of {limit} ({what}{added})"
        out[network] = text
    return out, errors


def prepare_variants(
    variants: Mapping[Network, Sequence[str]],
    suggested: Set[Network],
    hashtag: str | None,
    link: str | None,
) -> tuple[dict[Network, list[str]], list[tuple[str, str]]]:
    """Further wordings of the suggested texts, prepared as they are, and what is wrong.

    Blank variants are dropped. A network's variants only make sense beside its suggested
    text (variant 0), so variants of a network without one are refused. Errors name the
    field as `text_variants.<network>.<position>`.
    """
    out: dict[Network, list[str]] = {}
    errors: list[tuple[str, str]] = []
    for network, raw in variants.items():
        kept = [(i, t) for i, t in enumerate(raw) if t.strip()]
        if not kept:
            continue
        if network not in suggested:
            errors.append((f"text_variants.{network.value}", "write the suggested text first"))
            continue
        texts: list[str] = []
        for i, text in kept:
            prepared, too_long = prepare({network: text}, hashtag, link)
            texts.append(prepared[network])
            if network in too_long:
                errors.append((f"text_variants.{network.value}.{i}", too_long[network]))
        out[network] = texts
    return out, errors
