"""HTTP API of metrics."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from chassis.auth import CurrentUser
from chassis.errors import Problem
from metrics.service_layer import handlers


def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]


class Summary(BaseModel):
    tenant: str
    start: date | None
    end: date | None
    figures: dict[str, int]


router = APIRouter(prefix="/api/v1", tags=["figures"])


@router.get("/summary", response_model=Summary)
async def summary(
    user: CurrentUser, services: Services, start: date | None = None, end: date | None = None
) -> Summary:
    """Program totals of the caller's tenant, optionally between two days (inclusive)."""
    if start and end and end < start:
        raise Problem(422, "Invalid request", "end: must not be before start")
    figures = await services.repo.totals(
        user.tenant, start.isoformat() if start else None, end.isoformat() if end else None
    )
    return Summary(tenant=user.tenant, start=start, end=end, figures=figures)
