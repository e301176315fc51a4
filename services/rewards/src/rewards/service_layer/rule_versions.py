"""Use cases of the point rules: their versions, never retroactive, and what a proposed
version would have given over a past window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chassis.domain_errors import Conflict, Invalid
from rewards.adapters import events as convert
from rewards.domain.ledger import replay
from rewards.domain.rules import DEFAULT_RULES, RuleSet
from rewards.service_layer.handlers import Services

# The version number a simulated proposal takes: above any a tenant publishes.
PROPOSED_VERSION = 1_000_000
# Simulations replay this far back unless told otherwise.
SIMULATION_WINDOW = timedelta(days=30)
# Employees whose points change most, shown by a simulation.
BIGGEST_CHANGES = 20


async def rule_versions(services: Services, tenant: str) -> list[RuleSet]:
    """Every version of the tenant's rules, oldest first; the defaults (version 1 of every
    tenant's rules, in force until the tenant publishes its own) when it has none."""
    config = await services.repo.tenant(tenant)
    return list(config.rules or [DEFAULT_RULES])


async def add_rule_version(
    services: Services,
    tenant: str,
    rules: dict[str, Any],
    effective_from: datetime | None,
    by: str,
) -> RuleSet:
    """Publish `rules` (points, daily caps and maximum, multipliers) as the tenant's next
    version, in force from `effective_from` (default: now), never before now: what was
    earned before stays as it was. `Conflict` when another version was added meanwhile."""
    now = services.clock()
    effective = effective_from or now
    if effective < now:
        raise Invalid(errors=[("effective_from", "rules never apply retroactively")])
    config = await services.repo.tenant(tenant)
    versions = config.rules
    # The defaults are version 1 of every tenant, so a tenant's first own rules are v2.
    number = max([v.version for v in versions], default=DEFAULT_RULES.version) + 1
    proposed = convert.ruleset_from_doc({"version": number, "effective_from": effective, **rules})
    version = replace(proposed, created_by=by)
    if not await services.repo.add_rule_version(tenant, len(versions), version):
        raise Conflict("another version was added meanwhile; try again")
    return version


@dataclass(frozen=True)
class Simulation:
    """Points over a window under the rules in force and under a proposal."""

    start: datetime
    end: datetime
    activities: int
    current_total: int
    proposed_total: int
    employees: int
    # At most BIGGEST_CHANGES, biggest change first: employee_id, current, proposed.
    biggest_changes: list[dict[str, Any]]


async def simulate(
    services: Services,
    tenant: str,
    rules: dict[str, Any],
    start: datetime | None,
    end: datetime | None,
) -> Simulation:
    """Replay the activities of a past window (default: the last 30 days) under the rules
    in force and under `rules`, and compare what each employee would have earned."""
    end = end or services.clock()
    if start is None and end.replace(tzinfo=None) < datetime.min + SIMULATION_WINDOW:
        # Its window would start before the first moment a datetime can name.
        raise Invalid(errors=[("end", "must be 30 days after year 1, or give start")])
    start = start or end - SIMULATION_WINDOW
    config = await services.config(tenant)
    activities = await services.repo.activities_between(tenant, start, end)
    proposed = convert.ruleset_from_doc(
        {"version": PROPOSED_VERSION, "effective_from": start, **rules}
    )
    current = replay(activities, config.versions, config.challenges, tenant)
    simulated = replay(activities, [proposed], config.challenges, tenant)
    employees = sorted(set(current) | set(simulated))

    def change(employee: str) -> int:
        return abs(simulated.get(employee, 0) - current.get(employee, 0))

    changes = [
        {"employee_id": e, "current": current.get(e, 0), "proposed": simulated.get(e, 0)}
        for e in sorted(employees, key=change, reverse=True)
    ]
    return Simulation(
        start=start,
        end=end,
        activities=len(activities),
        current_total=sum(current.values()),
        proposed_total=sum(simulated.values()),
        employees=len(employees),
        biggest_changes=changes[:BIGGEST_CHANGES],
    )
