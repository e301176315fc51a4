"""Rules for how a v1 schema may change: it only gains optional fields."""

from __future__ import annotations

from typing import Any

# Keys that document a schema without changing what it accepts.
_ANNOTATIONS = {"title", "description", "examples", "default", "$comment"}


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in `new` breaks a subscriber or producer written against `old` (empty: none)."""
    problems: list[str] = []
    _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "$", problems, set())
    return problems


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        return name, defs.get(name, {})
    return None, schema


def _compare(
    old: dict[str, Any],
    new: dict[str, Any],
    old_defs: dict[str, Any],
    new_defs: dict[str, Any],
    path: str,
    problems: list[str],
    seen: set[tuple[str, str]],
) -> None:
    old_ref, old = _resolve(old, old_defs)
    new_ref, new = _resolve(new, new_defs)
    if old_ref and new_ref:
        if (old_ref, new_ref) in seen:
            return
        seen = seen | {(old_ref, new_ref)}

    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    old_required = set(old.get("required", []))
    new_required = set(new.get("required", []))
    for name in sorted(old_props.keys() - new_props.keys()):
        problems.append(f"{path}.{name}: field removed")
    for name in sorted(new_required - old_required):
        problems.append(f"{path}.{name}: field is now required")
    for name in sorted((old_required - new_required) & new_props.keys()):
        problems.append(f"{path}.{name}: field is no longer required")
    for name in sorted(old_props.keys() & new_props.keys()):
        _compare(
            old_props[name], new_props[name], old_defs, new_defs, f"{path}.{name}", problems, seen
        )

    for key in ("anyOf", "oneOf", "allOf"):
        old_items, new_items = old.get(key), new.get(key)
        if old_items is None and new_items is None:
            continue
        if old_items is None or new_items is None or len(old_items) != len(new_items):
            problems.append(f"{path}: {key} changed")
            continue
        for index, (o, n) in enumerate(zip(old_items, new_items, strict=True)):
            _compare(o, n, old_defs, new_defs, f"{path}[{key}{index}]", problems, seen)

    for key in ("items", "additionalProperties"):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            _compare(old[key], new[key], old_defs, new_defs, f"{path}[{key}]", problems, seen)

    structural = {
        "properties",
        "required",
        "anyOf",
        "oneOf",
        "allOf",
        "items",
        "additionalProperties",
        "$ref",
        "$defs",
    }
    ignored = _ANNOTATIONS | structural
    old_rest = {k: v for k, v in old.items() if k not in ignored}
    new_rest = {k: v for k, v in new.items() if k not in ignored}
    for key in sorted(old_rest.keys() | new_rest.keys()):
        if old_rest.get(key) != new_rest.get(key):
            problems.append(
                f"{path}: '{key}' changed from {old_rest.get(key)!r} to {new_rest.get(key)!r}"
            )
