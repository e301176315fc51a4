"""Which wording of an item's suggested text a person is offered: pure rules.

Identical posts from many colleagues look fake, so when the curators wrote several
variants each person is offered the one used least so far. A variant counts as used from
the moment it is offered (not only once shared): colleagues who open the share panel at
the same moment then already spread over the variants instead of all getting the same
"least used" one. A person keeps what they were offered, and what they shared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


def pick(used: Sequence[int], employee_id: str) -> int:
    """The least-used variant; among equals, the first counting round from the person's own
    starting place, so a tie is broken the same way for them every time and differently
    for their colleagues."""
    count = len(used)
    start = int.from_bytes(hashlib.sha256(employee_id.encode()).digest()[:4], "big") % count
    return min(range(count), key=lambda i: (used[i], (i - start) % count))


def edited(offered: str, text: str) -> bool:
    """Whether the person changed the wording (spacing alone is no change)."""
    return " ".join(offered.split()) != " ".join(text.split())


@dataclass(frozen=True, slots=True)
class VariantOffer:
    """The variant a person was offered (and keeps), and whether they shared it."""

    variant: int
    shared: bool = False
