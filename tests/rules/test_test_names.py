"""Every test module has a name of its own: pytest imports them by basename (rootdir-based
`prepend` mode), so two files with one name stop the whole run at collection."""

from __future__ import annotations

import collections
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_two_test_modules_share_a_basename() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    roots = config["tool"]["pytest"]["ini_options"]["testpaths"]
    found: dict[str, list[str]] = collections.defaultdict(list)
    for root in roots:
        for path in (REPO / root).rglob("test_*.py"):
            if ".venv" not in path.parts and "node_modules" not in path.parts:
                found[path.name].append(str(path.relative_to(REPO)))
    assert {name: paths for name, paths in found.items() if len(paths) > 1} == {}
