"""HTTP API of coaching: the onboarding path and areas of expertise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from chassis.auth import CurrentUser
from content.domain import coaching as rules
from content.entrypoints.api import Curator, Language, Services
from content.service_layer import coaching, erasure

onboarding_router = APIRouter(prefix="/api/v1/onboarding", tags=["onboarding"])

Title = Annotated[str, Field(max_length=200)]
Body = Annotated[str, Field(max_length=20_000)]
StepId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="an existing step's id to keep it (and progress on it); none for new"
    )
    titles: dict[Language, Title] = Field(description="the step's title per language")
    bodies: dict[Language, Body] = Field(default_factory=dict)


class PathIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(
        ge=0, le=2**31 - 1, description="the version the edit starts from (0: none yet)"
    )
    steps: list[StepIn] = Field(max_length=rules.MAX_STEPS)


class StepOut(BaseModel):
    id: str
    titles: dict[str, str]
    bodies: dict[str, str]
    # For the caller: when they did this step.
    done_at: datetime | None = None


class PathOut(BaseModel):
    version: int
    steps: list[StepOut]
    updated_at: datetime | None = None
    updated_by: str | None = None
    # The caller's progress on the path as it is now.
    done: int = 0
    total: int = 0
    complete: bool = False


def _path_out(path: rules.OnboardingPath, done: Mapping[str, datetime] | None = None) -> PathOut:
    done = done or {}
    steps = [
        StepOut(
            id=step.id,
            titles=dict(step.titles),
            bodies=dict(step.bodies),
            done_at=done.get(step.id),
        )
        for step in path.steps
    ]
    progress = rules.progress(path.steps, done)
    return PathOut(
        version=path.version,
        steps=steps,
        updated_at=path.updated_at,
        updated_by=path.updated_by,
        done=progress.done,
        total=progress.total,
        complete=progress.complete,
    )


@onboarding_router.get("", response_model=PathOut)
async def my_onboarding(user: CurrentUser, services: Services) -> PathOut:
    """The onboarding path in every language it is written in, with the caller's progress."""
    mine = await coaching.my_path(services, user)
    return _path_out(mine.path, mine.done)


@onboarding_router.put("", response_model=PathOut)
async def revise_onboarding(body: PathIn, user: Curator, services: Services) -> PathOut:
    """Replace the path's steps, in order: keep a step by its id, add one without, leave
    one out to remove it (409 when the path moved past `version`)."""
    wanted = [rules.StepIn(s.id, s.titles, s.bodies) for s in body.steps]
    return _path_out(await coaching.revise_path(services, user, body.version, wanted))


@onboarding_router.post("/steps/{step_id}/completion", response_model=PathOut)
async def complete_step(
    step_id: StepId, user: CurrentUser, services: Services, response: Response
) -> PathOut:
    """Mark a step done for the caller (201 the first time, 200 after)."""
    mine, created = await coaching.complete_step(services, user, step_id)
    response.status_code = 201 if created else 200
    return _path_out(mine.path, mine.done)


class StepFigure(BaseModel):
    id: str
    titles: dict[str, str]
    done: int = Field(description="people who did this step")


class PathFigures(BaseModel):
    version: int
    started: int = Field(description="people who did at least one step of the path")
    completed: int = Field(description="people who did every step of the path as it is now")
    steps: list[StepFigure]


@onboarding_router.get("/figures", response_model=PathFigures)
async def onboarding_figures(user: Curator, services: Services) -> PathFigures:
    """How far people are on the path as it is now, for the program team."""
    path, figures = await coaching.path_figures(services, user)
    return PathFigures(
        version=path.version,
        started=figures.started,
        completed=figures.completed,
        steps=[
            StepFigure(id=s.id, titles=dict(s.titles), done=figures.per_step.get(s.id, 0))
            for s in path.steps
        ],
    )


expertise_router = APIRouter(prefix="/api/v1", tags=["expertise"])


class AreasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    areas: list[Annotated[str, Field(max_length=200)]] = Field(max_length=50)


class AreasOut(BaseModel):
    areas: list[str] = Field(description="normalised: no '#', single spaces, case folded")


@expertise_router.get("/me/expertise", response_model=AreasOut)
async def my_expertise(user: CurrentUser, services: Services) -> AreasOut:
    """The caller's areas of expertise."""
    return AreasOut(areas=await coaching.my_areas(services, user))


@expertise_router.put("/me/expertise", response_model=AreasOut)
async def name_expertise(body: AreasIn, user: CurrentUser, services: Services) -> AreasOut:
    """Replace the caller's areas of expertise; the feed puts items on them first each day."""
    return AreasOut(areas=await coaching.name_areas(services, user, body.areas))


@expertise_router.post("/me/erasure", status_code=204)
async def erase_me(user: CurrentUser, services: Services) -> Response:
    """Erase the caller from the content hub (for someone outside the program, whose
    erasure no opt-out event announces)."""
    await erasure.erase_me(services, user)
    return Response(status_code=204)


class AreaRow(BaseModel):
    area: str
    people: int = Field(description="people who named this area")
    live_items: int = Field(description="live items with this topic")
    uncovered: bool = Field(description="people name it and no live item is on it")


class Coverage(BaseModel):
    areas: list[AreaRow]


@expertise_router.get("/expertise", response_model=Coverage)
async def expertise_coverage(user: Curator, services: Services) -> Coverage:
    """Each area people named, how many name it and how many live items are on it;
    the areas with people and no content first."""
    rows = await coaching.coverage(services, user)
    return Coverage(
        areas=[
            AreaRow(area=r.area, people=r.people, live_items=r.live_items, uncovered=r.uncovered)
            for r in rows
        ]
    )


class Topics(BaseModel):
    topics: list[str]


@expertise_router.get("/topics", response_model=Topics)
async def live_topics(user: CurrentUser, services: Services) -> Topics:
    """The topics of the tenant's live items (normalised), to name areas from."""
    return Topics(topics=await coaching.known_topics(services, user))


routers = [onboarding_router, expertise_router]
