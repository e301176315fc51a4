"""Processes that outlive the one that started them: whether one still runs (a zombie does
not), waiting for a condition, and the state file where the command line records what it
started."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import cache_dir


def proc_cmdline(pid: int) -> str | None:
    """The command line of a live (non-zombie) process, or None."""
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            if stat[stat.rindex(")") + 2] in "ZX":
                return None
            return (proc / "cmdline").read_bytes().replace(b"\x00", b" ").decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            return None
    try:  # no /proc (macOS): ask ps
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    out = subprocess.run(
        ["ps", "-o", "stat=,command=", "-p", str(pid)], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not out or out.startswith("Z"):
        return None
    return out


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Only zombies left (not yet reaped by their parent) count as gone.
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def state_file() -> Path:
    return cache_dir() / "devstack-state.json"


def load_state() -> dict[str, Any]:
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    for kind in ("kafka", "mongo"):  # entries written before they were keyed by port
        entry = data.pop(kind, None)
        if isinstance(entry, dict) and "port" in entry:
            data.setdefault(f"{kind}:{entry['port']}", entry)
    return data


# `start` starts Keycloak in a thread of its own: one writer of the state at a time.
_STATE_LOCK = threading.Lock()


def record_entry(state: dict[str, Any], key: str, entry: dict[str, Any] | None) -> None:
    """Set (None: remove) one entry of the state and save the state file."""
    with _STATE_LOCK:
        if entry is None:
            state.pop(key, None)
        else:
            state[key] = entry
        path = state_file()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)
