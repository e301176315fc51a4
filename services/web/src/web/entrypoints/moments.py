"""When the audience engages: the program team's view of each network's week, learned from
the tenant's own clicks, reactions, comments and reshares, and the audience's time zone."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from babel import dates
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from web.adapters.sessions import Session
from web.domain import moments, networks
from web.entrypoints.common import (
    Form,
    Language,
    Services,
    WebServices,
    redirect,
    render,
    update_metrics_settings,
)
from web.entrypoints.program import Admin, Curator
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
PATH = "/program/analytics/moments"


@cache
def zones() -> list[str]:
    return sorted(available_timezones() | {"UTC"})


def network_label(texts: Texts, name: str) -> str:
    if name == "all":
        return texts.gettext("All networks")
    parsed = networks.parse(name)
    return networks.LABELS.get(parsed, name) if parsed else name


async def _page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    network: str,
    *,
    zone_value: str | None = None,
    zone_error: str = "",
    status: int = 200,
) -> Response:
    _ = texts.gettext
    found, settings = await asyncio.gather(
        services.backends.metrics.call("GET", "/api/v1/moments", session.token),
        services.backends.metrics.call("GET", "/api/v1/settings", session.token),
    )
    data = found.data if found.ok and isinstance(found.data, dict) else {}
    weeks = [moments.week_of(n) for n in data.get("networks") or []]
    shown = next((w for w in weeks if w.network == network), weeks[0] if weeks else None)
    zone_name = str(data.get("time_zone") or "UTC")
    zone = ZoneInfo(zone_name)
    day_names = dates.get_day_names("wide", locale=texts.language)
    short_days = dates.get_day_names("abbreviated", locale=texts.language)
    stored_zone = (settings.data or {}).get("time_zone") if settings.ok else None
    return render(
        request,
        "program/moments.html",
        texts,
        session,
        status=status,
        title=_("When your audience engages"),
        section="program",
        program_section="analytics",
        unavailable=not found.ok,
        weeks=weeks,
        shown=shown,
        labels={w.network: network_label(texts, w.network) for w in weeks},
        weeks_read=int(data.get("weeks") or 12),
        enough=int(data.get("enough") or 30),
        zone_name=zone_name,
        day_names=day_names,
        short_days=short_days,
        next_times=[texts.day_and_time(t.astimezone(zone)) for t in shown.next] if shown else [],
        levels=moments.LEVELS,
        zones=zones(),
        zone_value=zone_value if zone_value is not None else (stored_zone or zone_name),
        zone_error=zone_error,
        settings_unavailable=not settings.ok,
        saved=request.query_params.get("saved") == "zone",
    )


@router.get(PATH)
async def moments_page(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    network: Annotated[str, Query(max_length=40)] = "all",
) -> Response:
    """Each network's week: engagement per weekday and hour, and the busiest hours."""
    return await _page(request, services, session, texts, network)


@router.post(f"{PATH}/zone")
async def save_zone(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """The audience's time zone, which every hour on the page is counted in."""
    raw = str(form.get("time_zone", ""))[:100].strip()
    error = ""
    if raw not in zones():
        error = texts.gettext("Choose a time zone from the list, like Europe/Oslo.")
    else:
        saved = await update_metrics_settings(services, session, time_zone=raw)
        if saved.ok:
            return redirect(f"{PATH}?saved=zone#zone", request)
        error = (
            texts.gettext(
                "It could not be saved right now. Nothing changed: try again in a minute."
            )
            if saved.unavailable
            else texts.gettext("Choose a time zone from the list, like Europe/Oslo.")
        )
    return await _page(
        request, services, session, texts, "all", zone_value=raw, zone_error=error, status=422
    )
