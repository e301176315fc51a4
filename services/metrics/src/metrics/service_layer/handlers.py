"""Use cases of metrics: fold events into read models exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chassis.consumer import Consumed
from chassis.projection import Delta, apply_exactly_once
from metrics.adapters.mongo import FiguresRepository
from metrics.domain.figures import day_of, increments


@dataclass
class Services:
    repo: FiguresRepository


async def on_events(services: Services, batch: list[Consumed[Any]]) -> None:
    deltas = []
    for item in batch:
        inc = increments(item.event)
        if not inc:
            continue
        tenant, day = item.event.tenantid, day_of(item.event)
        deltas.append(
            Delta(
                doc_id=f"{tenant}:{day}",
                topic=item.topic,
                partition=item.partition,
                offset=item.offset,
                inc=dict(inc),
                set_on_insert={"tenant": tenant, "day": day},
            )
        )
    await apply_exactly_once(services.repo.tenant_days, deltas)
