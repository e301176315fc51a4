"""The people api's OpenAPI document: what the SCIM routes take and answer, as SCIM has it.

`chassis.openapi` documents every other api's errors as problem+json and leaves SCIM's
routes to this module (`own_errors`), which documents them as RFC 7644 answers them:
- bodies are `application/scim+json` (§3.1); a request body may also be plain JSON;
- the User and Group schemas are derived from scim2-models' SCIM schemas (the ones
  /Schemas serves, and the ones requests are validated with), so they cannot drift apart;
- every error is the SCIM error body (§3.12, `people.domain.scim.ScimError`), for the
  statuses a route can answer, derived from the route as `chassis.openapi` derives its own:
  400 on every route (a body, filter or page SCIM refuses, or text no storage takes), 401
  where the route depends on the tenant's token, 404 where its path names a resource, 409
  where it writes (a unique name taken, or a resource that kept changing), 412 where it
  takes `If-Match`;
- 413 stays chassis' problem+json: the body limits refuse a body before the route runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from scim2_models import Context, EnterpriseUser, Group, User

from chassis.errors import PROBLEM_JSON
from chassis.openapi import (
    DESCRIPTIONS,
    derived_statuses,
    drop_unused_validation_error,
    route_operations,
)
from people.domain import scim

SCIM_JSON = "application/scim+json"
IF_MATCH = "If-Match"

# What each error status means on SCIM's routes, in the document's words.
ERRORS: dict[int, str] = {
    400: "The request is refused; `scimType` says why (invalidValue, invalidSyntax, "
    "invalidFilter, invalidPath, noTarget, mutability)",
    401: "No bearer token, or one that is no tenant's SCIM token",
    404: "The resource does not exist in the tenant's directory",
    409: "`uniqueness`: the userName or displayName is taken in the tenant's directory; "
    "or the resource kept changing meanwhile (try again)",
    412: "`invalidVers`: the resource is no longer at the version If-Match names",
}

# -- the SCIM schemas, as JSON Schema -----------------------------------------------------

_JSON_TYPES = {
    "string": "string",
    "boolean": "boolean",
    "decimal": "number",
    "integer": "integer",
    "dateTime": "string",
    "reference": "string",
    "binary": "string",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(description: str = "", **more: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **more}
    if description:
        schema["description"] = description
    return schema


def _shown(attribute: dict[str, Any], answer: bool) -> bool:
    # An answer never holds what is never returned (a password), a request never what is
    # read-only (a User's groups: they come from the groups' members).
    if answer:
        return attribute.get("returned") != "never"
    return attribute.get("mutability") != "readOnly"


def _attribute(attribute: dict[str, Any], answer: bool) -> dict[str, Any]:
    if attribute["type"] == "complex":
        schema = _attributes(attribute.get("subAttributes") or [], answer)
    else:
        schema = {"type": _JSON_TYPES[attribute["type"]]}
    if attribute.get("description"):
        schema["description"] = " ".join(attribute["description"].split())
    return {"type": "array", "items": schema} if attribute.get("multiValued") else schema


def _attributes(attributes: Iterable[dict[str, Any]], answer: bool) -> dict[str, Any]:
    properties = {a["name"]: _attribute(a, answer) for a in attributes if _shown(a, answer)}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if not answer:
        # Attributes no schema declares are refused (`people.domain.scim.POLICY`).
        schema["additionalProperties"] = False
    return schema


def _scim_schema(model: type[Any]) -> dict[str, Any]:
    found: dict[str, Any] = model.to_schema().model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return found


def _resource(
    model: type[Any], known: tuple[str, ...], extensions: tuple[type[Any], ...], answer: bool
) -> dict[str, Any]:
    """A resource's JSON Schema: the common attributes (RFC 7643 §3.1), the model's own, and
    each extension's under its URN."""
    core = _scim_schema(model)
    own = _attributes(core["attributes"], answer)
    if answer:
        properties: dict[str, Any] = {
            "schemas": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "id": _string("Given by this server; the resource's URL ends with it"),
        }
    else:
        urns = " and ".join(f"`{urn}`" for urn in known)
        schemas = {
            "type": "array",
            "items": {"type": "string"},
            # Entra ID adds a URN of its own to groups.
            "description": f"Of {urns}; others are ignored, and none means the first",
        }
        properties = {"schemas": schemas}
    properties["externalId"] = _string("The identity provider's own id of the resource")
    properties.update(own["properties"])
    for extension in extensions:
        schema = _scim_schema(extension)
        properties[schema["id"]] = _attributes(schema["attributes"], answer)
    required = [a["name"] for a in core["attributes"] if a.get("required") and _shown(a, answer)]
    if answer:
        properties["meta"] = _ref("ScimMeta")
        required = ["schemas", "id", *required, "meta"]
    document: dict[str, Any] = {
        "type": "object",
        "description": core.get("description") or core["name"],
        "required": required,
        "properties": properties,
    }
    if not answer:
        document["additionalProperties"] = False
    return document


def _list_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A page of {item} (RFC 7644 §3.4.2)",
        "required": ["schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": scim.LIST_SCHEMA}},
            "totalResults": {"type": "integer", "minimum": 0},
            "startIndex": {"type": "integer", "minimum": 1},
            "itemsPerPage": {"type": "integer", "minimum": 0},
            "Resources": {"type": "array", "items": _ref(item)},
        },
    }


def _supported(**more: Any) -> dict[str, Any]:
    properties = {"supported": {"type": "boolean"}, **more}
    return {"type": "object", "required": ["supported"], "properties": properties}


_META = {
    "type": "object",
    "required": ["resourceType", "location"],
    "properties": {
        "resourceType": _string(),
        "created": _string(format="date-time"),
        "lastModified": _string(format="date-time"),
        "location": _string(),
        "version": _string("The resource's ETag, as the ETag header gives it"),
    },
}

_ERROR = {
    "type": "object",
    "description": "The SCIM error body (RFC 7644 §3.12)",
    "required": ["schemas", "status", "detail"],
    "properties": {
        "schemas": {"type": "array", "items": {"const": scim.ERROR_SCHEMA}},
        "status": _string("The HTTP status, as a string", pattern="^[1-5][0-9][0-9]$"),
        "scimType": _string("The kind of a 400, 409 or 412 (RFC 7644 §3.12, Table 9)"),
        "detail": _string(),
    },
}

_PATCH = {
    "type": "object",
    "description": "Operations applied all or none (RFC 7644 §3.5.2)",
    "required": ["Operations"],
    "properties": {
        "schemas": {"type": "array", "items": {"const": scim.PATCH_SCHEMA}},
        "Operations": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["op"],
                "properties": {
                    # Entra ID capitalises them.
                    "op": {"enum": ["add", "remove", "replace", "Add", "Remove", "Replace"]},
                    "path": _string('An attribute path: `emails[type eq "work"].value`'),
                    "value": {},
                },
            },
        },
    },
}

_ATTRIBUTE = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {
        "name": _string(),
        "type": {"enum": ["complex", *_JSON_TYPES]},
        "multiValued": {"type": "boolean"},
        "description": _string(),
        "required": {"type": "boolean"},
        "caseExact": {"type": "boolean"},
        "mutability": {"enum": ["readOnly", "readWrite", "immutable", "writeOnly"]},
        "returned": {"enum": ["always", "never", "default", "request"]},
        "uniqueness": {"enum": ["none", "server", "global"]},
        "canonicalValues": {"type": "array", "items": {}},
        "referenceTypes": {"type": "array", "items": _string()},
        "subAttributes": {"type": "array", "items": _ref("ScimSchemaAttribute")},
    },
}

_SCHEMA = {
    "type": "object",
    "description": "A resource's schema (RFC 7643 §7)",
    "required": ["schemas", "id", "attributes"],
    "properties": {
        "schemas": {"type": "array", "items": _string()},
        "id": _string("The schema's URN"),
        "name": _string(),
        "description": _string(),
        "attributes": {"type": "array", "items": _ref("ScimSchemaAttribute")},
        "meta": _ref("ScimMeta"),
    },
}

_RESOURCE_TYPE = {
    "type": "object",
    "description": "A resource type (RFC 7643 §6)",
    "required": ["schemas", "id", "name", "endpoint", "schema"],
    "properties": {
        "schemas": {"type": "array", "items": _string()},
        "id": _string(),
        "name": _string(),
        "endpoint": _string(),
        "description": _string(),
        "schema": _string("The URN of its schema"),
        "schemaExtensions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["schema", "required"],
                "properties": {"schema": _string(), "required": {"type": "boolean"}},
            },
        },
        "meta": _ref("ScimMeta"),
    },
}

_SERVICE_PROVIDER_CONFIG = {
    "type": "object",
    "description": "What this SCIM server supports (RFC 7643 §5)",
    "required": [
        "schemas",
        "patch",
        "bulk",
        "filter",
        "changePassword",
        "sort",
        "etag",
        "authenticationSchemes",
    ],
    "properties": {
        "schemas": {"type": "array", "items": _string()},
        "patch": _supported(),
        "bulk": _supported(maxOperations={"type": "integer"}, maxPayloadSize={"type": "integer"}),
        "filter": _supported(maxResults={"type": "integer"}),
        "changePassword": _supported(),
        "sort": _supported(),
        "etag": _supported(),
        "authenticationSchemes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "name", "description"],
                "properties": {
                    "type": _string(),
                    "name": _string(),
                    "description": _string(),
                    "specUri": _string(),
                    "documentationUri": _string(),
                    "primary": {"type": "boolean"},
                },
            },
        },
        "meta": _ref("ScimMeta"),
    },
}


def schemas() -> dict[str, Any]:
    """The components the SCIM routes refer to."""
    user = (User, (scim.USER_SCHEMA, scim.ENTERPRISE_SCHEMA), (EnterpriseUser,))
    group = (Group, (scim.GROUP_SCHEMA,), ())
    return {
        "ScimUser": _resource(*user, answer=True),
        "ScimUserRequest": _resource(*user, answer=False),
        "ScimUserList": _list_of("ScimUser"),
        "ScimGroup": _resource(*group, answer=True),
        "ScimGroupRequest": _resource(*group, answer=False),
        "ScimGroupList": _list_of("ScimGroup"),
        "ScimPatchOp": _PATCH,
        "ScimMeta": _META,
        "ScimError": _ERROR,
        "ScimServiceProviderConfig": _SERVICE_PROVIDER_CONFIG,
        "ScimSchema": _SCHEMA,
        "ScimSchemaAttribute": _ATTRIBUTE,
        "ScimSchemaList": _list_of("ScimSchema"),
        "ScimResourceType": _RESOURCE_TYPE,
        "ScimResourceTypeList": _list_of("ScimResourceType"),
    }


# -- what each route declares ------------------------------------------------------------


def answers(schema: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's answer when it succeeds: the component `schema`; a
    resource with its ETag, a created one with its Location too."""
    response: dict[str, Any] = {"content": {SCIM_JSON: {"schema": _ref(schema)}}}
    if schema in ("ScimUser", "ScimGroup"):
        headers = {"ETag": {"description": "The resource's version", "schema": _string()}}
        if status == 201:
            headers["Location"] = {"description": "The resource's URL", "schema": _string()}
        response["headers"] = headers
    return {status: response}


def takes(schema: str) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its body itself: the component `schema`."""
    body = {"schema": _ref(schema)}
    return {
        "requestBody": {"required": True, "content": {SCIM_JSON: body, "application/json": body}}
    }


# -- errors ------------------------------------------------------------------------------


def error_statuses(route: APIRoute, method: str, token: Callable[..., Any]) -> set[int]:
    """The statuses of a SCIM route's errors, from what it depends on and takes."""
    # chassis' 422 (a request of the wrong shape) is a 400 invalidValue on SCIM's routes.
    statuses = (derived_statuses(route, method) - {422}) | {400}
    if any(dependency.call is token for dependency in route.dependant.dependencies):
        statuses.add(401)
    if any(param.alias == IF_MATCH for param in route.dependant.header_params):
        statuses.add(412)
    return statuses


def _error(status: int) -> dict[str, Any]:
    if status == 413:
        # chassis.limits.BodyLimits answers before the route runs.
        problem = {"$ref": "#/components/schemas/Problem"}
        return {"description": DESCRIPTIONS[413], "content": {PROBLEM_JSON: {"schema": problem}}}
    return {"description": ERRORS[status], "content": {SCIM_JSON: {"schema": _ref("ScimError")}}}


def describe(
    document: dict[str, Any], routes: Iterable[Any], prefix: str, token: Callable[..., Any]
) -> dict[str, Any]:
    """`document` with SCIM's schemas, and the errors of each route under `prefix` (SCIM's);
    `token` is the dependency that authenticates a SCIM client."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(schemas())
    for route, method, operation in route_operations(document, routes):
        if not route.path_format.startswith(prefix):
            continue
        responses = operation.setdefault("responses", {})
        # FastAPI's own shape of a 422, which these routes never answer.
        responses.pop("422", None)
        for status in sorted(error_statuses(route, method, token)):
            responses[str(status)] = _error(status)
    drop_unused_validation_error(document)
    return document


def install(app: FastAPI, prefix: str, token: Callable[..., Any]) -> None:
    """Make `app.openapi()` (chassis' document) describe the SCIM routes under `prefix`."""
    chassis_openapi = app.openapi
    documented = False

    def openapi() -> dict[str, Any]:
        nonlocal documented
        found = chassis_openapi()
        if not documented:
            describe(found, app.routes, prefix, token)
            documented = True
        return found

    app.openapi = openapi  # type: ignore[method-assign]
