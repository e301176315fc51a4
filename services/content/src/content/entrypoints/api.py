"""HTTP API of the content hub."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.errors import Problem
from chassis.ids import decode_cursor, encode_cursor
from content.service_layer import handlers
from contracts import Audience, ContentKind, Network

Curator = Annotated[Principal, Depends(require_roles("curator", "admin"))]


def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    kind: ContentKind
    url: AnyHttpUrl | None = None
    summary: str = Field("", max_length=2000)
    image_url: AnyHttpUrl | None = None
    suggested_texts: dict[Network, str] = Field(default_factory=dict)
    topics: list[str] = Field(default_factory=list, max_length=50)
    audience: Audience = Field(default_factory=Audience)
    language: str | None = Field(None, min_length=2, max_length=35)
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    campaign_id: str | None = Field(None, min_length=1, max_length=200)


class ContentOut(BaseModel):
    id: str
    title: str
    kind: ContentKind
    status: str
    url: str | None = None
    summary: str = ""
    image_url: str | None = None
    suggested_texts: dict[str, str] = Field(default_factory=dict)
    topics: list[str] = Field(default_factory=list)
    audience: dict[str, Any] = Field(default_factory=dict)
    language: str | None = None
    publish_at: datetime
    expires_at: datetime | None = None
    campaign_id: str | None = None
    created_by: str


class ContentPage(BaseModel):
    items: list[ContentOut]
    next_cursor: str | None


def _out(doc: dict[str, Any]) -> ContentOut:
    return ContentOut(
        id=doc["_id"], **{k: v for k, v in doc.items() if k in ContentOut.model_fields}
    )


router = APIRouter(prefix="/api/v1/content", tags=["content"])


@router.post("", status_code=201, response_model=ContentOut)
async def create_content(body: ContentIn, user: Curator, services: Services) -> ContentOut:
    """Create a content item; it is published now or at its publish time."""
    fields = body.model_dump(mode="json", exclude_none=True)
    fields.update({k: getattr(body, k) for k in ("publish_at", "expires_at") if getattr(body, k)})
    return _out(await handlers.create_content(services, user, fields))


@router.get("/{content_id}", response_model=ContentOut)
async def get_content(content_id: str, user: CurrentUser, services: Services) -> ContentOut:
    """One content item of the caller's tenant."""
    doc = await services.repo.get(user.tenant, content_id)
    if doc is None:
        raise Problem(404, "Not found", f"no content item {content_id}")
    return _out(doc)


@router.get("", response_model=ContentPage)
async def list_content(
    user: Curator,
    services: Services,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ContentPage:
    """Content items of the tenant, newest first."""
    position = decode_cursor(cursor)
    after = position.get("id") if position else None
    docs = await services.repo.page(user.tenant, after if isinstance(after, str) else None, limit)
    next_cursor = encode_cursor({"id": docs[-1]["_id"]}) if len(docs) == limit else None
    return ContentPage(items=[_out(d) for d in docs], next_cursor=next_cursor)
