"""My impact: my shares with their clicks, my points with their reasons, badges, challenges,
a streak, and the leaderboard as a tab of it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import impact, networks
from web.domain.times import parse_time
from web.entrypoints.common import (
    Form,
    Language,
    Person,
    Services,
    WebServices,
    redirect,
    render,
    safe_next,
)
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
SHARES_LIMIT = 200
POINTS_LIMIT = 100
# How many shares and points show at once; the rest sit behind "show more".
SHOWN = 10
PERIODS = ("week", "month", "all")
SCOPES = ("tenant", "team", "location")
BOARD_LIMIT = 50
Figure = Annotated[int | None, Query(ge=0, le=10**12)]


# -- words -----------------------------------------------------------------------------------


def reason_text(texts: Texts, entry: dict[str, Any], challenges: dict[str, str]) -> str:
    """Why a ledger entry's points were given, in the person's language."""
    rule = str(entry.get("rule_id") or "")
    reason = str(entry.get("reason") or "")
    # The rules' own reasons, word for word in English.
    fixed = {
        "share": texts.gettext("Shared a post"),
        "first-share": texts.gettext("First share of a new content item"),
        "click": texts.gettext("A unique click on a shared link"),
        "reaction": texts.gettext("A reaction to a shared post"),
        "comment": texts.gettext("A comment on a shared post"),
        "reshare": texts.gettext("A reshare of a shared post"),
        "conversion": texts.gettext("A conversion from a shared link"),
        "buddy-feedback": texts.gettext("Feedback on your buddy's draft"),
        "onboarding-step": texts.gettext("A step of your onboarding path"),
    }
    if rule in fixed:
        return fixed[rule]
    if rule.startswith("challenge:"):
        name = challenges.get(rule.partition(":")[2]) or impact.challenge_name(reason)
        return texts.gettext("You completed the challenge “%(name)s”", name=name)
    if rule == "clawback":
        why = reason.removeprefix("reversed: ")
        return texts.gettext("Points taken back by the program team: %(why)s", why=why)
    return reason or rule


def badge_text(texts: Texts, badge: dict[str, Any]) -> str:
    """A badge's name in the person's language (the service's English name otherwise)."""
    key = str(badge.get("badge") or "")
    if key == "first-share":
        return texts.gettext("First share")
    if key == "recruiting-hero":
        return texts.gettext("Recruiting hero")
    number = key.rpartition("-")[2]
    if key.startswith("shares-") and number.isdigit():
        return texts.ngettext("%(count)s share", "%(count)s shares", int(number))
    if key.startswith("streak-") and number.isdigit():
        return texts.ngettext(
            "%(count)s week in a row with a share",
            "%(count)s weeks in a row with a share",
            int(number),
        )
    month = str(badge.get("month") or "")
    if key == "top-10-percent" and len(month) == 7 and month[:4].isdigit() and month[5:].isdigit():
        return texts.gettext(
            "Top 10%% of %(month)s",
            month=texts.date(date(int(month[:4]), int(month[5:]), 1), "LLLL y"),
        )
    return str(badge.get("name") or key)


def signed(texts: Texts, points: int) -> str:
    return ("+" if points > 0 else "") + texts.number(points)


def status_label(texts: Texts, status: str) -> str:
    labels = {
        "scheduled": texts.gettext("Scheduled"),
        "posting": texts.gettext("Posting"),
        "failed": texts.gettext("Not posted"),
        "cancelled": texts.gettext("Cancelled"),
    }
    return labels.get(status, "")


# -- the live part: figures, chart, shares, points -----------------------------------------------


async def _live_replies(services: WebServices, session: Session) -> tuple[Reply, Reply]:
    backends = services.backends
    return await asyncio.gather(
        backends.share.call(
            "GET",
            "/api/v1/shares",
            session.token,
            params={"employee_id": session.employee_id, "limit": SHARES_LIMIT},
        ),
        backends.rewards.call(
            "GET", "/api/v1/me/points", session.token, params={"limit": POINTS_LIMIT}
        ),
    )


def _share_row(texts: Texts, share: dict[str, Any]) -> dict[str, Any]:
    network = networks.parse(str(share.get("network") or ""))
    status = str(share.get("status") or "shared")
    return {
        "id": share.get("id"),
        "network": networks.LABELS.get(network, str(share.get("network") or "")) if network else "",
        "text": share.get("text") or "",
        "title": share.get("title") or "",
        "shared_at": parse_time(share.get("shared_at")),
        "scheduled_at": parse_time(share.get("scheduled_at")),
        "status": status,
        "status_label": status_label(texts, status),
        "tracked_url": share.get("tracked_url") or "",
        "clicks": impact.clicks_of(share),
        "engagement": impact.engagement_of(share),
    }


def _chart(texts: Texts, days: list[impact.Day], field: str, label: str) -> dict[str, Any]:
    values = [(d.day, getattr(d, field)) for d in days]
    chart = impact.bar_chart(values)
    busiest = max(values, key=lambda v: v[1]) if values else None
    total = sum(v for _, v in values)
    first, last = values[0][0], values[-1][0]
    if busiest and busiest[1]:
        summary = texts.gettext(
            "%(what)s from %(start)s to %(end)s: %(total)s in all, most on %(day)s (%(most)s).",
            what=label,
            start=texts.date(first),
            end=texts.date(last),
            total=texts.number(total),
            day=texts.date(busiest[0]),
            most=texts.number(busiest[1]),
        )
    else:
        summary = texts.gettext(
            "%(what)s from %(start)s to %(end)s: none yet.",
            what=label,
            start=texts.date(first),
            end=texts.date(last),
        )
    return {"id": field, "label": label, "chart": chart, "summary": summary, "total": total}


def live_context(
    texts: Texts, shares: Reply, points: Reply, today: date | None = None
) -> dict[str, Any]:
    """What the live region shows, and the figures the next poll compares against."""
    today = today or datetime.now(UTC).date()
    items: list[dict[str, Any]] = list((shares.data or {}).get("items") or []) if shares.ok else []
    totals = impact.totals(items)
    days = impact.daily(items, today)
    wallet = points.data or {} if points.ok else {}
    entries: list[dict[str, Any]] = list(wallet.get("recent") or [])
    net = (
        int(wallet.get("earned") or 0) - int(wallet.get("clawed_back") or 0) if points.ok else None
    )
    figures: dict[str, int | None] = {
        "shares": totals.shares if shares.ok else None,
        "clicks": totals.clicks if shares.ok else None,
        "engagement": totals.engagement if shares.ok else None,
        "points": net,
    }
    # What the region shows, reduced to a fingerprint: a poll that finds the same answers
    # swaps nothing (an open "show more" stays open).
    fingerprint = hashlib.sha256(
        json.dumps(
            [
                shares.ok,
                points.ok,
                [(s.get("id"), s.get("status"), s.get("engagement")) for s in items],
                [(e.get("award_id"), e.get("points")) for e in entries],
                wallet.get("balance"),
            ],
            default=str,
        ).encode()
    ).hexdigest()[:16]
    return {
        "shares": shares,
        "points": points,
        "share_rows": [_share_row(texts, s) for s in items],
        "shares_truncated": bool((shares.data or {}).get("next_cursor")) if shares.ok else False,
        "totals": totals,
        "figures": figures,
        "net_points": net,
        "balance": wallet.get("balance"),
        "clawed_back": int(wallet.get("clawed_back") or 0),
        "entries": entries,
        "points_truncated": len(entries) >= POINTS_LIMIT,
        "charts": [
            _chart(texts, days, "clicks", texts.gettext("Clicks per day")),
            _chart(texts, days, "shares", texts.gettext("Shares per day")),
        ],
        "chart_days": [d for d in days if d.shares or d.clicks],
        "chart_start": days[0].day,
        "chart_end": days[-1].day,
        "streak": impact.streak(
            (
                parse_time(s.get("shared_at"))
                for s in items
                if s.get("status", "shared") == "shared"
            ),
            today,
        ),
        "fingerprint": fingerprint,
        "live_url": "/impact/live?"
        + urlencode({"v": fingerprint, **{k: v for k, v in figures.items() if v is not None}}),
    }


def announcement(texts: Texts, changed: impact.Changes) -> str:
    """The polite line read out when figures grow, e.g. "2 new clicks, 2 more points"."""
    parts = []
    if changed.shares:
        parts.append(texts.ngettext("%(count)s new share", "%(count)s new shares", changed.shares))
    if changed.clicks:
        parts.append(texts.ngettext("%(count)s new click", "%(count)s new clicks", changed.clicks))
    if changed.engagement:
        parts.append(
            texts.ngettext(
                "%(count)s new interaction", "%(count)s new interactions", changed.engagement
            )
        )
    if changed.points:
        parts.append(
            texts.ngettext("%(count)s more point", "%(count)s more points", changed.points)
        )
    return ", ".join(parts)


def _reasons(texts: Texts, entries: list[dict[str, Any]], challenges: dict[str, str]) -> None:
    for entry in entries:
        entry["why"] = reason_text(texts, entry, challenges)
        entry["signed"] = signed(texts, int(entry.get("points") or 0))
        entry["at"] = parse_time(entry.get("awarded_at"))


@router.get("/impact")
async def impact_page(
    request: Request, services: Services, session: Person, texts: Language
) -> Response:
    """My shares, clicks, points with their reasons, badges, challenges and streak."""
    rewards = services.backends.rewards
    (shares, points), badges, challenges = await asyncio.gather(
        _live_replies(services, session),
        rewards.call("GET", "/api/v1/me/badges", session.token),
        rewards.call("GET", "/api/v1/me/challenges", session.token),
    )
    now = datetime.now(UTC)
    challenge_list = []
    for c in (challenges.data or {}).get("challenges") or [] if challenges.ok else []:
        ends, starts = parse_time(c.get("ends_at")), parse_time(c.get("starts_at"))
        if ends is not None and ends <= now:
            continue
        target = max(int(c.get("target") or 1), 1)
        progress = min(int(c.get("progress") or 0), target)
        challenge_list.append(
            {
                **c,
                "target": target,
                "progress": progress,
                "ends": ends,
                "starts": starts,
                "upcoming": starts is not None and starts > now,
                "done": progress >= target,
            }
        )
    names = {str(c.get("challenge_id")): str(c.get("name") or "") for c in challenge_list}
    live = live_context(texts, shares, points, now.date())
    _reasons(texts, live["entries"], names)
    badge_list = [
        {**b, "label": badge_text(texts, b), "earned": parse_time(b.get("earned_at"))}
        for b in ((badges.data or {}).get("badges") or [] if badges.ok else [])
    ]
    return render(
        request,
        "impact.html",
        texts,
        session,
        title=texts.gettext("My impact"),
        section="impact",
        tab="impact",
        badges=badges,
        badge_list=badge_list,
        challenges=challenges,
        challenge_list=challenge_list,
        interval=f"{services.settings.live_interval_seconds:g}s",
        announce="",
        **live,
    )


@router.get("/impact/live")
async def impact_live(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    v: Annotated[str, Query(max_length=64)] = "",
    shares: Figure = None,
    clicks: Figure = None,
    engagement: Figure = None,
    points: Figure = None,
) -> Response:
    """The live region again, for htmx polling; nothing (204) when nothing changed."""
    share_reply, points_reply = await _live_replies(services, session)
    live = live_context(texts, share_reply, points_reply)
    if v and v == live["fingerprint"] and request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    before = {"shares": shares, "clicks": clicks, "engagement": engagement, "points": points}
    announce = announcement(texts, impact.changes(before, live["figures"]))
    _reasons(texts, live["entries"], {})
    return render(
        request,
        "partials/impact_live.html",
        texts,
        session,
        interval=f"{services.settings.live_interval_seconds:g}s",
        announce=announce,
        **live,
    )


# -- the leaderboard -------------------------------------------------------------------------


def _with_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in values]
    query.extend(values.items())
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def board_url(scope: str, period: str, team: str | None = None) -> str:
    query = {"scope": scope, "period": period}
    if scope == "team" and team:
        query["team"] = team
    return "/leaderboard?" + urlencode(query)


@router.get("/leaderboard")
async def leaderboard_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    scope: Annotated[str, Query(max_length=20)] = "tenant",
    period: Annotated[str, Query(max_length=20)] = "week",
    team: Annotated[str | None, Query(max_length=200)] = None,
    saved: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """Top 50 of the company, my team or my location, this week, month or all time."""
    scope = scope if scope in SCOPES else "tenant"
    period = period if period in PERIODS else "week"
    groups = sorted(session.groups)
    team = team if team in groups else (groups[0] if groups else None)
    scope_id = {"tenant": None, "team": team, "location": session.location}[scope]
    missing = scope != "tenant" and not scope_id
    rewards = services.backends.rewards
    board_call = (
        rewards.call(
            "GET",
            "/api/v1/leaderboards",
            session.token,
            params={
                "period": period,
                "scope": scope,
                "scope_id": scope_id,
                "limit": BOARD_LIMIT,
                "neighbours": 2,
            },
        )
        if not missing
        else asyncio.sleep(0, Reply(status=204))
    )
    board, points, visibility = await asyncio.gather(
        board_call,
        rewards.call("GET", "/api/v1/me/points", session.token, params={"limit": 200}),
        rewards.call("GET", "/api/v1/me/leaderboard-visibility", session.token),
    )
    # Rewards knows people by id. Names come from the development sign-in's list on a local
    # installation (and for me, from my session); elsewhere the directory will give them.
    local = services.settings.env == "local"
    people = services.settings.people if local else []
    names = {p.id: p.name for p in people if p.tenant == session.tenant}
    names[session.employee_id] = session.name

    def row(r: dict[str, Any]) -> dict[str, Any]:
        employee = str(r.get("employee_id") or "")
        return {
            **r,
            "name": names.get(employee, employee),
            "me": employee == session.employee_id,
        }

    data = board.data or {} if board.ok else {}
    top = [row(r) for r in data.get("top") or []]
    me = data.get("me")
    around: list[dict[str, Any]] = []
    if me:
        shown = {r["employee_id"] for r in top}
        around = [row(r) for r in me.get("neighbours") or [] if r.get("employee_id") not in shown]
    # Not on the board (hidden, or not ranked here): my own figures, for my eyes only.
    own_points: int | None = None
    own_exact = True
    if board.ok and not me and points.ok:
        wallet = points.data or {}
        entries = list(wallet.get("recent") or [])
        own_points, own_exact = impact.points_since(
            entries, impact.period_start(period, datetime.now(UTC)), len(entries) < 200
        )
        if period == "all":
            own_points = int(wallet.get("earned") or 0) - int(wallet.get("clawed_back") or 0)
            own_exact = True
    scope_names = {
        "tenant": texts.gettext("Company"),
        "team": texts.gettext("Team"),
        "location": texts.gettext("Location"),
    }
    period_names = {
        "week": texts.gettext("This week"),
        "month": texts.gettext("This month"),
        "all": texts.gettext("All time"),
    }
    # My own choice when the service tells it; else what the board shows.
    chose_hidden: bool | None = None
    if visibility.ok and isinstance((visibility.data or {}).get("hidden"), bool):
        chose_hidden = bool(visibility.data["hidden"])
    elif saved in ("hidden", "shown"):
        chose_hidden = saved == "hidden"
    visible = (not chose_hidden) if chose_hidden is not None else (True if me else None)
    return render(
        request,
        "leaderboard.html",
        texts,
        session,
        title=texts.gettext("Leaderboard"),
        section="impact",
        tab="leaderboard",
        board=board,
        data=data,
        top=top,
        me=me,
        around=around,
        own_points=own_points,
        own_exact=own_exact,
        scope=scope,
        period=period,
        team=team,
        groups=groups,
        scope_id=scope_id,
        missing=missing,
        scopes=[(s, scope_names[s], board_url(s, period, team)) for s in SCOPES],
        periods=[(p, period_names[p], board_url(scope, p, team)) for p in PERIODS],
        scope_name=scope_names[scope],
        period_name=period_names[period],
        visible=visible,
        chose_hidden=chose_hidden,
        saved=saved if saved in ("hidden", "shown", "error") else None,
    )


@router.post("/leaderboard/visibility")
async def leaderboard_visibility(
    request: Request, services: Services, session: Person, form: Form
) -> Response:
    """Hide me from leaderboards, or show me again; then back to the board."""
    back = safe_next(str(form.get("next") or ""), "/leaderboard")
    if not back.startswith("/leaderboard"):
        back = "/leaderboard"
    hidden = str(form.get("hidden") or "") == "true"
    reply = await services.backends.rewards.call(
        "PUT", "/api/v1/me/leaderboard-visibility", session.token, json={"hidden": hidden}
    )
    outcome = ("hidden" if hidden else "shown") if reply.ok else "error"
    return redirect(_with_query(back, saved=outcome), request)
