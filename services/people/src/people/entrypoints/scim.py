"""The SCIM 2.0 endpoints (RFC 7644) at /scim/v2: Users, Groups and the discovery endpoints.

Each tenant's identity provider holds a bearer token of its own (`PEOPLE_SCIM_TOKENS`); the
token decides the tenant. Bodies are read as JSON whatever their content type
(`application/scim+json` or `application/json`), answers are `application/scim+json`, and
every error is the SCIM error body with its `scimType`: those of the routes, and those
chassis and FastAPI raise before a route runs (text no storage takes, an unknown path).
Only the body limit's 413 (answered before the app) and an unexpected 500 are problem+json.
`people.entrypoints.openapi` documents them all. The person's own routes beside them
(`people.entrypoints.me`) answer problem+json, as every other api does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from scim2_models import Context, EnterpriseUser, Group, User
from starlette.exceptions import HTTPException as StarletteHTTPException

from chassis.domain_errors import DomainError, Invalid
from chassis.limits import body_limit
from chassis.openapi import own_errors
from chassis.process import Role
from people.domain import scim
from people.domain.scim import ScimError
from people.entrypoints import me, openapi
from people.entrypoints.openapi import IF_MATCH, SCIM_JSON, answers, takes
from people.service_layer import directory
from people.service_layer.directory import GroupRecord, Services, UserRecord

PREFIX = "/scim/v2"
# A group of thousands of members is one PUT; people are smaller.
GROUP_BODY_LIMIT = 4 * 1024 * 1024


@dataclass
class Components:
    services: Services
    # tenant -> SHA-256 of its token.
    token_digests: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def with_tokens(cls, services: Services, tokens: dict[str, str]) -> Components:
        digests = {t: hashlib.sha256(v.encode()).digest() for t, v in tokens.items()}
        return cls(services=services, token_digests=digests)


def _components(request: Request) -> Components:
    components: Components = request.app.state.services
    return components


async def scim_tenant(request: Request) -> str:
    """The tenant whose SCIM token the request carries."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ScimError(401, "a bearer token is required", WWW_Authenticate="Bearer")
    # Digests of equal length, every tenant compared: the time taken tells nothing of how
    # much of a token was right, nor which tenant's it came close to.
    given = hashlib.sha256(token.strip().encode()).digest()
    found = None
    for tenant, digest in _components(request).token_digests.items():
        if hmac.compare_digest(given, digest):
            found = tenant
    if found is None:
        raise ScimError(401, "the bearer token is not valid", WWW_Authenticate="Bearer")
    return found


Tenant = Annotated[str, Depends(scim_tenant)]
IfMatch = Annotated[
    str | None,
    Header(
        alias=IF_MATCH,
        description="Only if the resource is still at this version (its ETag); else a 412",
    ),
]


def _services(request: Request) -> Services:
    return _components(request).services


async def _json(request: Request) -> object:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        raise scim.invalid("the body is not valid JSON", "invalidSyntax") from None


class ScimResponse(JSONResponse):
    media_type = SCIM_JSON


def _respond(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> ScimResponse:
    return ScimResponse(body, status_code=status, headers=headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _meta(kind: str, location: str, created: datetime, modified: datetime, version: int) -> Any:
    return {
        "resourceType": kind,
        "created": _time(created),
        "lastModified": _time(modified),
        "location": location,
        "version": directory.etag(version),
    }


async def _user_body(request: Request, record: UserRecord) -> dict[str, Any]:
    base = _base(request)
    person = record.person
    person.id = record.id
    body: dict[str, Any] = person.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    body["id"] = record.id
    groups = await _services(request).directory.groups_of(record.tenant, record.id)
    if groups:
        body["groups"] = [
            {
                "value": g.id,
                "display": g.display_name,
                "$ref": f"{base}/Groups/{g.id}",
                "type": "direct",
            }
            for g in groups
        ]
    location = f"{base}/Users/{record.id}"
    body["meta"] = _meta("User", location, record.created, record.last_modified, record.version)
    return body


async def _group_body(request: Request, record: GroupRecord) -> dict[str, Any]:
    base = _base(request)
    body: dict[str, Any] = {"schemas": [scim.GROUP_SCHEMA], "id": record.id}
    body.update({k: v for k, v in record.resource.items() if k not in ("schemas", "id")})
    members = await _services(request).directory.users_by_ids(record.tenant, record.members)
    by_id = {m.id: m for m in members}
    body["members"] = [
        {
            "value": member_id,
            "display": scim.display_name_of(by_id[member_id].person)
            or by_id[member_id].resource.get("userName", ""),
            "$ref": f"{base}/Users/{member_id}",
            "type": "User",
        }
        for member_id in record.members
        if member_id in by_id
    ]
    location = f"{base}/Groups/{record.id}"
    body["meta"] = _meta("Group", location, record.created, record.last_modified, record.version)
    return body


def _resource_headers(body: dict[str, Any]) -> dict[str, str]:
    return {"ETag": body["meta"]["version"]}


def _list(total: int, start: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [scim.LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def users_router() -> APIRouter:
    router = APIRouter(prefix=f"{PREFIX}/Users", tags=["scim"], default_response_class=ScimResponse)

    @router.get("", responses=answers("ScimUserList"))
    async def list_users(
        request: Request,
        tenant: Tenant,
        filter: str | None = None,
        startIndex: str | None = None,
        count: str | None = None,
    ) -> Response:
        """List or search Users (filter, startIndex, count)."""
        total, start, page = await directory.list_users(
            _services(request), tenant, filter, startIndex, count
        )
        return _respond(_list(total, start, [await _user_body(request, r) for r in page]))

    @router.post(
        "",
        status_code=201,
        responses=answers("ScimUser", 201),
        openapi_extra=takes("ScimUserRequest"),
    )
    async def create_user(request: Request, tenant: Tenant) -> Response:
        """Create a User."""
        record = await directory.create_user(_services(request), tenant, await _json(request))
        body = await _user_body(request, record)
        headers = {**_resource_headers(body), "Location": body["meta"]["location"]}
        return _respond(body, 201, headers)

    @router.get("/{user_id}", responses=answers("ScimUser"))
    async def get_user(request: Request, tenant: Tenant, user_id: str) -> Response:
        """One User."""
        record = await directory.get_user(_services(request), tenant, user_id)
        body = await _user_body(request, record)
        return _respond(body, headers=_resource_headers(body))

    @router.put("/{user_id}", responses=answers("ScimUser"), openapi_extra=takes("ScimUserRequest"))
    async def replace_user(
        request: Request, tenant: Tenant, user_id: str, if_match: IfMatch = None
    ) -> Response:
        """Replace a User."""
        record = await directory.replace_user(
            _services(request), tenant, user_id, await _json(request), if_match
        )
        body = await _user_body(request, record)
        return _respond(body, headers=_resource_headers(body))

    @router.patch("/{user_id}", responses=answers("ScimUser"), openapi_extra=takes("ScimPatchOp"))
    async def patch_user(
        request: Request, tenant: Tenant, user_id: str, if_match: IfMatch = None
    ) -> Response:
        """Modify a User (RFC 7644 §3.5.2)."""
        record = await directory.patch_user(
            _services(request), tenant, user_id, await _json(request), if_match
        )
        body = await _user_body(request, record)
        return _respond(body, headers=_resource_headers(body))

    @router.delete("/{user_id}", status_code=204)
    async def delete_user(
        request: Request, tenant: Tenant, user_id: str, if_match: IfMatch = None
    ) -> Response:
        """Delete a User."""
        await directory.delete_user(_services(request), tenant, user_id, if_match)
        return Response(status_code=204)

    return router


def groups_router() -> APIRouter:
    router = APIRouter(
        prefix=f"{PREFIX}/Groups", tags=["scim"], default_response_class=ScimResponse
    )

    @router.get("", responses=answers("ScimGroupList"))
    async def list_groups(
        request: Request,
        tenant: Tenant,
        filter: str | None = None,
        startIndex: str | None = None,
        count: str | None = None,
        excludedAttributes: str | None = None,
    ) -> Response:
        """List or search Groups."""
        total, start, page = await directory.list_groups(
            _services(request), tenant, filter, startIndex, count
        )
        resources = [await _group_body(request, r) for r in page]
        if excludedAttributes and "members" in excludedAttributes.split(","):
            # Okta and Entra ask for groups without their members when they look one up.
            for resource in resources:
                resource.pop("members", None)
        return _respond(_list(total, start, resources))

    @router.post(
        "",
        status_code=201,
        responses=answers("ScimGroup", 201),
        openapi_extra=takes("ScimGroupRequest"),
    )
    @body_limit(GROUP_BODY_LIMIT)
    async def create_group(request: Request, tenant: Tenant) -> Response:
        """Create a Group."""
        record = await directory.create_group(_services(request), tenant, await _json(request))
        body = await _group_body(request, record)
        headers = {**_resource_headers(body), "Location": body["meta"]["location"]}
        return _respond(body, 201, headers)

    @router.get("/{group_id}", responses=answers("ScimGroup"))
    async def get_group(request: Request, tenant: Tenant, group_id: str) -> Response:
        """One Group."""
        record = await directory.get_group(_services(request), tenant, group_id)
        body = await _group_body(request, record)
        return _respond(body, headers=_resource_headers(body))

    @router.put(
        "/{group_id}", responses=answers("ScimGroup"), openapi_extra=takes("ScimGroupRequest")
    )
    @body_limit(GROUP_BODY_LIMIT)
    async def replace_group(
        request: Request, tenant: Tenant, group_id: str, if_match: IfMatch = None
    ) -> Response:
        """Replace a Group."""
        record = await directory.replace_group(
            _services(request), tenant, group_id, await _json(request), if_match
        )
        body = await _group_body(request, record)
        return _respond(body, headers=_resource_headers(body))

    @router.patch("/{group_id}", responses=answers("ScimGroup"), openapi_extra=takes("ScimPatchOp"))
    @body_limit(GROUP_BODY_LIMIT)
    async def patch_group(
        request: Request, tenant: Tenant, group_id: str, if_match: IfMatch = None
    ) -> Response:
        """Modify a Group: its name, its members."""
        record = await directory.patch_group(
            _services(request), tenant, group_id, await _json(request), if_match
        )
        body = await _group_body(request, record)
        return _respond(body, headers=_resource_headers(body))

    @router.delete("/{group_id}", status_code=204)
    async def delete_group(
        request: Request, tenant: Tenant, group_id: str, if_match: IfMatch = None
    ) -> Response:
        """Delete a Group."""
        await directory.delete_group(_services(request), tenant, group_id, if_match)
        return Response(status_code=204)

    return router


# -- discovery (RFC 7644 §4) ----------------------------------------------------------------


def _schemas() -> list[dict[str, Any]]:
    out = []
    for model, name in ((User, "User"), (EnterpriseUser, "EnterpriseUser"), (Group, "Group")):
        schema: dict[str, Any] = model.to_schema().model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        schema["name"] = name
        schema["meta"] = {"resourceType": "Schema", "location": f"/Schemas/{schema['id']}"}
        out.append(schema)
    return out


RESOURCE_TYPES: list[dict[str, Any]] = [
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person of the directory",
        "schema": scim.USER_SCHEMA,
        "schemaExtensions": [{"schema": scim.ENTERPRISE_SCHEMA, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/User"},
    },
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A group of people",
        "schema": scim.GROUP_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/Group"},
    },
]


def discovery_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["scim"], default_response_class=ScimResponse)

    @router.get("/ServiceProviderConfig", responses=answers("ScimServiceProviderConfig"))
    async def service_provider_config(request: Request, tenant: Tenant) -> Response:
        """What this SCIM server supports."""
        return _respond(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": _services(request).max_results},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": True},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "OAuth Bearer Token",
                        "description": "The tenant's SCIM token, as a bearer token",
                        "specUri": "https://www.rfc-editor.org/info/rfc6750",
                        "primary": True,
                    }
                ],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": f"{_base(request)}/ServiceProviderConfig",
                },
            }
        )

    @router.get("/Schemas", responses=answers("ScimSchemaList"))
    async def schemas(tenant: Tenant) -> Response:
        """The schemas of the resources."""
        found = _schemas()
        return _respond(_list(len(found), 1, found))

    @router.get("/Schemas/{schema_id}", responses=answers("ScimSchema"))
    async def schema(tenant: Tenant, schema_id: str) -> Response:
        """One schema."""
        for found in _schemas():
            if found["id"] == schema_id:
                return _respond(found)
        raise ScimError(404, f"no schema {schema_id}")

    @router.get("/ResourceTypes", responses=answers("ScimResourceTypeList"))
    async def resource_types(tenant: Tenant) -> Response:
        """The resource types."""
        return _respond(_list(len(RESOURCE_TYPES), 1, RESOURCE_TYPES))

    @router.get("/ResourceTypes/{type_id}", responses=answers("ScimResourceType"))
    async def resource_type(tenant: Tenant, type_id: str) -> Response:
        """One resource type."""
        for found in RESOURCE_TYPES:
            if found["id"] == type_id:
                return _respond(found)
        raise ScimError(404, f"no resource type {type_id}")

    return router


def routers() -> list[APIRouter]:
    return [own_errors(r) for r in (users_router(), groups_router(), discovery_router())]


def _error(exc: ScimError) -> ScimResponse:
    headers = {k.replace("_", "-"): v for k, v in exc.headers.items()}
    return _respond(exc.body(), exc.status, headers)


def configure(app: FastAPI, role: Role) -> None:
    """SCIM errors are SCIM error bodies, not problem+json (RFC 7644 §3.12); the person's
    own routes (`people.entrypoints.me`) keep chassis' problem+json."""

    @app.exception_handler(ScimError)
    async def _scim_error(_: Request, exc: ScimError) -> JSONResponse:
        return _error(exc)

    if role != "api":
        return

    # chassis.errors' handlers, installed before this runs.
    chassis = dict(app.exception_handlers)

    def persons(request: Request) -> bool:
        return request.url.path.startswith(f"{me.PREFIX}/")

    # Raised before a route runs: chassis refuses text no storage takes, and a request FastAPI
    # cannot parse would be its 422; on SCIM's routes both are a 400 invalidValue.
    @app.exception_handler(Invalid)
    async def _invalid(request: Request, exc: Invalid) -> Response:
        if persons(request):
            return await chassis[DomainError](request, exc)  # type: ignore[no-any-return]
        return _error(scim.invalid(exc.detail or exc.title))

    @app.exception_handler(RequestValidationError)
    async def _unparsed(request: Request, exc: RequestValidationError) -> Response:
        if persons(request):
            return await chassis[RequestValidationError](request, exc)  # type: ignore[no-any-return]
        first = exc.errors()[0] if exc.errors() else {}
        name = ".".join(str(part) for part in first.get("loc", ())[1:])
        return _error(scim.invalid(f"{name}: {first.get('msg', 'invalid')}"))

    # A path no route serves (an id holding a "/"), or a method none takes.
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if persons(request):
            return await chassis[StarletteHTTPException](request, exc)  # type: ignore[no-any-return]
        detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        return _error(ScimError(exc.status_code, detail, **(exc.headers or {})))

    openapi.install(app, PREFIX, scim_tenant)
