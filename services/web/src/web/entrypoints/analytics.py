"""The program team's analytics: headline figures that follow clicks live, a time series
beside the previous period, breakdowns, the recruiting funnel, goals, top content and
advocates, CSV exports, and a report for leadership as a page and as a PDF."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import analytics, growth, networks
from web.entrypoints import growth as growth_page
from web.entrypoints.common import Language, Services, WebServices, error_page, render
from web.entrypoints.program import Curator
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
TABLES = frozenset(
    ("figures", "series", "content", "advocates", "groups", "networks", "campaigns", "funnel")
) | {"goals", "locations", "topics"}
BREAKDOWNS = ("group", "network", "campaign", "content", "location", "topic")
ROWS = 10
Text = Annotated[str | None, Query(max_length=200)]


# -- words -----------------------------------------------------------------------------------


def figure_labels(texts: Texts) -> dict[str, str]:
    _ = texts.gettext
    return {
        "active_advocates": _("Active advocates"),
        "shares": _("Shares"),
        "clicks": _("Clicks"),
        "reach": _("Reach"),
        "engagements": _("Engagement"),
        "earned_media_value": _("Earned media value"),
        "conversions": _("Job applications"),
        "leader_participation": _("Leaders taking part"),
    }


def figure_hows(texts: Texts) -> dict[str, str]:
    _ = texts.gettext
    return {
        "active_advocates": _(
            "Advocates who shared at least once in the period, out of those enrolled at its end."
        ),
        "shares": _("Posts the advocates shared in the period, counted once each."),
        "clicks": _("Visits to the tracked links. Known bots and link previews are left out."),
        "reach": _(
            "The potential audience: for each share, the advocate's followers or connections "
            "on that network."
        ),
        "engagements": _("Clicks, reactions, comments and reshares the networks reported."),
        "earned_media_value": _(
            "What the same reach, clicks and engagement would have cost as paid media, "
            "from the program's price table."
        ),
        "conversions": _("Applications that came through a tracked link."),
        "leader_participation": _(
            "Of the enrolled members of the leaders' group, those who shared at least once in "
            "the period. Candidates judge us by our leaders' posts, and employees join when "
            "leaders do."
        ),
    }


def change_text(texts: Texts, h: analytics.Headline) -> str:
    _ = texts.gettext
    if h.change is None:
        if h.direction == "new":
            return _("none in the previous period")
        return _("no change on the previous period")
    if h.change == 0:
        return _("no change on the previous period")
    sign = "+" if h.change > 0 else ""
    return _("%(change)s on the previous period", change=sign + texts.percent(h.change))


def value_text(texts: Texts, name: str, value: float | None, currency: str = "") -> str:
    if value is None:
        return "\u2013"
    if name == "earned_media_value":
        return f"{texts.number(round(value, 2))} {currency}".strip()
    if name == analytics.LEADERS:
        return texts.percent(value)
    return texts.number(value)


# -- reading metrics --------------------------------------------------------------------------


def _get(services: WebServices, session: Session, path: str, **params: Any) -> Any:
    return services.backends.metrics.call("GET", path, session.token, params=params)


async def leaders_group(services: WebServices, session: Session) -> dict[str, str]:
    """The leaders' group as metrics is asked for it: the share service names it (kept a
    few seconds, `LEADERS_KEPT_SECONDS`)."""
    found = services.leaders.get(session.tenant)
    if found is not None:
        return found
    reply = await services.backends.share.call("GET", "/api/v1/settings/leaders", session.token)
    if not reply.ok:
        return {}
    group = (reply.data or {}).get("leaders_group")
    found = services.leaders[session.tenant] = {"leaders_group": str(group)} if group else {}
    return found


async def _headline(
    services: WebServices, session: Session, texts: Texts, view: analytics.View
) -> dict[str, Any]:
    """The live region's context: the figures beside the previous period, and EMV."""
    _, live = await _dashboard(services, session, texts, view, part=["figures", "emv"])
    return live


def _parts(reply: Reply) -> dict[str, Reply]:
    """Each part of metrics' dashboard as the reply its own call would have been."""
    data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
    breakdowns = data.get("breakdowns") or {}

    def part(value: Any) -> Reply:
        return Reply(status=reply.status, data=value) if value is not None else reply

    parts = {
        name: part(data.get(name))
        for name in ("figures", "emv", "series", "previous_series", "funnel", "goals")
    }
    parts.update({d: part(breakdowns.get(d)) for d in (*BREAKDOWNS, "advocate")})
    return parts


async def _dashboard(
    services: WebServices, session: Session, texts: Texts, view: analytics.View, **asked: Any
) -> tuple[dict[str, Reply], dict[str, Any]]:
    """The parts of the page (all unless `part` is asked) from metrics' one answer for
    them, each as the reply its own call would have been; and the live region's context."""
    leaders = await leaders_group(services, session)
    reply = await _get(services, session, "/api/v1/dashboard", **view.params(), **leaders, **asked)
    parts = _parts(reply)
    return parts, headline_context(texts, view, parts["figures"], parts["emv"])


def headline_context(
    texts: Texts, view: analytics.View, compared: Reply, emv: Reply
) -> dict[str, Any]:
    data = compared.data or {} if compared.ok else {}
    money = emv.data or {} if emv.ok else {}
    emv_value = money.get("value") if isinstance(money.get("value"), int | float) else None
    labels, hows = figure_labels(texts), figure_hows(texts)
    currency = str(money.get("currency") or "")
    cards = []
    for h in analytics.headlines(data, emv_value):
        cards.append(
            {
                "name": h.name,
                "label": labels[h.name],
                "how": hows[h.name],
                "value": h.value,
                "text": value_text(texts, h.name, h.value, currency),
                "previous": value_text(texts, h.name, h.previous, currency),
                "change": change_text(texts, h),
                "direction": h.direction,
            }
        )
    figures = data.get("figures") or {}
    participation = figures.get("participation")
    formulas = dict(data.get("formulas") or {})
    if money.get("formula"):
        formulas["earned_media_value"] = money["formula"]
    print_ = analytics.fingerprint(compared.ok, figures, data.get("previous"), emv_value)
    return {
        "compared": compared,
        "cards": cards,
        "figures": figures,
        "participation": participation,
        "enrolled": figures.get("enrolled_advocates"),
        "leaders_active": figures.get("leaders_active"),
        "leaders_enrolled": figures.get("leaders_enrolled"),
        "formulas": formulas,
        "emv": money,
        "currency": currency,
        "previous_start": analytics.parse_day((data.get("previous_period") or {}).get("start")),
        "previous_end": analytics.parse_day((data.get("previous_period") or {}).get("end")),
        "fingerprint": print_,
        "live_url": f"/program/analytics/live?{view.query()}&v={print_}",
    }


def _view(
    preset: str | None,
    start: str | None,
    end: str | None,
    group: str | None = None,
    network: str | None = None,
    campaign: str | None = None,
    kind: str | None = None,
) -> analytics.View:
    today = datetime.now(UTC).date()
    return analytics.view_of(today, preset, start, end, group, network, campaign, kind)


def _items(reply: Reply) -> list[dict[str, Any]]:
    return list((reply.data or {}).get("items") or []) if reply.ok else []


def _name(dimension: str, row: dict[str, Any]) -> str:
    key = str(row.get(dimension) or "")
    if dimension == "content":
        return str(row.get("title") or key)
    if dimension == "network":
        parsed = networks.parse(key)
        return networks.LABELS.get(parsed, key) if parsed else key
    return key


async def _visible(services: WebServices, session: Session) -> tuple[set[str], bool]:
    """Who shows themselves on the company's leaderboard (rewards knows who chose not to)."""
    reply = await services.backends.rewards.call(
        "GET",
        "/api/v1/leaderboards",
        session.token,
        params={"period": "all", "scope": "tenant", "limit": 200},
    )
    if not reply.ok:
        return set(), False
    top = (reply.data or {}).get("top") or []
    return {str(r.get("employee_id")) for r in top if r.get("employee_id")}, True


def _goal(goal: dict[str, Any]) -> dict[str, Any]:
    return {
        **goal,
        "share": analytics.goal_share(goal),
        "start_day": analytics.parse_day(goal.get("start")),
        "end_day": analytics.parse_day(goal.get("end")),
    }


def _people(services: WebServices, session: Session) -> dict[str, str]:
    if services.settings.env != "local":
        return {}
    return {p.id: p.name for p in services.settings.people if p.tenant == session.tenant}


# -- the page --------------------------------------------------------------------------------


@router.get("/program/analytics")
async def analytics_page(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    preset: Text = None,
    start: Text = None,
    end: Text = None,
    group: Text = None,
    network: Text = None,
    campaign: Text = None,
    kind: Text = None,
) -> Response:
    """The program's figures for a period, with its filters in the address."""
    _ = texts.gettext
    view = _view(preset, start, end, group, network, campaign, kind)
    before_start, before_end = view.previous
    granularity = view.granularity
    (parts, live), (visible, known) = await asyncio.gather(
        _dashboard(
            services,
            session,
            texts,
            view,
            granularity=granularity,
            # The jobs with the most applications; the CSV holds every one.
            limit=ROWS,
            advocate_limit=ROWS * 5,
        ),
        _visible(services, session),
    )
    series, series_before, funnel, goals = (
        parts[name] for name in ("series", "previous_series", "funnel", "goals")
    )
    advocates = parts["advocate"]
    breakdowns = {d: parts[d] for d in BREAKDOWNS}
    labels = analytics.periods(view.start, view.end, granularity)
    before_labels = analytics.periods(before_start, before_end, granularity)
    clicks = analytics.filled(_items(series), labels, "clicks")
    shares = analytics.filled(_items(series), labels, "shares")
    clicks_before = analytics.filled(_items(series_before), before_labels, "clicks")
    chart = analytics.comparison_chart(labels, clicks, clicks_before)
    names = _people(services, session)
    people = analytics.visible_advocates(_items(advocates), visible if known else set())
    tables = {
        d: [{**r, "name": _name(d, r)} for r in _items(reply)] for d, reply in breakdowns.items()
    }
    goal_rows = [_goal(g) for g in _items(goals)]
    query = view.query()
    return render(
        request,
        "program/analytics.html",
        texts,
        session,
        title=_("Analytics"),
        section="program",
        program_section="analytics",
        view=view,
        query=query,
        presets=[
            ("7d", _("Last 7 days")),
            ("30d", _("Last 30 days")),
            ("90d", _("Last 90 days")),
            ("quarter", _("This quarter")),
        ],
        network_names=[(n.value, label) for n, label in networks.LABELS.items()],
        kind_names=[
            ("article", _("Articles")),
            ("internal", _("Company news")),
            ("job", _("Jobs")),
            ("event", _("Events")),
        ],
        interval=f"{services.settings.analytics_interval_seconds:g}s",
        series=series,
        chart=chart,
        chart_rows=[
            {"label": p.label, "day": analytics.parse_day(p.label), "shares": s, **vars(p)}
            for p, s in zip(chart.points, shares, strict=True)
        ],
        chart_summary=_chart_summary(texts, view, sum(clicks), sum(clicks_before)),
        granularity=granularity,
        breakdowns=breakdowns,
        tables=tables,
        funnel=funnel,
        funnel_rows=_items(funnel),
        goals=goals,
        goal_rows=goal_rows,
        advocates=advocates,
        advocates_known=known,
        people=people,
        names=names,
        groups=sorted({str(r.get("group")) for r in tables["group"] if r.get("group")}),
        campaigns=sorted({str(r.get("campaign")) for r in tables["campaign"] if r.get("campaign")}),
        **live,
    )


def _chart_summary(texts: Texts, view: analytics.View, now: int, before: int) -> str:
    _ = texts.gettext
    return _(
        "Clicks from %(start)s to %(end)s: %(count)s, against %(before)s in the previous "
        "period of the same length.",
        start=texts.date(view.start),
        end=texts.date(view.end),
        count=texts.number(now),
        before=texts.number(before),
    )


@router.get("/program/analytics/live")
async def analytics_live(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    v: Annotated[str, Query(max_length=64)] = "",
    preset: Text = None,
    start: Text = None,
    end: Text = None,
    group: Text = None,
    network: Text = None,
    campaign: Text = None,
    kind: Text = None,
) -> Response:
    """The headline figures again, for htmx polling; nothing (204) when nothing changed."""
    view = _view(preset, start, end, group, network, campaign, kind)
    live = await _headline(services, session, texts, view)
    if v and v == live["fingerprint"] and request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return render(
        request,
        "program/analytics_live.html",
        texts,
        session,
        view=view,
        interval=f"{services.settings.analytics_interval_seconds:g}s",
        **live,
    )


# -- CSV -------------------------------------------------------------------------------------


@router.get("/program/analytics/export/{table}.csv")
async def analytics_export(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    table: str,
    preset: Text = None,
    start: Text = None,
    end: Text = None,
    group: Text = None,
    network: Text = None,
    campaign: Text = None,
    kind: Text = None,
) -> Response:
    """A table of the view as CSV, streamed from metrics as it comes."""
    _ = texts.gettext
    if table not in TABLES:
        return error_page(
            request,
            texts,
            session,
            404,
            _("There is no such table"),
            _("Go back to Analytics and use a table's own download link."),
        )
    view = _view(preset, start, end, group, network, campaign, kind)
    params = view.params()
    if table == "series":
        params["granularity"] = view.granularity
    client = httpx.AsyncClient(
        base_url=services.settings.metrics_url,
        timeout=httpx.Timeout(30.0, connect=services.settings.backend_timeout_seconds),
        trust_env=False,
    )
    try:
        upstream = await client.send(
            client.build_request(
                "GET",
                f"/api/v1/export/{table}.csv",
                params=params,
                headers={"Authorization": f"Bearer {session.token}"},
            ),
            stream=True,
        )
    except httpx.HTTPError:
        await client.aclose()
        return _export_unavailable(request, texts, session)
    if upstream.status_code != 200:
        await upstream.aclose()
        await client.aclose()
        return _export_unavailable(request, texts, session)

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    filename = f"chorus-{table}-{view.start.isoformat()}-{view.end.isoformat()}.csv"
    return StreamingResponse(
        upstream.aiter_bytes(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(close),
    )


def _export_unavailable(request: Request, texts: Texts, session: Session) -> Response:
    _ = texts.gettext
    return error_page(
        request,
        texts,
        session,
        503,
        _("The download is unavailable right now"),
        _("The metrics service did not answer. Nothing is lost: try again in a minute."),
    )


# -- the leadership report ---------------------------------------------------------------------


async def report_context(
    services: WebServices, session: Session, texts: Texts, view: analytics.View
) -> dict[str, Any]:
    """What the report shows, on the page and in the PDF alike."""
    _ = texts.gettext
    leaders = await leaders_group(services, session)
    reply = await _get(services, session, "/api/v1/report", **view.params(), **leaders)
    data = reply.data or {} if reply.ok else {}
    emv = data.get("earned_media_value") or {}
    live = headline_context(
        texts, view, reply, Reply(status=200, data=emv) if emv else Reply(unavailable=True)
    )
    goals = [_goal(g) for g in data.get("goals") or []]
    names = [str(g.get("name")) for g in goals if g.get("name")]
    if names:
        purpose = _(
            "Our employees share the company's news, jobs and stories with their own "
            "networks, by choice. This period the program worked towards: %(goals)s.",
            goals=", ".join(names),
        )
    else:
        purpose = _(
            "Our employees share the company's news, jobs and stories with their own "
            "networks, by choice, so that more people hear of us from people they trust."
        )
    stories = [
        {**row, "name": _name("content", row)} for row in (data.get("top_content") or [])[:5]
    ]
    words = growth_page.figure_words(texts)
    now, before = data.get("figures") or {}, data.get("previous") or {}
    growth_rows = [
        {
            "name": name,
            "label": words[name][0],
            "text": growth_page.figure_text(texts, name, now.get(name)),
            "previous": growth_page.figure_text(texts, name, before.get(name)),
        }
        for name in growth.FIGURES
    ]
    return {
        "report": reply,
        "growth_rows": growth_rows,
        "purpose": purpose,
        "report_goals": goals,
        "goal_rows": goals,
        "stories": stories,
        "generated": datetime.now(UTC),
        **live,
    }


@router.get("/program/analytics/report")
async def analytics_report(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    preset: Text = None,
    start: Text = None,
    end: Text = None,
) -> Response:
    """A printable page for leadership: purpose, goals, trends and top stories."""
    _ = texts.gettext
    view = _view(preset, start, end)
    context = await report_context(services, session, texts, view)
    return render(
        request,
        "program/analytics_report.html",
        texts,
        session,
        title=_("Report for leadership"),
        section="program",
        program_section="analytics",
        view=view,
        query=view.query(),
        **context,
    )


@router.get("/program/analytics/report.pdf")
async def analytics_report_pdf(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    preset: Text = None,
    start: Text = None,
    end: Text = None,
) -> Response:
    """The same report as a PDF, in the person's language."""
    _ = texts.gettext
    from web.entrypoints import analytics_pdf  # reportlab loads only when a PDF is asked for

    view = _view(preset, start, end)
    context = await report_context(services, session, texts, view)
    if not context["report"].ok:
        return error_page(
            request,
            texts,
            session,
            503,
            _("The report is unavailable right now"),
            _("The metrics service did not answer. Nothing is lost: try again in a minute."),
        )
    pdf = await asyncio.to_thread(analytics_pdf.render_pdf, texts, view, context)
    filename = f"chorus-report-{view.start.isoformat()}-{view.end.isoformat()}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "no-store",
            "Content-Language": texts.language,
        },
    )


def period_text(texts: Texts, start: date | None, end: date | None) -> str:
    _ = texts.gettext
    return _("%(start)s to %(end)s", start=texts.date(start, "long"), end=texts.date(end, "long"))
