"""SCIM 2.0 resources of the directory (RFC 7643) and the rules for changing them (RFC 7644).

The resource models, the PATCH engine, the filter parser and the SCIM error vocabulary are
scim2-models'; this module adds what a real identity provider sends beyond the RFC, and what
Chorus keeps of a person. Everything here is pure: no I/O, no clock.

What identity providers send that a strict reading of the RFCs refuses, and what we do:
- Microsoft Entra ID: capitalised ops (`Replace`, `Add`: the library ignores the case),
  booleans as strings (`"value": "False"`: read as booleans), a `name` member on each
  operation (`addMember`: dropped), members removed by `value` instead of a path filter
  (allowed by the policy below), its own schema URN on groups (dropped), the manager as a
  bare id (`"value": "<id>"`: read as `{"value": "<id>"}`).
- Okta: replace without a path whose value is an object (`{"active": false}`), a group
  rename whose value repeats the group's `id` (dropped when it is the same id), a
  `password` on creation (never kept).
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from scim2_models import (
    Context,
    EnterpriseUser,
    Error,
    Group,
    PatchOp,
    SCIMException,
    ScimFilter,
    ScimPolicy,
    SearchRequest,
    User,
)
from scim2_models.path import CompareOperator, Comparison, LogicalExpr, LogicalOperator
from scim2_models.resources.user import Email

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

EmployeeIdSource = Literal["userName", "externalId"]

# Strict about what the RFC leaves no doubt on (unknown attributes are refused), tolerant of
# Entra's removal of members by value, which cannot be mistaken for anything else.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.forbid,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
)


class ScimError(Exception):
    """An error answered with the SCIM error body (RFC 7644 §3.12)."""

    def __init__(
        self, status: int, detail: str, scim_type: str | None = None, **headers: str
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers = headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


class LooseEmail(Email):
    """An email as directories send it: `user@okta.local` is a real address in a company's
    directory, though the library's address check refuses special-use domains."""

    value: str | None = None


class Person(User[EnterpriseUser]):
    """A SCIM User with the enterprise extension, as the directory keeps it."""

    emails: list[LooseEmail] | None = None  # type: ignore[assignment]


def invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def from_library(exc: SCIMException | ValidationError) -> ScimError:
    """The library's errors, in our error type (the first error of a validation)."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
    else:
        first = exc.errors()[0]
        if first["type"] == "extra_forbidden":
            # An attribute no schema declares: the value is what is wrong, not the syntax.
            name = ".".join(str(part) for part in first["loc"])
            return invalid(f"unknown attribute: {name}", "invalidValue")
        error = Error.from_validation_error(first)
    status = int(error.status or 400)
    return ScimError(status, error.detail or "invalid request", error.scim_type)


def _known_schemas(body: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    # Entra adds a schema URN of its own to groups; what it would describe is not sent.
    schemas = body.get("schemas")
    if isinstance(schemas, list):
        body["schemas"] = [s for s in schemas if isinstance(s, str) and s in known] or [known[0]]
    return body


def _request_body(body: object, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object", "invalidSyntax")
    out = _known_schemas(copy.deepcopy(body), known)
    # Read-only and write-only attributes a client may send along: never taken from it.
    for name in ("id", "meta", "groups", "password"):
        out.pop(name, None)
    return out


def _manager_as_object(value: Any) -> Any:
    """The manager as RFC 7643 wants it (`value` and `$ref`); directories send the id only."""
    if isinstance(value, str):
        value = {"value": value}
    if isinstance(value, dict) and isinstance(value.get("value"), str) and not value.get("$ref"):
        value = {**value, "$ref": f"../Users/{value['value']}"}
    return value


def parse_user(body: object) -> Person:
    """A User from a POST or PUT body."""
    data = _request_body(body, (USER_SCHEMA, ENTERPRISE_SCHEMA))
    enterprise = data.get(ENTERPRISE_SCHEMA)
    if isinstance(enterprise, dict) and "manager" in enterprise:
        enterprise["manager"] = _manager_as_object(enterprise["manager"])
    try:
        person = Person.model_validate(
            data, scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY
        )
    except (ValidationError, SCIMException) as exc:
        raise from_library(exc) from None
    return _with_user_name(person)


def parse_group(body: object) -> Group:
    """A Group from a POST or PUT body."""
    data = _request_body(body, (GROUP_SCHEMA,))
    try:
        group = Group.model_validate(
            data, scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=POLICY
        )
    except (ValidationError, SCIMException) as exc:
        raise from_library(exc) from None
    return _with_display_name(group)


# The library only requires that these be there; an empty one names nobody, and the
# person's events refuse it (their `user_name`, a `groups` entry).
def _with_user_name(person: Person) -> Person:
    if not person.user_name or not person.user_name.strip():
        raise invalid("userName is required")
    return person


def _with_display_name(group: Group) -> Group:
    if not group.display_name or not group.display_name.strip():
        raise invalid("displayName is required")
    return group


def _operations(body: object, resource_id: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object", "invalidSyntax")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise invalid("Operations must hold one or more operations")
    cleaned = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid("each operation must be an object", "invalidSyntax")
        op = {k: v for k, v in operation.items() if k in ("op", "path", "value")}
        path, value = op.get("path"), op.get("value")
        if isinstance(path, str) and path.lower().endswith(f"{ENTERPRISE_SCHEMA}:manager".lower()):
            op["value"] = _manager_as_object(value)
        if path is None and isinstance(value, dict):
            value = dict(value)
            if value.get("id") == resource_id:
                value.pop("id")
            enterprise = value.get(ENTERPRISE_SCHEMA)
            if isinstance(enterprise, dict) and "manager" in enterprise:
                value[ENTERPRISE_SCHEMA] = {
                    **enterprise,
                    "manager": _manager_as_object(enterprise["manager"]),
                }
            for key in list(value):
                if key.lower() == f"{ENTERPRISE_SCHEMA}:manager".lower():
                    value[key] = _manager_as_object(value[key])
            op["value"] = value
        cleaned.append(op)
    return {"schemas": [PATCH_SCHEMA], "Operations": cleaned}


def patch_user(current: Person, body: object) -> Person:
    """`current` with the PATCH applied, as a new resource; `current` is left as it was.

    Every operation is applied to a copy and the result validated; an error in any of them
    leaves nothing applied.
    """
    patched: Person = _patch(Person, current, body)
    return _with_user_name(patched)


def patch_group(current: Group, body: object) -> Group:
    patched: Group = _patch(Group, current, body)
    return _with_display_name(patched)


def _patch(model: type[Any], current: Any, body: object) -> Any:
    request = _operations(body, current.id or "")
    patched = current.model_copy(deep=True)
    try:
        patch = PatchOp[model].model_validate(  # type: ignore[valid-type]
            request, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=POLICY
        )
        patch.patch(patched, scim_policy=POLICY)
        # The patched whole must still be a valid resource (a required attribute removed).
        result = model.model_validate(
            patched.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST),
            scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
            scim_policy=POLICY,
        )
    except (ValidationError, SCIMException) as exc:
        raise from_library(exc) from None
    result.id = current.id
    return result


# -- listing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """A list request: its filter (None: everything), and the page (RFC 7644 §3.4.2.4)."""

    filter: ScimFilter[Any] | None
    start_index: int
    count: int
    # Attribute (lower case) -> value every result must equal, read from the filter's
    # top-level `eq` terms joined by `and`; a storage may use them to narrow its search.
    equalities: Mapping[str, Any]


def parse_search(
    model: type[Any],
    filter_text: str | None,
    start_index: str | None,
    count: str | None,
    max_results: int,
) -> Search:
    """Parse `filter`, `startIndex` and `count` of a list request against `model`."""
    start = _integer("startIndex", start_index, 1)
    size = _integer("count", count, max_results)
    filter_ = None
    if filter_text is not None and filter_text.strip():
        try:
            request = SearchRequest[model].model_validate(  # type: ignore[valid-type]
                {"filter": filter_text}, scim_ctx=Context.SEARCH_REQUEST, scim_policy=POLICY
            )
        except (ValidationError, SCIMException) as exc:
            error = from_library(exc)
            raise invalid(error.detail, "invalidFilter") from None
        filter_ = request.filter
    return Search(
        filter=filter_,
        # RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0.
        start_index=max(start, 1),
        count=min(max(size, 0), max_results),
        equalities=equalities(filter_) if filter_ is not None else {},
    )


def _integer(name: str, raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None


def equalities(filter_: ScimFilter[Any]) -> dict[str, Any]:
    """The `attr eq value` terms a filter requires at its top level (through `and`)."""
    found: dict[str, Any] = {}

    def walk(node: object) -> None:
        if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
            for term in node.terms:
                walk(term)
        elif (
            isinstance(node, Comparison)
            and node.op == CompareOperator.eq
            and node.attr_path.sub_attr is None
            and node.attr_path.uri in (None, USER_SCHEMA, GROUP_SCHEMA)
        ):
            found.setdefault(node.attr_path.attr.lower(), node.value)

    walk(filter_.ast)
    return found


def matches(filter_: ScimFilter[Any] | None, resource: Any) -> bool:
    return filter_ is None or bool(filter_.match(resource))


# -- what Chorus keeps of a person --------------------------------------------------------


def fold(value: str) -> str:
    """userName as compared (RFC 7643: caseExact false): NFC, lower case, NFC again (as
    the library's filters compare it)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def employee_id_of(person: Person, source: EmployeeIdSource) -> str:
    """The person's Chorus employee id (the `sub` of their tokens)."""
    value = person.user_name if source == "userName" else person.external_id
    if not value or not value.strip():
        raise invalid(f"{source} is required: it is this tenant's employee id")
    if len(value) > 200:
        raise invalid(f"{source} is longer than 200 characters")
    return value


def enterprise(person: Person) -> EnterpriseUser | None:
    ext: EnterpriseUser | None = person[EnterpriseUser]
    return ext


def manager_ref(person: Person) -> str | None:
    """The SCIM id of the person's manager, as the directory gave it."""
    ext = enterprise(person)
    if ext is None or ext.manager is None or not ext.manager.value:
        return None
    return str(ext.manager.value)


def location_of(person: Person) -> str | None:
    """The locality of the primary address, else of the work address."""
    addresses = person.addresses or []
    chosen = next((a for a in addresses if a.primary), None) or next(
        (a for a in addresses if a.type == "work"), None
    )
    locality = chosen.locality if chosen is not None else None
    return locality.strip()[:200] or None if locality else None


def display_name_of(person: Person) -> str:
    if person.display_name:
        return person.display_name[:256]
    name = person.name
    if name is not None:
        if name.formatted:
            return name.formatted[:256]
        parts = [p for p in (name.given_name, name.family_name) if p]
        if parts:
            return " ".join(parts)[:256]
    return ""


def person_facts(
    person: Person, employee_id: str, groups: list[str], manager_id: str | None
) -> dict[str, Any]:
    """What a PersonUpserted says of the person, without its version and time: when these
    are unchanged, a change of the resource concerns nobody else."""
    ext = enterprise(person)
    language = (person.preferred_language or "").strip()
    title = (person.title or "").strip()
    department = (ext.department or "").strip() if ext is not None else ""
    return {
        "employee_id": employee_id,
        "user_name": (person.user_name or "")[:256],
        "display_name": display_name_of(person),
        "active": person.active is not False,
        "groups": sorted(g[:200] for g in groups),
        "location": location_of(person),
        "languages": [language] if 2 <= len(language) <= 35 else [],
        "department": department[:256] or None,
        "manager_id": manager_id,
        "title": title[:256] or None,
    }
