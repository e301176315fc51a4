"""Service layers and domain rules raise `chassis.domain_errors` and know nothing of HTTP:
no web framework, no `chassis.errors`, no `Problem`. The one mapper in
`chassis.errors.install` gives each domain error its status and problem+json body."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERS = sorted(
    path
    for layer in ("service_layer", "domain")
    for path in REPO.glob(f"services/*/src/*/{layer}/**/*.py")
)
WEB = ("fastapi", "starlette")


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Every module (and module.name) an import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = "." * node.level + (node.module or "")
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node):
                if name.split(".")[0] in WEB or name == "chassis.errors":
                    found.append(f"line {node.lineno}: imports {name}")
        elif isinstance(node, ast.Name) and node.id == "Problem":
            found.append(f"line {node.lineno}: uses Problem")
        elif isinstance(node, ast.Attribute) and node.attr == "Problem":
            found.append(f"line {node.lineno}: uses .Problem")
    return found


def test_every_service_has_layers_to_check() -> None:
    services = {path.relative_to(REPO).parts[1] for path in LAYERS}
    assert {"content", "share", "rewards", "metrics", "people"} <= services


@pytest.mark.parametrize("path", LAYERS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_service_layer_or_domain_module_knows_no_http(path: Path) -> None:
    assert _offences(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "import fastapi",
        "from fastapi import HTTPException",
        "from starlette.status import HTTP_404_NOT_FOUND",
        "from chassis.errors import Problem",
        "from chassis import errors",
        "import chassis.errors",
        "raise errors.Problem(404, 'Not found')",
        "def refused() -> 'x':\n    return Problem(409, 'Conflict')",
    ],
)
def test_the_rule_catches(source: str) -> None:
    assert _offences(source) != []


def test_the_rule_lets_domain_errors_through() -> None:
    source = "from chassis.domain_errors import NotFound\nraise NotFound('no such item')"
    assert _offences(source) == []
