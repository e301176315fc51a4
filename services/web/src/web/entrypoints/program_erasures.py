"""Erasure requests (admins): each request of the tenant, newest first, with the services
that confirmed it and those it still waits for.

The web worker keeps the list from ErasureRequested and ErasureCompleted
(`web.adapters.erasures`); the same worker erases what the web app holds of the person
(sessions and settings) on the request's AdvocateOptedOut and confirms it. Neither the
events nor the page name the person: a request is known by its id and its time.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chassis.consumer import Consumed
from contracts import AdvocateOptedOut, ErasureCompleted, ErasureRequested
from web.entrypoints.common import Language, Services, WebServices, render
from web.entrypoints.program import Admin
from web.i18n import Texts

router = APIRouter(include_in_schema=False)


def service_label(service: str, texts: Texts) -> str:
    """What each service holds, in the program team's words."""
    return {
        "content": texts.gettext("Content"),
        "share": texts.gettext("Sharing"),
        "rewards": texts.gettext("Rewards"),
        "metrics": texts.gettext("Analytics"),
        "web": texts.gettext("Web app"),
    }.get(service, service)


def origin_label(origin: str | None, texts: Texts) -> str:
    return {
        "person": texts.gettext("The person asked"),
        "directory": texts.gettext("Deleted from the directory"),
    }.get(origin or "", texts.gettext("Not known yet"))


@router.get("/program/run/erasures")
async def erasures_page(
    request: Request, services: Services, session: Admin, texts: Language
) -> Response:
    """The tenant's erasure requests and how far each got."""
    found = await services.erasures.of_tenant(session.tenant) if services.erasures else []
    rows = [
        {
            "status": status,
            "origin": origin_label(status.origin, texts),
            "services": [
                (service_label(s, texts), status.confirmed.get(s)) for s in status.expected
            ],
            "waiting": ", ".join(service_label(s, texts) for s in status.waiting_for),
        }
        for status in found
    ]
    return render(
        request,
        "program/erasures.html",
        texts,
        session,
        title=texts.gettext("Erasure requests"),
        section="program",
        program_section="run",
        run="erasures",
        rows=rows,
    )


async def on_erasures(services: WebServices, batch: list[Consumed[Any]]) -> None:
    """An erased person's sessions and settings go, and the web app confirms; each
    request's progress is kept for the page."""
    for item in batch:
        event = item.event
        if isinstance(event, AdvocateOptedOut) and event.data.erase:
            await services.sessions.delete_person(event.tenantid, event.data.employee_id)
            if services.confirmations is not None:
                await services.confirmations.confirm(
                    event.tenantid, event.id, event.data.opted_out_at
                )
        elif isinstance(event, ErasureRequested) and services.erasures is not None:
            await services.erasures.requested(event)
        elif isinstance(event, ErasureCompleted) and services.erasures is not None:
            await services.erasures.completed(event)
