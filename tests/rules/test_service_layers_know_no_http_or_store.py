"""Service layers and domain rules know neither HTTP nor the store.

- No HTTP: they raise `chassis.domain_errors`; no web framework, no `chassis.errors`, no
  `Problem`. The one mapper in `chassis.errors.install` gives each domain error its status
  and problem+json body.
- No store: no `pymongo` or `bson`, no query or update documents (keys such as `$set`,
  `$in`), and no collection calls. They ask repositories and hand their writes to the unit
  of work (`chassis.uow`); the queries live in each service's `adapters/`.
"""

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
STORES = ("pymongo", "motor", "bson", "chassis.mongo", "chassis.projection")
COLLECTION_CALLS = {
    "find",
    "find_one",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "aggregate",
    "count_documents",
    "bulk_write",
    "distinct",
    "create_index",
}
# SCIM (RFC 7643) names a reference `$ref`: a protocol attribute, not query syntax.
PROTOCOL_KEYS = {"$ref"}


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Every module (and module.name) an import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = "." * node.level + (node.module or "")
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _http_offences(source: str) -> list[str]:
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


def _store_offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node):
                if any(name == s or name.startswith(f"{s}.") for s in STORES):
                    found.append(f"line {node.lineno}: imports {name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("$") and node.value not in PROTOCOL_KEYS:
                if node.value[1:2].isalpha():
                    found.append(f"line {node.lineno}: query operator {node.value!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            text_search = bool(node.args) and isinstance(node.args[0], ast.Constant)
            if node.func.attr in COLLECTION_CALLS and not text_search:  # not str.find("'")
                found.append(f"line {node.lineno}: collection call .{node.func.attr}()")
    return found


def test_every_service_has_layers_to_check() -> None:
    services = {path.relative_to(REPO).parts[1] for path in LAYERS}
    assert {"content", "share", "rewards", "metrics", "people"} <= services


@pytest.mark.parametrize("path", LAYERS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_service_layer_or_domain_module_knows_no_http(path: Path) -> None:
    assert _http_offences(path.read_text()) == []


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
def test_the_http_rule_catches(source: str) -> None:
    assert _http_offences(source) != []


def test_the_http_rule_lets_domain_errors_through() -> None:
    source = "from chassis.domain_errors import NotFound\nraise NotFound('no such item')"
    assert _http_offences(source) == []


@pytest.mark.parametrize("path", LAYERS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_service_layer_or_domain_module_knows_no_store(path: Path) -> None:
    assert _store_offences(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "import pymongo",
        "from pymongo.errors import DuplicateKeyError",
        "from pymongo import ReturnDocument",
        "from bson import ObjectId",
        "from chassis import mongo",
        "query = {'status': 'live', 'expires_at': {'$gt': now}}",
        "update = {'$set': {'a': 1}, '$inc': {'rev': 1}}",
        "ops = [('$gte', start), ('$lte', end)]",
        "await services.repo.items.find_one({'_id': x})",
        "await repo.shares.update_many(owned, changes)",
    ],
)
def test_the_store_rule_catches(source: str) -> None:
    assert _store_offences(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from chassis.uow import UnitOfWork",
        "items = await uow.items.live_for(viewer, now)",
        "price = '$5'",
        'first = reason.find("\'")',
        "ref = {'value': 'u1', '$ref': '../Users/u1'}",
    ],
)
def test_the_store_rule_lets_repositories_through(source: str) -> None:
    assert _store_offences(source) == []
