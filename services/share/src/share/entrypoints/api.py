"""HTTP API of sharing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from chassis.auth import CurrentUser
from chassis.errors import Problem
from contracts import Network
from share.service_layer import handlers


def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_id: str | None = Field(None, min_length=1, max_length=200)
    network: Network


class ShareOut(BaseModel):
    id: str
    content_id: str | None
    employee_id: str
    network: str
    short_code: str
    tracked_url: str
    shared_at: datetime


def _out(doc: dict[str, Any], base_url: str) -> ShareOut:
    return ShareOut(
        id=doc["_id"],
        tracked_url=f"{base_url.rstrip('/')}/l/{doc['short_code']}",
        **{k: doc[k] for k in ("content_id", "employee_id", "network", "short_code", "shared_at")},
    )


router = APIRouter(prefix="/api/v1/shares", tags=["shares"])


@router.post("", status_code=201, response_model=ShareOut)
async def create_share(body: ShareIn, user: CurrentUser, services: Services) -> ShareOut:
    """Share a content item (or an own post) to one network."""
    doc = await handlers.share(services, user, body.content_id, body.network)
    return _out(doc, services.public_base_url)


@router.get("/{share_id}", response_model=ShareOut)
async def get_share(share_id: str, user: CurrentUser, services: Services) -> ShareOut:
    """One share of the caller's tenant."""
    doc = await services.repo.share(user.tenant, share_id)
    if doc is None:
        raise Problem(404, "Not found", f"no share {share_id}")
    return _out(doc, services.public_base_url)
