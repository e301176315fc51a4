"""Repositories hand the service layer domain objects, not the store's documents.

A repository method that returns `dict[str, Any]` leaks the document's shape (its `_id`,
its field names, its nesting) into every caller. Each service's repositories, directories
and read models return the types its `domain/` declares; the mapping between a document and
its object lives next to the query, in `adapters/`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADAPTERS = sorted(REPO.glob("services/*/src/*/adapters/*.py"))
PORTS = ("Repository", "Directory", "ReadModel")
# A mapping whose values are untyped is a document, whatever it is called.
DOCUMENT = re.compile(r"(dict|Mapping)\[str, (Any|object)\]|\bDocument\b")


def _document_returns(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef) or not node.name.endswith(PORTS):
            continue
        for method in node.body:
            if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if method.name.startswith("_") or method.returns is None:
                continue
            returned = ast.unparse(method.returns)
            if DOCUMENT.search(returned):
                found.append(f"{node.name}.{method.name} -> {returned}")
    return found


def test_every_service_has_repositories_to_check() -> None:
    services = {
        path.relative_to(REPO).parts[1]
        for path in ADAPTERS
        if any(c.endswith(PORTS) for c in _class_names(path.read_text()))
    }
    assert {"content", "share", "rewards", "metrics", "people"} <= services


def _class_names(source: str) -> list[str]:
    return [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]


@pytest.mark.parametrize("path", ADAPTERS, ids=lambda p: str(p.relative_to(REPO)))
def test_a_repository_returns_domain_objects(path: Path) -> None:
    assert _document_returns(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "class ItemRepository:\n    async def get(self, i: str) -> dict[str, Any] | None: ...",
        "class ItemRepository:\n    def page(self) -> list[dict[str, Any]]: ...",
        "class MongoDirectory:\n    async def person(self) -> Mapping[str, Any]: ...",
        "class MongoFeedReadModel:\n    async def rows(self) -> 'list[dict[str, object]]': ...",
    ],
)
def test_the_rule_catches(source: str) -> None:
    assert _document_returns(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "class ItemRepository:\n    async def get(self, i: str) -> Item | None: ...",
        "class ItemRepository:\n    async def purge(self) -> dict[str, int]: ...",
        "class ItemRepository:\n    def _doc(self) -> dict[str, Any]: ...",
        "class Helper:\n    def raw(self) -> dict[str, Any]: ...",
    ],
)
def test_the_rule_lets_domain_objects_through(source: str) -> None:
    assert _document_returns(source) == []
