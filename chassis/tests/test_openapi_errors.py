"""Every route of every service documents its problem+json errors in its OpenAPI document,
so a client generated from it can handle them."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from chassis.errors import PROBLEM_JSON
from chassis.limits import _api_routes, _needs_bearer
from chassis.process import ServiceDefinition, create_app

SERVICES = {
    "content": "ContentSettings",
    "share": "ShareSettings",
    "rewards": "RewardsSettings",
    "metrics": "MetricsSettings",
    "people": "PeopleSettings",
}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _service(name: str) -> tuple[ServiceDefinition, dict[str, Any]]:
    definition: ServiceDefinition = importlib.import_module(f"{name}.bootstrap").DEFINITION
    settings = getattr(importlib.import_module(f"{name}.config"), SERVICES[name])(env="local")
    return definition, create_app(definition, "api", settings).openapi()


def _operations(definition: ServiceDefinition) -> list[tuple[Any, str]]:
    return [
        (route, method)
        for route in _api_routes(r for router in definition.routers() for r in router.routes)
        if route.include_in_schema and not getattr(route, "__chorus_own_errors__", False)
        for method in sorted(route.methods or ())
    ]


# People's routes are SCIM's, whose errors are SCIM error bodies (see the last test).
@pytest.mark.parametrize("name", ["content", "share", "rewards", "metrics"])
def test_every_route_documents_its_problems(name: str) -> None:
    definition, document = _service(name)
    missing = []
    operations = _operations(definition)
    assert operations, "no routes of the service's own"
    for route, method in operations:
        responses = document["paths"][route.path_format][method.lower()]["responses"]
        needed = {"422"}
        if _needs_bearer(route.dependant):
            needed |= {"401", "403"}
        if route.dependant.path_params:
            needed.add("404")
        if method in {"POST", "PUT", "PATCH"}:
            needed |= {"409", "413"}
        for status in sorted(needed - set(responses)):
            missing.append(f"{method} {route.path_format} {status}")
        for status, response in responses.items():
            if int(status) >= 400 and response["content"] != {PROBLEM_JSON: {"schema": PROBLEM}}:
                missing.append(f"{method} {route.path_format} {status} is not problem+json")
    assert missing == []
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert problem["properties"]["errors"]["items"]["required"] == ["field", "message"]
    assert problem["additionalProperties"] is True


def test_a_route_adds_the_problems_only_it_knows() -> None:
    _, document = _service("share")
    shares = document["paths"]["/api/v1/shares"]["post"]["responses"]
    assert {"424", "429"} <= set(shares)
    assert shares["429"]["content"][PROBLEM_JSON]["schema"] == PROBLEM
    _, content = _service("content")
    previews = content["paths"]["/api/v1/previews"]["post"]["responses"]["429"]
    assert "previews a minute" in previews["description"]


def test_scim_routes_keep_their_own_errors() -> None:
    _, document = _service("people")
    users = document["paths"]["/scim/v2/Users/{user_id}"]["get"]["responses"]
    # The service documents them itself, as SCIM answers them.
    assert list(users["404"]["content"]) == ["application/scim+json"]
    assert all(PROBLEM_JSON not in r.get("content", {}) for r in users.values())
