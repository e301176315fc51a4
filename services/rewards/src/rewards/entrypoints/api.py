"""HTTP API of rewards."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from chassis.auth import CurrentUser
from rewards.service_layer import handlers


def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]


class LedgerEntry(BaseModel):
    award_id: str
    points: int
    rule_id: str
    rule_version: int
    reason: str
    source_event_id: str
    source_event_type: str
    awarded_at: datetime


class MyPoints(BaseModel):
    employee_id: str
    balance: int
    recent: list[LedgerEntry]


router = APIRouter(prefix="/api/v1/me", tags=["points"])


@router.get("/points", response_model=MyPoints)
async def my_points(
    user: CurrentUser, services: Services, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> MyPoints:
    """The caller's balance and the ledger entries behind it, newest first."""
    entries = await services.repo.entries(user.tenant, user.employee_id, limit)
    return MyPoints(
        employee_id=user.employee_id,
        balance=await services.repo.balance(user.tenant, user.employee_id),
        recent=[LedgerEntry(award_id=e["_id"], **e) for e in entries],
    )
