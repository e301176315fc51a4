"""JSON Schemas of the events, generated from the models (the one source).

`python -m contracts.schemas` rewrites contracts/schemas/; a test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.envelope import CloudEvent
from contracts.events import ALL_EVENTS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_file_name(event: type[CloudEvent[Any]]) -> str:
    return f"{event.event_name}.v1.json"


def generate(event: type[CloudEvent[Any]]) -> dict[str, Any]:
    schema = event.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = event.schema_url()
    schema["title"] = event.__name__
    # `type` is fixed per event; pin it so subscribers can validate against it.
    schema["properties"]["type"] = {"const": event.event_type(), "type": "string"}
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event in ALL_EVENTS:
        path = directory / schema_file_name(event)
        path.write_text(render(generate(event)))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(path)
