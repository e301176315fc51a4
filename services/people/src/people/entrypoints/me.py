"""A person's own record in the directory, for their download of their data (GDPR Art. 15
and 20): at /api/v1/me, beside SCIM's routes.

These routes are the person's, not their identity provider's: they take the token every
Chorus api takes (`chassis.auth`), the tenant is the token's, and their errors are
problem+json, as on every other api (`people.entrypoints.scim.configure` leaves them to
chassis).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from scim2_models import Context

from chassis.auth import CurrentUser
from chassis.ids import InvalidCursor, decode_cursor, encode_cursor
from people.service_layer import directory
from people.service_layer.directory import GroupRecord, UserRecord

PREFIX = "/api/v1/me"


def _services(request: Request) -> directory.Services:
    services: directory.Services = request.app.state.services.services
    return services


Services = Annotated[directory.Services, Depends(_services)]


class MyGroupOut(BaseModel):
    id: str = Field(description="the group's id in the directory")
    display_name: str
    external_id: str | None = Field(None, description="the identity provider's own id of it")


class MyUserOut(BaseModel):
    id: str = Field(description="the caller's id in the directory")
    employee_id: str
    resource: dict[str, Any] = Field(
        description="the SCIM User (RFC 7643) HR provisioned: names, emails, title, "
        "department, manager, whether active, and the rest it sent"
    )
    version: int = Field(description="how many changes HR made to the caller's record")
    created: datetime
    last_modified: datetime


class MyDirectoryRecords(BaseModel):
    user: MyUserOut | None = Field(description="null when the directory does not know the caller")


class MyDirectoryExport(BaseModel):
    employee_id: str
    groups: list[MyGroupOut] = Field(description="the groups the caller is a member of, by id")
    records: MyDirectoryRecords | None = Field(
        description="the caller's other records; on the first page only (no cursor)"
    )
    next_cursor: str | None


def _user_out(record: UserRecord) -> MyUserOut:
    person = record.person
    person.id = record.id
    resource: dict[str, Any] = person.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    resource["id"] = record.id
    return MyUserOut(
        id=record.id,
        employee_id=record.employee_id,
        resource=resource,
        version=record.version,
        created=record.created,
        last_modified=record.last_modified,
    )


def _group_out(record: GroupRecord) -> MyGroupOut:
    # The group's name and ids only: its other members are not the caller's data.
    external_id = record.resource.get("externalId")
    return MyGroupOut(
        id=record.id,
        display_name=record.display_name,
        external_id=external_id if isinstance(external_id, str) else None,
    )


router = APIRouter(prefix=PREFIX, tags=["me"])


@router.get("/export", response_model=MyDirectoryExport)
async def export_my_record(
    user: CurrentUser,
    services: Services,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> MyDirectoryExport:
    """Everything the directory holds about the caller: their User, and their groups a page
    at a time."""
    position = decode_cursor(cursor)
    after = position.get("after") if position else None
    if position is not None and not isinstance(after, str):
        raise InvalidCursor()
    found = await directory.my_record(services, user.tenant, user.employee_id, after, limit)
    following = found.groups[-1].id if len(found.groups) == limit else None
    return MyDirectoryExport(
        employee_id=user.employee_id,
        groups=[_group_out(g) for g in found.groups],
        records=(
            MyDirectoryRecords(user=_user_out(found.user) if found.user else None)
            if after is None
            else None
        ),
        next_cursor=encode_cursor({"after": following}) if following else None,
    )
