"""The committed JSON Schemas are the models' schemas, and v1 only grows by optional fields."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contracts import ALL_EVENTS
from contracts.compat import breaking_changes
from contracts.schemas import SCHEMA_DIR, generate, render, schema_file_name

REPO = SCHEMA_DIR.parents[1]


def _committed(path: Path) -> dict[str, Any]:
    """The schema as committed at HEAD, or the file on disk outside a git checkout."""
    relative = path.relative_to(REPO).as_posix()
    shown = subprocess.run(
        ["git", "-C", str(REPO), "show", f"HEAD:{relative}"],
        capture_output=True,
        text=True,
        check=False,
    )
    text = shown.stdout if shown.returncode == 0 else path.read_text()
    return json.loads(text)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_name)
def test_committed_schema_matches_the_model(event: Any) -> None:
    path = SCHEMA_DIR / schema_file_name(event)
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text() == render(generate(event)), (
        f"{path.name} drifted from the model: run `make schemas` and commit the result"
    )


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_name)
def test_v1_schema_only_gains_optional_fields(event: Any) -> None:
    for baseline in (
        json.loads((SCHEMA_DIR / schema_file_name(event)).read_text()),
        _committed(SCHEMA_DIR / schema_file_name(event)),
    ):
        problems = breaking_changes(baseline, generate(event))
        assert not problems, (
            f"{event.topic} may only gain optional fields; a breaking change needs a .v2 "
            f"topic: {problems}"
        )


def test_no_schema_file_without_a_model() -> None:
    expected = {schema_file_name(event) for event in ALL_EVENTS}
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} == expected


# -- the compatibility rules themselves ---------------------------------------------------


@pytest.fixture
def schema() -> dict[str, Any]:
    return copy.deepcopy(generate(ALL_EVENTS[1]))


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"]["PostSharedData"]


def test_adding_an_optional_field_is_compatible(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _data(new)["properties"]["note"] = {"type": "string", "default": ""}
    assert breaking_changes(schema, new) == []


def test_adding_a_required_field_breaks(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _data(new)["properties"]["note"] = {"type": "string"}
    _data(new)["required"].append("note")
    assert breaking_changes(schema, new) == ["$.data.note: field is now required"]


def test_removing_a_field_breaks(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    del _data(new)["properties"]["network"]
    _data(new)["required"].remove("network")
    assert "$.data.network: field removed" in breaking_changes(schema, new)


def test_changing_a_type_breaks(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    _data(new)["properties"]["audience_size"]["type"] = "string"
    assert breaking_changes(schema, new) == [
        "$.data.audience_size: 'type' changed from 'integer' to 'string'"
    ]


def test_narrowing_an_enum_breaks(schema: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    new["$defs"]["Network"]["enum"].remove("xing")
    assert breaking_changes(schema, new)
