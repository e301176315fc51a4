"""Use cases of coaching: the onboarding path, progress on it, and areas of expertise."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from chassis.auth import Principal
from chassis.domain_errors import Conflict, NotFound
from chassis.ids import new_id
from chassis.telemetry import current_traceparent
from content.domain import coaching, feed
from content.service_layer.handlers import Services, invalid
from contracts import (
    OnboardingStepCompleted,
    OnboardingStepCompletedData,
    derived_event_id,
)

# -- the path -------------------------------------------------------------------------------


async def onboarding_path(services: Services, tenant: str) -> coaching.OnboardingPath:
    """The path as it is now; version 0 and no steps before the program team writes one."""
    path = await services.repo.onboarding_path(tenant)
    return path if path is not None else coaching.OnboardingPath(tenant)


async def revise_path(
    services: Services, user: Principal, version: int, wanted: Sequence[coaching.StepIn]
) -> coaching.OnboardingPath:
    """Replace the path's steps (add, edit, reorder, remove) as a new version; `version` is
    the one the editor saw, so that two editors do not overwrite each other unawares."""
    current = await onboarding_path(services, user.tenant)
    held = current.version
    if version != held:
        raise Conflict(f"the path is at version {held}", current_version=held)
    steps, errors = coaching.revise(current.steps, wanted, lambda: new_id()[-12:])
    if errors:
        raise invalid(*errors)
    path = replace(
        current,
        version=held + 1,
        steps=tuple(steps),
        updated_at=services.clock(),
        updated_by=user.employee_id,
    )
    if not await services.repo.save_onboarding_path(path, held):
        raise Conflict("the path was changed meanwhile; reload and retry")
    return path


# -- a person's progress --------------------------------------------------------------------


@dataclass(frozen=True)
class MyPath:
    path: coaching.OnboardingPath
    done: dict[str, datetime]  # step id -> when it was done (current steps only)
    progress: coaching.Progress


async def my_path(services: Services, user: Principal) -> MyPath:
    # Both at once: the web asks for this beside the feed's first page.
    path, mine = await asyncio.gather(
        onboarding_path(services, user.tenant),
        services.repo.progress_of(user.tenant, user.employee_id),
    )
    ids = {step.id for step in path.steps}
    done = {k: v for k, v in (mine.done if mine else {}).items() if k in ids}
    return MyPath(path, done, coaching.progress(path.steps, done))


async def complete_step(services: Services, user: Principal, step_id: str) -> tuple[MyPath, bool]:
    """Mark a step of the current path done; True when it was not done before. The event
    says whether this step finished the path (two steps finished at the same instant may
    both say not: the figures count paths finished by the last step's event)."""
    before = await my_path(services, user)
    steps = before.path.steps
    if step_id not in {step.id for step in steps}:
        raise NotFound(f"no step {step_id} on the onboarding path")
    if step_id in before.done:
        return before, False
    now = services.clock()
    done = {*before.done, step_id}
    after = coaching.progress(steps, done)
    version = before.path.version
    event = OnboardingStepCompleted.create(
        tenant_id=user.tenant,
        subject=user.employee_id,
        event_id=derived_event_id(user.tenant, "onboarding", user.employee_id, step_id),
        traceparent=current_traceparent(),
        data=OnboardingStepCompletedData(
            employee_id=user.employee_id,
            step_id=step_id,
            path_version=version,
            steps_done=after.done,
            steps_total=after.total,
            path_completed=after.complete,
            completed_at=now,
        ),
    )
    async with services.uow() as uow:
        uow.add(services.repo.step_done(user.tenant, user.employee_id, step_id, now), [event])
    if not uow.committed:
        # Done meanwhile by another request: that one's time and event stand.
        return await my_path(services, user), False
    return MyPath(before.path, {**before.done, step_id: now}, after), True


@dataclass(frozen=True)
class PathFigures:
    """How far people are on the path as it is now."""

    started: int
    completed: int
    per_step: dict[str, int]


async def path_figures(
    services: Services, user: Principal
) -> tuple[coaching.OnboardingPath, PathFigures]:
    path = await onboarding_path(services, user.tenant)
    steps = path.steps
    per_step = {step.id: 0 for step in steps}
    started = completed = 0
    for person in await services.repo.progress_all(user.tenant):
        done = [k for k in person.done if k in per_step]
        if not done:
            continue
        started += 1
        for step_id in done:
            per_step[step_id] += 1
        if coaching.progress(steps, done).complete:
            completed += 1
    return path, PathFigures(started, completed, per_step)


# -- areas of expertise ---------------------------------------------------------------------


async def my_areas(services: Services, user: Principal) -> list[str]:
    expertise = await services.repo.expertise_of(user.tenant, user.employee_id)
    return list(expertise.areas) if expertise else []


async def name_areas(services: Services, user: Principal, raws: Sequence[str]) -> list[str]:
    """Replace the caller's areas of expertise; the feed ranks by them at once."""
    if errors := coaching.area_errors(raws):
        raise invalid(*errors)
    named = coaching.areas(raws)
    now = services.clock()
    stamp = int(now.timestamp() * 1000)
    await services.repo.save_expertise(
        coaching.Expertise(user.tenant, user.employee_id, tuple(named), stamp, now)
    )
    await services.feed.record(
        user.tenant, feed.FeedChange(areas=((user.employee_id, stamp, tuple(named)),))
    )
    return named


async def coverage(services: Services, user: Principal) -> list[coaching.AreaRow]:
    """Each area people named, with how many name it and how many live items are on it."""
    named = await services.repo.expertise_all(user.tenant)
    held = await services.feed.tenant(user.tenant)
    now = services.clock()
    live = (entry.areas for entry in held.items if entry.live_until > now)
    return coaching.coverage(named, live)


async def known_topics(services: Services, user: Principal) -> list[str]:
    """The topics of the tenant's live items (normalised), to choose areas from."""
    held = await services.feed.tenant(user.tenant)
    now = services.clock()
    return sorted({a for entry in held.items if entry.live_until > now for a in entry.areas})
