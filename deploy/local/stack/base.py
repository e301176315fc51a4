"""What every part of the local stack shares: the cache folder, its locks, and the errors
the command line prints."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX only; without it concurrent first starts are simply not serialised.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

DEPLOY_LOCAL = Path(__file__).resolve().parents[1]  # deploy/local: sources and configs
REPO_ROOT = DEPLOY_LOCAL.parent.parent
LOCALHOST = "127.0.0.1"


class DevstackError(Exception):
    """A failure explained to a person; the CLI prints it as ``devstack: <message>``."""


class ToolMissing(DevstackError):
    """A program needed on this machine is missing or too old (message is one line)."""


def cache_dir() -> Path:
    """``$CHORUS_CACHE`` or ``<repo>/.cache``; created if missing."""
    raw = os.environ.get("CHORUS_CACHE")
    path = Path(raw).expanduser() if raw else REPO_ROOT / ".cache"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(name: str) -> Iterator[None]:
    """Serialise a first-time download/build (or the CLI) across processes."""
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return "  | (no log)"
    kept = [line for line in data.splitlines() if line.strip()][-lines:]
    return "\n".join(f"  | {line}" for line in kept) or "  | (log is empty)"
