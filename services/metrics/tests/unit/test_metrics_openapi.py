"""Every JSON route of metrics documents its response body in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chassis.process import create_app
from metrics.bootstrap import DEFINITION
from metrics.config import MetricsSettings

JSON = "application/json"


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _untyped(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """No schema, or an object that only says it has some properties (`dict[str, Any]`)."""
    schema = _resolve(schema, components)
    if not schema:
        return True
    return schema.get("type") == "object" and not schema.get("properties")


def test_every_json_route_has_a_typed_response_body() -> None:
    app = create_app(DEFINITION, "api", MetricsSettings(env="local"))
    document = app.openapi()
    components = document.get("components", {}).get("schemas", {})
    ours = {
        (route.path, method.lower())
        for router in DEFINITION.routers()
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    assert ours
    untyped = []
    for path, method in sorted(ours):
        operation = document["paths"][path][method]
        for status, response in operation["responses"].items():
            body = response.get("content", {}).get(JSON)
            if status.startswith("2") and body is not None and _untyped(body["schema"], components):
                untyped.append(f"{method.upper()} {path} {status}")
    assert untyped == [], "routes without a response model: " + ", ".join(untyped)
