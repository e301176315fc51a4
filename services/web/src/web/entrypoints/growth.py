"""Network growth: what the company page and the advocates' own profiles gained, new
connections per post and participation, per period, team and network; the company page's
follower counts over time, and where admins record them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from contracts import Network
from web.adapters.sessions import Session
from web.domain import analytics, growth, networks
from web.entrypoints.common import Form, Language, Services, WebServices, redirect, render
from web.entrypoints.program import Admin, Curator
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
PATH = "/program/analytics/growth"
Text = Annotated[str | None, Query(max_length=200)]
MAX_FOLLOWERS = 1_000_000_000


def figure_words(texts: Texts) -> dict[str, tuple[str, str]]:
    """Each figure's label and how it is computed, in the person's language."""
    _ = texts.gettext
    return {
        "company_follower_growth": (
            _("Company page followers"),
            _("Growth of the company page's followers in the period, from the counts recorded."),
        ),
        "advocate_network_growth": (
            _("Advocates' own networks"),
            _("Average growth of the advocates' own followers or connections in the period."),
        ),
        "new_connections_per_post": (
            _("New connections per post"),
            _("Followers or connections the advocates gained, for each post they shared."),
        ),
        "participation": (
            _("Employees taking part"),
            _("Enrolled advocates who shared at least once in the period."),
        ),
    }


def figure_text(texts: Texts, name: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return "\u2013"
    if name == "new_connections_per_post":
        return texts.number(round(value, 1))
    sign = "+" if name != "participation" and value > 0 else ""
    return sign + texts.percent(value)


def _view(
    preset: str | None, start: str | None, end: str | None, group: str | None, network: str | None
) -> analytics.View:
    return analytics.view_of(datetime.now(UTC).date(), preset, start, end, group, network)


async def _page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    view: analytics.View,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    _ = texts.gettext
    shown_network = view.network or "linkedin"
    compared, history = await asyncio.gather(
        services.backends.metrics.call(
            "GET", "/api/v1/figures", session.token, params=view.params()
        ),
        services.backends.share.call(
            "GET",
            "/api/v1/company/followers",
            session.token,
            params={"network": shown_network, "limit": 500},
        ),
    )
    data = compared.data or {} if compared.ok else {}
    figures, previous = data.get("figures") or {}, data.get("previous") or {}
    words = figure_words(texts)
    cards = [
        {
            "name": name,
            "label": words[name][0],
            "how": words[name][1],
            "text": figure_text(texts, name, figures.get(name)),
            "previous": figure_text(texts, name, previous.get(name)),
            "known": isinstance(figures.get(name), int | float),
        }
        for name in growth.FIGURES
    ]
    items = list((history.data or {}).get("items") or []) if history.ok else []
    points = growth.counts(items, shown_network)
    drawn = growth.line(points, view.start, view.end)
    in_period = [
        (at, n)
        for at, n in points
        if datetime.combine(view.start, time(0), UTC)
        <= at
        <= datetime.combine(view.end, time(23, 59, 59), UTC)
    ]
    label = networks.LABELS[networks.parse(shown_network) or Network.LINKEDIN]
    return render(
        request,
        "program/growth.html",
        texts,
        session,
        status=status,
        title=_("Network growth"),
        section="program",
        program_section="analytics",
        view=view,
        query=view.query(),
        presets=[
            ("30d", _("Last 30 days")),
            ("90d", _("Last 90 days")),
            ("quarter", _("This quarter")),
        ],
        network_names=[(n.value, name) for n, name in networks.LABELS.items()],
        figures_unavailable=not compared.ok,
        cards=cards,
        previous_start=analytics.parse_day((data.get("previous_period") or {}).get("start")),
        previous_end=analytics.parse_day((data.get("previous_period") or {}).get("end")),
        history_unavailable=not history.ok,
        line=drawn,
        counts=list(reversed(in_period)),
        network_label=label,
        shown_network=shown_network,
        values=values or {"network": shown_network, "measured_on": date.today().isoformat()},
        errors=errors or {},
        today=datetime.now(UTC).date().isoformat(),
        saved=request.query_params.get("saved") == "followers",
    )


@router.get(PATH)
async def growth_page(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    preset: Text = None,
    start: Text = None,
    end: Text = None,
    group: Text = None,
    network: Text = None,
) -> Response:
    """Network growth for a period, a team and a network."""
    view = _view(preset or "90d", start, end, group, network)
    return await _page(request, services, session, texts, view)


@router.post(f"{PATH}/followers")
async def record_followers(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """A count of the company page's followers on a network, on a day."""
    _ = texts.gettext
    values = {
        "network": str(form.get("network", ""))[:40],
        "followers": str(form.get("followers", "")).strip()[:20],
        "measured_on": str(form.get("measured_on", "")).strip()[:20],
    }
    errors: dict[str, str] = {}
    parsed = networks.parse(values["network"])
    if parsed is None:
        errors["network"] = _("Choose a network.")
    digits = values["followers"].replace(" ", "").replace("\u00a0", "").replace(",", "")
    if not digits.isdigit() or int(digits) > MAX_FOLLOWERS:
        errors["followers"] = _("Enter the number of followers as a whole number, like 12400.")
    today = datetime.now(UTC).date()
    day = analytics.parse_day(values["measured_on"]) if values["measured_on"] else today
    if day is None or day > today:
        errors["measured_on"] = _("Choose a day up to today.")
    if not errors and parsed is not None and day is not None:
        # A day in the past counts at its noon (UTC); today's count is of now.
        at = datetime.now(UTC) if day == today else datetime.combine(day, time(12), UTC)
        reply = await services.backends.share.call(
            "POST",
            "/api/v1/company/followers",
            session.token,
            json={"network": parsed.value, "followers": int(digits), "measured_at": at.isoformat()},
        )
        if reply.ok:
            return redirect(f"{PATH}?network={parsed.value}&saved=followers#record", request)
        errors["form"] = (
            _("It could not be saved right now. Nothing changed: try again in a minute.")
            if reply.unavailable
            else _("The count was refused. Check the number and the day.")
        )
    view = _view("90d", None, None, None, parsed.value if parsed else None)
    return await _page(
        request, services, session, texts, view, values=values, errors=errors, status=422
    )
