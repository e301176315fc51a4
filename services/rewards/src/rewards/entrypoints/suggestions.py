"""HTTP API of reward suggestions: anyone in the tenant suggests and votes; admins decide."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.errors import Problem
from chassis.ids import decode_cursor, encode_cursor, new_id
from rewards.domain.suggestions import DESCRIPTION_MAX, TITLE_MAX, SuggestionStatus
from rewards.service_layer import handlers
from rewards.service_layer import suggestions as use

ideas = APIRouter(prefix="/api/v1/reward-suggestions", tags=["reward suggestions"])
decisions = APIRouter(prefix="/api/v1/admin/reward-suggestions", tags=["reward suggestions"])
erasure = APIRouter(prefix="/api/v1/me", tags=["me"])

Admin = Annotated[Principal, Depends(require_roles("admin"))]
SuggestionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


async def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]


class SuggestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)

    @field_validator("description")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class SuggestionOut(BaseModel):
    suggestion_id: str
    title: str
    description: str | None
    status: SuggestionStatus
    suggested_at: datetime
    votes: int = Field(description="people who voted for it, the suggester included")
    voted: bool = Field(description="whether the caller voted for it")
    mine: bool = Field(description="whether the caller suggested it")
    item_id: str | None = Field(None, description="the catalog item that answers it, if stocked")
    decided_at: datetime | None = None
    suggested_by: str | None = Field(None, description="admins only")
    decided_by: str | None = Field(None, description="admins only")


class SuggestionPage(BaseModel):
    suggestions: list[SuggestionOut] = Field(description="most votes first, then the oldest")
    next_cursor: str | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: SuggestionStatus
    item_id: str | None = Field(
        None, min_length=1, max_length=200, description="with `stocked`: the catalog item"
    )


def out(found: use.Suggestion, user: Principal) -> SuggestionOut:
    """A suggestion for the caller: who suggested and decided it only for admins."""
    admin = user.has_any(("admin",))
    return SuggestionOut(
        suggestion_id=found.suggestion_id,
        title=found.title,
        description=found.description,
        status=found.status,
        suggested_at=found.suggested_at,
        votes=found.votes,
        voted=found.voted,
        mine=found.mine,
        item_id=found.item_id,
        decided_at=found.decided_at,
        suggested_by=found.suggested_by if admin else None,
        decided_by=found.decided_by if admin else None,
    )


def _position(cursor: str | None) -> tuple[int, str] | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    try:
        return int(position["votes"]), str(position["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Problem(400, "Invalid cursor", "cursor: not a cursor this API returned") from exc


@ideas.post("", status_code=201, response_model=SuggestionOut)
async def suggest(body: SuggestionIn, user: CurrentUser, services: Services) -> SuggestionOut:
    """Suggest a reward (with the caller's vote); 409 naming the open one of the same title."""
    found = await use.suggest(services, user.tenant, user.employee_id, body.title, body.description)
    return out(found, user)


@ideas.get("", response_model=SuggestionPage)
async def list_suggestions(
    user: CurrentUser,
    services: Services,
    status: Annotated[list[SuggestionStatus] | None, Query()] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SuggestionPage:
    """The tenant's suggestions with their votes and the caller's own, most votes first;
    `status` (repeatable) keeps some."""
    found, following = await use.ranking(
        services, user.tenant, user.employee_id, status, limit, _position(cursor)
    )
    return SuggestionPage(
        suggestions=[out(s, user) for s in found],
        next_cursor=encode_cursor({"votes": following[0], "id": following[1]})
        if following
        else None,
    )


@ideas.put("/{suggestion_id}/vote", response_model=SuggestionOut)
async def vote(suggestion_id: SuggestionId, user: CurrentUser, services: Services) -> SuggestionOut:
    """Vote for a suggestion (once; again changes nothing); 409 once it is decided."""
    return out(await use.vote(services, user.tenant, user.employee_id, suggestion_id), user)


@ideas.delete("/{suggestion_id}/vote", response_model=SuggestionOut)
async def unvote(
    suggestion_id: SuggestionId, user: CurrentUser, services: Services
) -> SuggestionOut:
    """Take the caller's vote back (again, or never cast: nothing changes)."""
    return out(await use.unvote(services, user.tenant, user.employee_id, suggestion_id), user)


@decisions.put("/{suggestion_id}/status", response_model=SuggestionOut)
async def decide(
    suggestion_id: SuggestionId, body: DecisionIn, user: Admin, services: Services
) -> SuggestionOut:
    """Mark a suggestion stocked (optionally naming its catalog item), declined, or open
    again; the same decision again keeps the first one's time."""
    found = await use.decide(
        services, user.tenant, user.employee_id, suggestion_id, body.status, body.item_id
    )
    return out(found, user)


class ErasureOut(BaseModel):
    erased: bool = True


@erasure.post("/erasure", response_model=ErasureOut)
async def erase_me(user: CurrentUser, services: Services) -> ErasureOut:
    """Erase the caller from rewards: a pseudonym takes their place in what others still
    count (suggestions and their votes, points, redemptions), and they leave the
    leaderboards. For someone never in the program, whose erasure no opt-out event
    carries; safe to repeat."""
    await handlers.erase_person(services, user.tenant, user.employee_id, new_id(), services.clock())
    return ErasureOut()


def routers() -> list[APIRouter]:
    return [ideas, decisions, erasure]
