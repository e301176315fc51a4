"""Fault points for crash tests: `CHORUS_FAULTS=after-outbox-write` kills the process there.

The check is one dictionary lookup; outside tests the variable is unset and nothing happens.
"""

from __future__ import annotations

import functools
import logging
import os

log = logging.getLogger(__name__)


@functools.cache  # read once: the variable is set when the process starts
def _armed() -> frozenset[str]:
    return frozenset(filter(None, os.environ.get("CHORUS_FAULTS", "").split(",")))


def checkpoint(name: str) -> None:
    """Die on the spot, as a SIGKILL would, when the fault point `name` is armed."""
    if name in _armed():
        log.warning("fault point reached, exiting", extra={"fault": name})
        os._exit(137)
