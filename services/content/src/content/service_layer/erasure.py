"""Erasure: nothing content stores names a person it erased (`contracts.erasure`).

What went, what stays under the pseudonym, and what is remembered by person key:
- the items they shared (`shared`), their onboarding progress and their areas of expertise
  are deleted, and every api process's feed drops their marks and areas (`feed.forget`,
  which also deletes the change-log entries that name them);
- their guidelines acknowledgements, which the program team counts per version, and the
  items they authored as an employee (suggestions, a leader's own posts) stay, under the
  pseudonym;
- the time of the erasure, under their person key (`erasures`): a share made before it and
  counted late marks nothing (`handlers.on_post_shared`), while one made after it (the
  person came back) counts as theirs.
Each step is idempotent, so an erasure interrupted halfway is done again in full. Once it
is done, content confirms the request (the opt-out's id) with ErasureCompleted, once
(`chassis.erasure`); the batch is acknowledged after that, so a crash before it erases and
confirms again on redelivery.
"""

from __future__ import annotations

from datetime import datetime

from chassis.auth import Principal
from chassis.consumer import Consumed
from chassis.ids import new_id
from content.domain import model
from content.service_layer.handlers import Services
from contracts import AdvocateOptedOut
from contracts.erasure import person_key, pseudonym


async def erase(services: Services, tenant: str, employee: str, name: str, at: datetime) -> None:
    """Forget `employee`, keeping what others count under the pseudonym `name`; `at` is
    when they were erased."""
    repo = services.repo
    # First, so that a share counted meanwhile either sees it or is undone by this.
    await repo.record_erasure(person_key(tenant, employee), tenant, at)
    await repo.forget_shared(tenant, employee)
    await repo.erase_coaching(tenant, employee)
    await repo.pseudonymise_acknowledgements(tenant, employee, name)
    for item in await repo.pseudonymise_authored(tenant, employee, name):
        if item.status is model.Status.PUBLISHED:
            await services.feed.written(tenant, [item])
    await services.feed.forget(tenant, employee)


async def on_opted_out(services: Services, batch: list[Consumed[AdvocateOptedOut]]) -> None:
    """An advocate who leaves and asks for erasure is forgotten here too, under the
    pseudonym every service derives from the same event, and the request confirmed."""
    for item in batch:
        event = item.event
        if event.data.erase:
            await erase(
                services,
                event.tenantid,
                event.data.employee_id,
                pseudonym(event.id),
                event.data.opted_out_at,
            )
            if services.confirmations is not None:
                await services.confirmations.confirm(event.tenantid, event.id, services.clock())


async def erase_me(services: Services, user: Principal) -> None:
    """The erasure of someone outside the program, whom no opt-out announces: a pseudonym
    of its own, and now as the time."""
    await erase(services, user.tenant, user.employee_id, pseudonym(new_id()), services.clock())
