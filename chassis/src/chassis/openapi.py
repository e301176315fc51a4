"""The errors of every api route in its OpenAPI document, so clients generated from it
can handle them.

Every error an api returns is problem+json (`chassis.errors`); this module documents them
in one place, from what the route itself shows:
- every route can answer 422 (a request of the wrong shape);
- a route that needs a bearer token (it depends on `current_principal`) 401 and 403, one
  authenticated by headers of its own (`limits.requires_headers`) 401;
- a route with path parameters 404 (what they name does not exist, or not for the caller),
  one that pages by a `cursor` 400 (`chassis.ids.InvalidCursor`);
- a route that takes a body 413 (`limits.BodyLimits`), and a route that writes 409: the
  outbox refuses a write to a document changed meanwhile (`Conflict`).
A route adds what only it knows (a daily cap's 429, a network's 424) with
`responses=problems(429)`. Whatever 4xx or 5xx a route documents is given the `Problem`
schema with the application/problem+json media type; routes whose errors are not
problem+json (SCIM's own error bodies) are left as they are with `own_errors(router)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from chassis.errors import PROBLEM_JSON
from chassis.limits import _BODY_METHODS, _REQUIRED_HEADERS, _api_routes, _needs_bearer

# What each status means to a client, in the document's words.
DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be served as sent (a cursor this api never returned)",
    401: "No token, or one that is refused",
    403: "The caller's role or tenant does not allow it",
    404: "What the path names does not exist, or not for the caller",
    409: "The current state does not allow it, or it changed meanwhile",
    413: "The request body is too large",
    422: "A field of the request is invalid; `errors` names each",
    424: "A system it depends on refused or failed",
    429: "Too many requests, or an allowance used up; `Retry-After` says when to retry",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    # Extension members (`max_bytes`, `current_version`) say more about some problems.
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_OWN_ERRORS = "__chorus_own_errors__"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's own problem statuses (the rest are derived)."""
    return {status: {"description": DESCRIPTIONS.get(status, "Error")} for status in statuses}


def own_errors(router: APIRouter) -> APIRouter:
    """Mark the routes of `router` as answering errors in a format of their own, which this
    module leaves undocumented rather than document as problem+json."""
    for route in router.routes:
        setattr(route, _OWN_ERRORS, True)
    return router


def derived_statuses(route: APIRoute, method: str) -> set[int]:
    """The problem statuses a route can answer by what it depends on and takes."""
    statuses = {422}
    if _needs_bearer(route.dependant):
        statuses |= {401, 403}
    if getattr(route.endpoint, _REQUIRED_HEADERS, ()):
        statuses.add(401)
    if route.dependant.path_params:
        statuses.add(404)
    if any(param.name == "cursor" for param in route.dependant.query_params):
        statuses.add(400)  # `chassis.ids.InvalidCursor`: a cursor this api never returned
    if method in _BODY_METHODS:
        statuses.add(413)
    if method in _WRITES:
        statuses.add(409)
    return statuses


def _problem_response(status: int, given: dict[str, Any] | None) -> dict[str, Any]:
    description = (given or {}).get("description") or DESCRIPTIONS.get(status, "Error")
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}


def route_operations(
    document: dict[str, Any], routes: Iterable[Any]
) -> Iterator[tuple[APIRoute, str, dict[str, Any]]]:
    """Each api route's operations in `document`: the route, the method and the operation."""
    for route in _api_routes(routes):
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                yield route, method, operation


def document_errors(document: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """`document` with each route's problem responses and the `Problem` schema."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own shape of a 422, which our handler never sends.
    for route, method, operation in route_operations(document, routes):
        if not route.include_in_schema or getattr(route, _OWN_ERRORS, False):
            continue
        responses = operation.setdefault("responses", {})
        declared = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
        for status in sorted(declared | derived_statuses(route, method)):
            responses[str(status)] = _problem_response(status, responses.get(str(status)))
    drop_unused_validation_error(document)
    return document


def drop_unused_validation_error(document: dict[str, Any]) -> None:
    """Remove FastAPI's own shape of a 422, which our handlers never send, unless a route
    with errors of its own still refers to it."""
    if '"#/components/schemas/HTTPValidationError"' not in json.dumps(document["paths"]):
        components = document.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def install(app: FastAPI) -> None:
    """Make `app.openapi()` document every route's problem responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = document_errors(document, app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
