"""Running the program (admins): point rules with a simulation before saving, challenges,
badges and leaderboard settings, the reward catalog and redemptions to fulfil, goals, the
daily share cap and the disclosure hashtag.

Every page reads and writes through the services' APIs with the admin's own token; the
services check the role again. A refused form comes back with its messages next to its
fields, in the admin's language.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from contracts import retention
from contracts.link_domains import MAX_LINK_DOMAINS, normalise_domain
from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain.times import parse_time
from web.entrypoints import rewards as suggestions
from web.entrypoints.common import (
    Form,
    Language,
    Services,
    WebServices,
    redirect,
    render,
    update_metrics_settings,
)
from web.entrypoints.program import Admin
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
Identifier = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Saved = Annotated[str | None, Query(max_length=40)]

# The actions the rewards service scores (rewards.domain.rules.Action), in this order.
ACTIONS = (
    "share",
    "first-share",
    "click",
    "reaction",
    "comment",
    "reshare",
    "conversion",
    "buddy-feedback",
    "onboarding-step",
)
CONTENT_KINDS = ("job", "event", "article", "internal")
# Figures a goal can follow (a part of metrics' GOAL_METRICS).
GOAL_METRICS = (
    "shares",
    "clicks",
    "unique_clicks",
    "conversions",
    "reach",
    "active_advocates",
    "enrollments",
    "earned_media_value",
)
MAX_NUMBER = 100_000
# Days engagement may be kept in detail, as metrics and share bound them.
RETENTION_DAYS = (retention.MIN_DAYS, retention.MAX_DAYS)
# Open reward suggestions the program team sees, most votes first.
SUGGESTIONS_SHOWN = 100


def action_label(action: str, texts: Texts) -> str:
    labels = {
        "share": texts.gettext("A share"),
        "first-share": texts.gettext("The first share of a new post"),
        "click": texts.gettext("A unique click"),
        "reaction": texts.gettext("A reaction"),
        "comment": texts.gettext("A comment"),
        "reshare": texts.gettext("A reshare"),
        "conversion": texts.gettext("A conversion"),
        "buddy-feedback": texts.gettext("Feedback on a buddy's draft"),
        "onboarding-step": texts.gettext("A step of the onboarding path"),
    }
    return labels.get(action, action)


def kind_label(kind: str, texts: Texts) -> str:
    labels = {
        "job": texts.gettext("Job posts"),
        "event": texts.gettext("Events"),
        "article": texts.gettext("Articles"),
        "internal": texts.gettext("Internal news"),
    }
    return labels.get(kind, kind)


def metric_label(metric: str, texts: Texts) -> str:
    labels = {
        "shares": texts.gettext("Shares"),
        "clicks": texts.gettext("Clicks"),
        "unique_clicks": texts.gettext("Unique clicks"),
        "conversions": texts.gettext("Conversions"),
        "reach": texts.gettext("Reach"),
        "active_advocates": texts.gettext("Active advocates"),
        "enrollments": texts.gettext("People who joined"),
        "earned_media_value": texts.gettext("Earned media value"),
    }
    return labels.get(metric, metric)


def badges(texts: Texts) -> list[tuple[str, str]]:
    """The badges the rewards service awards (its domain: ledger and months), explained."""
    return [
        (texts.gettext("First share"), texts.gettext("Shared for the first time.")),
        *(
            (
                texts.gettext("%(count)s shares", count=n),
                texts.gettext("Shared %(count)s times in all.", count=n),
            )
            for n in (10, 50, 100)
        ),
        (
            texts.gettext("4 weeks in a row"),
            texts.gettext("Shared at least once a week for four weeks running."),
        ),
        (
            texts.gettext("Recruiting hero"),
            texts.gettext("A shared job post led to an application."),
        ),
        (
            texts.gettext("Top 10% of the month"),
            texts.gettext("Among the tenth of people with the most points in a month."),
        ),
    ]


def slug(text: str, suffix: str = "") -> str:
    """An id from a name: ASCII letters, digits and dashes."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    core = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60] or "item"
    return f"{core}-{suffix}" if suffix else core


def whole(raw: Any, *, empty_ok: bool = False, minimum: int = 0) -> int | str | None:
    """A whole number from a form field; "" when empty (and allowed); None when invalid."""
    text = str(raw or "").strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        return "" if empty_ok else None
    if not text.isdigit():
        return None
    value = int(text)
    return value if minimum <= value <= 10_000_000 else None


def retention_days(raw: Any) -> int | None:
    """Days engagement is kept in detail, as typed; None when not a whole number of days
    within metrics' bounds."""
    days = whole(raw, minimum=RETENTION_DAYS[0])
    return days if isinstance(days, int) and days <= RETENTION_DAYS[1] else None


def a_date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw or "").strip())
    except ValueError:
        return None


def _problem_fields(reply: Reply, known: Mapping[str, str]) -> dict[str, str]:
    """The fields of a refusal, by the page's field ids: the service's names, mapped."""
    found: dict[str, str] = {}
    for name in reply.field_errors():
        parts = [p for p in re.split(r"[.\[\]]+", name) if p]
        for key, field in known.items():
            if all(k in parts for k in key.split(".")):
                found[field] = ""
    return found


def _unavailable(texts: Texts) -> str:
    return texts.gettext("It could not be saved right now. Nothing changed: try again in a minute.")


def _page(
    request: Request,
    texts: Texts,
    session: Session,
    template: str,
    title: str,
    run: str,
    status: int = 200,
    **context: Any,
) -> Response:
    return render(
        request,
        template,
        texts,
        session,
        status=status,
        title=title,
        section="program",
        program_section="run",
        run=run,
        **context,
    )


# -- point rules ------------------------------------------------------------------------------


def current_rules(reply: Reply) -> dict[str, Any]:
    """The version in force: the newest one already effective (else the newest)."""
    versions = (reply.data or {}).get("versions") or []
    now = datetime.now(UTC)
    effective = [v for v in versions if (parse_time(v.get("effective_from")) or now) <= now]
    return dict((effective or versions or [{}])[-1])


def rules_values(rules: Mapping[str, Any]) -> dict[str, str]:
    points = rules.get("points") or {}
    caps = rules.get("daily_caps") or {}
    values = {f"points_{a}": str(points.get(a, 0)) for a in ACTIONS}
    values.update({f"cap_{a}": str(caps[a]) if a in caps else "" for a in ACTIONS})
    daily_max = rules.get("daily_max")
    values["daily_max"] = "" if daily_max is None else str(daily_max)
    return values


def parse_rules(
    form: Mapping[str, Any], texts: Texts
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The proposed rules from the form, the errors by field, and the values as typed."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"points": {}, "daily_caps": {}, "daily_max": None}
    for action in ACTIONS:
        for prefix, empty_ok in (("points", False), ("cap", True)):
            field = f"{prefix}_{action}"
            values[field] = str(form.get(field, ""))[:20]
            value = whole(values[field], empty_ok=empty_ok)
            if value is None or (
                prefix == "points" and isinstance(value, int) and value > MAX_NUMBER
            ):
                errors[field] = texts.gettext(
                    "%(action)s: enter a whole number from 0 to 100,000.",
                    action=action_label(action, texts),
                )
            elif isinstance(value, int):
                body["points" if prefix == "points" else "daily_caps"][action] = value
    values["daily_max"] = str(form.get("daily_max", ""))[:20]
    daily_max = whole(values["daily_max"], empty_ok=True)
    if daily_max is None:
        errors["daily_max"] = texts.gettext(
            "Daily maximum: enter a whole number of 0 or more, or leave it empty for none."
        )
    elif isinstance(daily_max, int):
        body["daily_max"] = daily_max
    return body, errors, values


RULE_FIELDS = {
    **{f"points.{a}": f"points_{a}" for a in ACTIONS},
    **{f"daily_caps.{a}": f"cap_{a}" for a in ACTIONS},
    "daily_max": "daily_max",
}


async def _rules_page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    saved: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    simulation: Reply | None = None,
    status: int = 200,
) -> Response:
    reply = await services.backends.rewards.call("GET", "/api/v1/rules", session.token)
    rules = current_rules(reply)
    sim = (simulation.data or {}) if simulation is not None and simulation.ok else {}
    rows = [
        {**r, "change": int(r.get("proposed") or 0) - int(r.get("current") or 0)}
        for r in sim.get("biggest_changes") or []
    ]
    return _page(
        request,
        texts,
        session,
        "program/run_rules.html",
        texts.gettext("Point rules"),
        "rules",
        status,
        rules_reply=reply,
        rules=rules,
        since=parse_time(rules.get("effective_from")),
        actions=[(a, action_label(a, texts)) for a in ACTIONS],
        values=values or rules_values(rules),
        errors=errors or {},
        saved=texts.gettext("Saved. The new rules apply from now on.") if saved == "rules" else "",
        simulation=simulation,
        sim=sim,
        rows=rows,
        sim_start=parse_time(sim.get("start")),
        sim_end=parse_time(sim.get("end")),
    )


@router.get("/program/run")
async def rules_page(
    request: Request, services: Services, session: Admin, texts: Language, saved: Saved = None
) -> Response:
    """The point rules in force, to edit and simulate before saving."""
    return await _rules_page(request, services, session, texts, saved=saved)


@router.post("/program/run/rules")
async def rules_post(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Simulate the proposed rules over the last 30 days, or save them as a new version."""
    body, errors, values = parse_rules(form, texts)
    if errors:
        return await _rules_page(
            request, services, session, texts, values=values, errors=errors, status=422
        )
    current = await services.backends.rewards.call("GET", "/api/v1/rules", session.token)
    # The multipliers are not on this form: they carry over as they are.
    body["multipliers"] = current_rules(current).get("multipliers") or []
    rewards = services.backends.rewards
    if form.get("do") == "save":
        reply = await rewards.call("POST", "/api/v1/rules", session.token, json=body)
        if reply.ok:
            return redirect("/program/run?saved=rules", request)
    else:
        reply = await rewards.call(
            "POST", "/api/v1/rules/simulate", session.token, json={"rules": body}
        )
        if reply.ok or reply.unavailable:
            return await _rules_page(
                request, services, session, texts, values=values, simulation=reply
            )
    fields = _problem_fields(reply, RULE_FIELDS)
    message = (
        _unavailable(texts)
        if reply.unavailable
        else texts.gettext("The rules were not saved. Check the numbers and try again.")
    )
    errors = {field: message for field in fields} or {"form": message}
    return await _rules_page(
        request,
        services,
        session,
        texts,
        values=values,
        errors=errors,
        status=503 if reply.unavailable else 422,
    )


# -- challenges, badges and leaderboards ------------------------------------------------------


async def _challenges_page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    saved: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rewards = services.backends.rewards
    challenges, boards = await asyncio.gather(
        rewards.call("GET", "/api/v1/me/challenges", session.token),
        rewards.call("GET", "/api/v1/settings/leaderboards", session.token),
    )
    found = [
        {
            **c,
            "label": action_label(str(c.get("action")), texts),
            "kind": kind_label(str(c["content_kind"]), texts) if c.get("content_kind") else "",
            "starts": parse_time(c.get("starts_at")),
            "ends": parse_time(c.get("ends_at")),
        }
        for c in (challenges.data or {}).get("challenges") or []
    ]
    for c in found:
        # Stored as the moment after the last day.
        c["last"] = c["ends"] - timedelta(seconds=1) if c["ends"] else None
    found.sort(key=lambda c: c["starts"] or datetime.min.replace(tzinfo=UTC), reverse=True)
    settings = boards.data or {}
    today = datetime.now(UTC).date()
    defaults = {
        "challenge_starts": today.isoformat(),
        "challenge_ends": (today + timedelta(days=30)).isoformat(),
        "challenge_bonus": "0",
        "executive_groups": ", ".join(settings.get("executive_groups") or []),
    }
    return _page(
        request,
        texts,
        session,
        "program/run_challenges.html",
        texts.gettext("Challenges, badges and leaderboards"),
        "challenges",
        status,
        challenges=challenges,
        found=found,
        boards=boards,
        opt_in=bool(settings.get("opt_in")),
        actions=[(a, action_label(a, texts)) for a in ACTIONS],
        kinds=[(k, kind_label(k, texts)) for k in CONTENT_KINDS],
        badges=badges(texts),
        values={**defaults, **(values or {})},
        errors=errors or {},
        saved={
            "challenge": texts.gettext("Saved. The challenge is on from its start date."),
            "leaderboards": texts.gettext("Saved. The leaderboards follow the new settings."),
        }.get(saved or "", ""),
    )


@router.get("/program/run/challenges")
async def challenges_page(
    request: Request, services: Services, session: Admin, texts: Language, saved: Saved = None
) -> Response:
    """The challenges, the badges there are, and how leaderboards rank people."""
    return await _challenges_page(request, services, session, texts, saved=saved)


@router.post("/program/run/challenges")
async def add_challenge(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Start a challenge: an action, a target and a window."""
    fields = (
        "challenge_name",
        "challenge_action",
        "challenge_target",
        "challenge_starts",
        "challenge_ends",
        "challenge_bonus",
        "challenge_kind",
    )
    values = {f: str(form.get(f, ""))[:200] for f in fields}
    errors: dict[str, str] = {}
    name = values["challenge_name"].strip()
    if not name:
        errors["challenge_name"] = texts.gettext("Give the challenge a name.")
    if values["challenge_action"] not in ACTIONS:
        errors["challenge_action"] = texts.gettext("Choose what counts.")
    target = whole(values["challenge_target"], minimum=1)
    if not isinstance(target, int) or target > MAX_NUMBER:
        errors["challenge_target"] = texts.gettext("Enter a whole number from 1 to 100,000.")
    bonus = whole(values["challenge_bonus"], empty_ok=True)
    if bonus is None or (isinstance(bonus, int) and bonus > MAX_NUMBER):
        errors["challenge_bonus"] = texts.gettext("Enter a whole number from 0 to 100,000.")
    starts, ends = a_date(values["challenge_starts"]), a_date(values["challenge_ends"])
    if starts is None:
        errors["challenge_starts"] = texts.gettext("Enter a date.")
    if ends is None or (starts is not None and ends < starts):
        errors["challenge_ends"] = texts.gettext("Enter a date on or after the start.")
    kind = values["challenge_kind"]
    if kind and kind not in CONTENT_KINDS:
        errors["challenge_kind"] = texts.gettext("Choose a kind of post.")
    if errors or starts is None or ends is None:
        return await _challenges_page(
            request, services, session, texts, values=values, errors=errors, status=422
        )
    body = {
        "challenge_id": slug(name, starts.strftime("%Y%m%d")),
        "name": name,
        "action": values["challenge_action"],
        "target": target,
        "starts_at": datetime.combine(starts, time.min, UTC).isoformat(),
        # The end date is the last day of the challenge.
        "ends_at": datetime.combine(ends + timedelta(days=1), time.min, UTC).isoformat(),
        "content_kind": kind or None,
        "bonus": bonus if isinstance(bonus, int) else 0,
    }
    reply = await services.backends.rewards.call(
        "POST", "/api/v1/challenges", session.token, json=body
    )
    if reply.ok:
        return redirect("/program/run/challenges?saved=challenge", request)
    if reply.status == 409:
        errors = {
            "challenge_name": texts.gettext(
                "There is already a challenge of this name starting that day."
            )
        }
    elif reply.unavailable:
        errors = {"form": _unavailable(texts)}
    else:
        known = {
            "target": "challenge_target",
            "starts_at": "challenge_starts",
            "ends_at": "challenge_ends",
            "bonus": "challenge_bonus",
            "name": "challenge_name",
        }
        message = texts.gettext("The challenge was not saved. Check the fields and try again.")
        errors = {f: message for f in _problem_fields(reply, known)} or {"form": message}
    return await _challenges_page(
        request,
        services,
        session,
        texts,
        values=values,
        errors=errors,
        status=503 if reply.unavailable else 422,
    )


@router.post("/program/run/leaderboards")
async def leaderboard_settings(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Opt-in leaderboards or not, and the groups on the executives' board."""
    raw = str(form.get("executive_groups", ""))[:2000]
    groups = [g.strip() for g in raw.split(",") if g.strip()]
    body = {"opt_in": form.get("opt_in") == "yes", "executive_groups": groups}
    reply = await services.backends.rewards.call(
        "PUT", "/api/v1/settings/leaderboards", session.token, json=body
    )
    if reply.ok:
        return redirect("/program/run/challenges?saved=leaderboards#leaderboards", request)
    message = (
        _unavailable(texts)
        if reply.unavailable
        else texts.gettext("Enter group names separated by commas, each up to 200 characters.")
    )
    return await _challenges_page(
        request,
        services,
        session,
        texts,
        values={"executive_groups": raw},
        errors={"executive_groups": message},
        status=503 if reply.unavailable else 422,
    )


# -- rewards and redemptions ------------------------------------------------------------------


async def _rewards_page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    saved: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rewards = services.backends.rewards
    catalog, redemptions, ideas, decided = await asyncio.gather(
        rewards.call("GET", "/api/v1/catalog", session.token),
        rewards.call("GET", "/api/v1/admin/redemptions", session.token),
        rewards.call(
            "GET",
            "/api/v1/reward-suggestions",
            session.token,
            params={"status": "open", "limit": SUGGESTIONS_SHOWN},
        ),
        rewards.call(
            "GET",
            "/api/v1/reward-suggestions",
            session.token,
            params={"status": ["stocked", "declined"], "limit": 200},
        ),
    )
    listed = [
        {**r, "when": parse_time(r.get("at")), "done_at": parse_time(r.get("fulfilled_at"))}
        for r in (redemptions.data or {}).get("redemptions") or []
    ]
    return _page(
        request,
        texts,
        session,
        "program/run_rewards.html",
        texts.gettext("Rewards and redemptions"),
        "rewards",
        status,
        catalog=catalog,
        items=(catalog.data or {}).get("items") or [],
        redemptions=redemptions,
        to_fulfil=[r for r in listed if r.get("status") != "fulfilled"],
        fulfilled=[r for r in listed if r.get("status") == "fulfilled"][:20],
        ideas=ideas,
        ranking=suggestions.listed(ideas),
        decided=suggestions.latest_decided(decided, 20),
        item_names={i["item_id"]: i["name"] for i in (catalog.data or {}).get("items") or []},
        values=values or {},
        errors=errors or {},
        saved={
            "item": texts.gettext("Saved. The catalog shows the new price and stock."),
            "fulfilled": texts.gettext("Marked as fulfilled."),
            "stocked": texts.gettext("Marked as stocked. Colleagues see it as in the catalog."),
            "declined": texts.gettext("Marked as declined. It takes no new votes."),
            "open": texts.gettext("Open again for votes."),
        }.get(saved or "", ""),
    )


@router.get("/program/run/rewards")
async def rewards_page(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    saved: Saved = None,
    new: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The catalog with its stock, the redemptions to hand over, and the rewards employees
    suggest, most votes first; `new` fills in the name of a reward to add."""
    values = {"item_new_name": new} if new else None
    return await _rewards_page(request, services, session, texts, saved=saved, values=values)


@router.post("/program/run/rewards")
async def save_item(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Add a reward, or change one's name, price or stock."""
    item_id = str(form.get("item_id", ""))[:200]
    prefix = f"item_{item_id}" if item_id else "item_new"
    values = {
        f"{prefix}_{f}": str(form.get(f"{prefix}_{f}", ""))[:200]
        for f in ("name", "price", "stock")
    }
    errors: dict[str, str] = {}
    name = values[f"{prefix}_name"].strip()
    if not name:
        errors[f"{prefix}_name"] = texts.gettext("Give the reward a name.")
    price = whole(values[f"{prefix}_price"], minimum=1)
    if not isinstance(price, int):
        errors[f"{prefix}_price"] = texts.gettext("Enter a price of 1 point or more.")
    stock = whole(values[f"{prefix}_stock"])
    if not isinstance(stock, int):
        errors[f"{prefix}_stock"] = texts.gettext("Enter the number left, 0 or more.")
    if item_id and not re.fullmatch(r"[A-Za-z0-9_.:-]+", item_id):
        errors[f"{prefix}_name"] = texts.gettext("This reward is no longer in the catalog.")
    if not errors:
        reply = await services.backends.rewards.call(
            "PUT",
            f"/api/v1/catalog/{item_id or slug(name)}",
            session.token,
            json={"name": name, "price": price, "stock": stock},
        )
        if reply.ok:
            return redirect("/program/run/rewards?saved=item#catalog", request)
        errors[f"{prefix}_name"] = (
            _unavailable(texts)
            if reply.unavailable
            else texts.gettext("The reward was not saved. Check the fields and try again.")
        )
    return await _rewards_page(
        request, services, session, texts, values=values, errors=errors, status=422
    )


@router.post("/program/run/redemptions/{redemption_id}/fulfil")
async def fulfil(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    form: Form,
    redemption_id: Identifier,
) -> Response:
    """Mark a redemption as handed over (again is harmless)."""
    reply = await services.backends.rewards.call(
        "POST", f"/api/v1/admin/redemptions/{redemption_id}/fulfil", session.token
    )
    if reply.ok:
        return redirect("/program/run/rewards?saved=fulfilled#redemptions", request)
    message = (
        _unavailable(texts)
        if reply.unavailable
        else texts.gettext("This redemption is no longer there. Nothing changed.")
    )
    return await _rewards_page(
        request,
        services,
        session,
        texts,
        errors={"form": message},
        status=503 if reply.unavailable else 404,
    )


@router.post("/program/run/reward-suggestions/{suggestion_id}/status")
async def decide_suggestion(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    form: Form,
    suggestion_id: Identifier,
) -> Response:
    """Mark a suggestion stocked (with the catalog item that answers it, if chosen),
    declined, or open again."""
    status = str(form.get("status", ""))
    if status not in ("stocked", "declined", "open"):
        status = "open"
    body: dict[str, Any] = {"status": status}
    item_id = str(form.get("item_id", "")).strip()[:200]
    if status == "stocked" and item_id:
        body["item_id"] = item_id
    reply = await services.backends.rewards.call(
        "PUT", f"/api/v1/admin/reward-suggestions/{suggestion_id}/status", session.token, json=body
    )
    if reply.ok:
        return redirect(f"/program/run/rewards?saved={status}#suggestions", request)
    if reply.unavailable:
        message = _unavailable(texts)
    elif reply.status == 404:
        message = texts.gettext("This suggestion is no longer there. Nothing changed.")
    else:
        message = texts.gettext("That reward is no longer in the catalog. Nothing changed.")
    return await _rewards_page(
        request,
        services,
        session,
        texts,
        errors={"form": message},
        status=503 if reply.unavailable else 422 if reply.status == 422 else 404,
    )


# -- goals and sharing settings ---------------------------------------------------------------


async def _settings_page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    saved: str | None = None,
    edit: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    fresh: dict[str, Any] | None = None,
) -> Response:
    backends = services.backends
    goals, sharing, content, domains, connectors, measurement = await asyncio.gather(
        backends.metrics.call("GET", "/api/v1/goals", session.token),
        backends.share.call("GET", "/api/v1/settings/sharing", session.token),
        backends.content.call("GET", "/api/v1/settings", session.token),
        backends.share.call("GET", "/api/v1/settings/link-domains", session.token),
        backends.share.call("GET", CONNECTORS, session.token),
        backends.metrics.call("GET", "/api/v1/settings", session.token),
    )
    found = [
        {
            **g,
            "label": metric_label(str(g.get("metric")), texts),
            "starts": a_date(g.get("start")),
            "ends": a_date(g.get("end")),
            "percent": min(float(g.get("progress") or 0), 1.0),
        }
        for g in (goals.data or {}).get("items") or []
    ]
    editing = next((g for g in found if g.get("id") == edit), None)
    today = datetime.now(UTC).date()
    defaults = {
        "goal_metric": "shares",
        "goal_start": today.replace(day=1).isoformat(),
        "goal_end": date(today.year, 12, 31).isoformat(),
        "daily_share_cap": str((sharing.data or {}).get("daily_share_cap") or ""),
        "disclosure_hashtag": str((content.data or {}).get("disclosure_hashtag") or ""),
        "link_domains": "\n".join((domains.data or {}).get("domains") or []),
        "detail_retention_days": str((measurement.data or {}).get("detail_retention_days") or ""),
    }
    if editing:
        target = float(editing.get("target") or 0)
        defaults.update(
            goal_id=str(editing["id"]),
            goal_name=str(editing.get("name") or ""),
            goal_metric=str(editing.get("metric")),
            goal_target=str(int(target)) if target.is_integer() else str(target),
            goal_start=str(editing.get("start") or ""),
            goal_end=str(editing.get("end") or ""),
        )
    return _page(
        request,
        texts,
        session,
        "program/run_settings.html",
        texts.gettext("Goals and sharing settings"),
        "settings",
        status,
        goals=goals,
        found=found,
        editing=editing,
        metrics=[(m, metric_label(m, texts)) for m in GOAL_METRICS],
        sharing=sharing,
        content=content,
        domains=domains,
        connectors=connectors,
        measurement=measurement,
        connector_list=[
            {**c, "created": a_date(str(c.get("created_at") or "")[:10])}
            for c in (connectors.data or {}).get("items") or []
        ],
        fresh=fresh,
        values={**defaults, **(values or {})},
        errors=errors or {},
        saved={
            "goal": texts.gettext("Saved. The goal's progress counts from its start date."),
            "removed": texts.gettext("The goal is removed."),
            "cap": texts.gettext("Saved. The new daily share cap applies from now on."),
            "hashtag": texts.gettext("Saved. New suggested texts carry the new hashtag."),
            "domains": texts.gettext(
                "Saved. Own posts shared from now on follow the new list of sites."
            ),
            "connector": texts.gettext(
                "The connector is removed. Its reports are refused from now on."
            ),
            "retention": texts.gettext(
                "Saved. Engagement older than that is summed up within the hour."
            ),
        }.get(saved or "", ""),
    )


@router.get("/program/run/settings")
async def settings_page(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    saved: Saved = None,
    goal: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Program goals with their progress, the daily share cap, how long engagement is kept
    in detail, the disclosure hashtag and the sites own posts may link to straight away."""
    return await _settings_page(request, services, session, texts, saved=saved, edit=goal)


@router.post("/program/run/goals")
async def save_goal(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Add a goal or change one: a figure, a target and the dates it runs."""
    fields = ("goal_id", "goal_name", "goal_metric", "goal_target", "goal_start", "goal_end")
    values = {f: str(form.get(f, ""))[:200] for f in fields}
    errors: dict[str, str] = {}
    name = values["goal_name"].strip()
    if not name:
        errors["goal_name"] = texts.gettext("Give the goal a name.")
    if values["goal_metric"] not in GOAL_METRICS:
        errors["goal_metric"] = texts.gettext("Choose what the goal counts.")
    try:
        target = float(values["goal_target"].replace(",", ".").replace(" ", ""))
    except ValueError:
        target = 0
    if not 0 < target <= 1e12:
        errors["goal_target"] = texts.gettext("Enter a target above 0.")
    start, end = a_date(values["goal_start"]), a_date(values["goal_end"])
    if start is None:
        errors["goal_start"] = texts.gettext("Enter a date.")
    if end is None or (start is not None and end < start):
        errors["goal_end"] = texts.gettext("Enter a date on or after the start.")
    goal_id = values["goal_id"] or slug(name)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", goal_id):
        goal_id = slug(name)
    if not errors and start is not None and end is not None:
        reply = await services.backends.metrics.call(
            "PUT",
            f"/api/v1/goals/{goal_id}",
            session.token,
            json={
                "name": name,
                "metric": values["goal_metric"],
                "target": target,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
        if reply.ok:
            return redirect("/program/run/settings?saved=goal#goals", request)
        errors["goal_name"] = (
            _unavailable(texts)
            if reply.unavailable
            else texts.gettext("The goal was not saved. Check the fields and try again.")
        )
    return await _settings_page(
        request, services, session, texts, values=values, errors=errors, status=422
    )


@router.post("/program/run/goals/{goal_id}/delete")
async def delete_goal(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    form: Form,
    goal_id: Identifier,
) -> Response:
    """Remove a goal (one already gone is removed too)."""
    reply = await services.backends.metrics.call(
        "DELETE", f"/api/v1/goals/{goal_id}", session.token
    )
    if reply.ok or reply.status == 404:
        return redirect("/program/run/settings?saved=removed#goals", request)
    return await _settings_page(
        request,
        services,
        session,
        texts,
        errors={"form": _unavailable(texts)},
        status=503,
    )


@router.post("/program/run/sharing")
async def save_sharing(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """The most shares a person can make in a day."""
    raw = str(form.get("daily_share_cap", ""))[:20]
    cap = whole(raw, minimum=1)
    error = ""
    if not isinstance(cap, int) or cap > 1000:
        error = texts.gettext("Enter a whole number from 1 to 1,000.")
    else:
        reply = await services.backends.share.call(
            "PUT", "/api/v1/settings/sharing", session.token, json={"daily_share_cap": cap}
        )
        if reply.ok:
            return redirect("/program/run/settings?saved=cap#sharing", request)
        error = (
            _unavailable(texts)
            if reply.unavailable
            else texts.gettext("Enter a whole number from 1 to 1,000.")
        )
    return await _settings_page(
        request,
        services,
        session,
        texts,
        values={"daily_share_cap": raw},
        errors={"daily_share_cap": error},
        status=422,
    )


@router.post("/program/run/retention")
async def save_retention(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """How many days each engagement is kept in detail before it is summed up (metrics)
    and its report forgotten (share)."""
    raw = str(form.get("detail_retention_days", ""))[:20]
    days = retention_days(raw)
    error = ""
    if days is None:
        error = texts.gettext("Enter a whole number of days from 30 to 3,650.")
    else:
        reply = await update_metrics_settings(services, session, detail_retention_days=days)
        if reply.ok:
            # Share keeps each engagement report as long (and refuses older engagement);
            # metrics first, whose setting the page shows.
            shared = await services.backends.share.call(
                "PUT",
                "/api/v1/settings/retention",
                session.token,
                json={"detail_retention_days": days},
            )
            if shared.ok:
                return redirect("/program/run/settings?saved=retention#retention", request)
            # Saving again sets both: metrics' setting is replaced by the same value.
            error = texts.gettext(
                "The figures follow the new retention, the engagement reports not yet: "
                "save it again in a minute."
            )
        else:
            error = (
                _unavailable(texts)
                if reply.unavailable
                else texts.gettext("Enter a whole number of days from 30 to 3,650.")
            )
    return await _settings_page(
        request,
        services,
        session,
        texts,
        values={"detail_retention_days": raw},
        errors={"detail_retention_days": error},
        status=422,
    )


@router.post("/program/run/hashtag")
async def save_hashtag(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """The hashtag added to every suggested text, or none."""
    raw = str(form.get("disclosure_hashtag", ""))[:200].strip()
    hashtag = ("#" + raw.lstrip("#")) if raw else None
    error = ""
    if hashtag is not None and not re.fullmatch(r"#\w{1,100}", hashtag):
        error = texts.gettext(
            "Enter one hashtag of letters, digits or underscores, like #employee, "
            "or leave it empty for none."
        )
    else:
        reply = await services.backends.content.call(
            "PUT", "/api/v1/settings", session.token, json={"disclosure_hashtag": hashtag}
        )
        if reply.ok:
            return redirect("/program/run/settings?saved=hashtag#disclosure", request)
        error = (
            _unavailable(texts)
            if reply.unavailable
            else texts.gettext(
                "Enter one hashtag of letters, digits or underscores, like #employee, "
                "or leave it empty for none."
            )
        )
    return await _settings_page(
        request,
        services,
        session,
        texts,
        values={"disclosure_hashtag": raw},
        errors={"disclosure_hashtag": error},
        status=422,
    )


def link_domains_error(raw: str, texts: Texts) -> tuple[list[str], str]:
    """The typed sites (one per line or comma-separated) in their stored form, or what is
    wrong with them."""
    typed = [part.strip() for part in re.split(r"[\s,]+", raw) if part.strip()]
    domains = []
    for part in typed:
        domain = normalise_domain(part)
        if domain is None:
            return [], texts.gettext(
                "%(entry)s is not a site's domain. Enter domains like example.com, "
                "without https:// or a path.",
                entry=part[:100],
            )
        domains.append(domain)
    if len(set(domains)) > MAX_LINK_DOMAINS:
        return [], texts.gettext(
            "Enter at most %(count)s domains.", count=texts.number(MAX_LINK_DOMAINS)
        )
    return domains, ""


@router.post("/program/run/link-domains")
async def save_link_domains(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """The sites own posts may link to straight away; other links first show readers a page
    saying where they lead."""
    raw = str(form.get("link_domains", ""))[:20_000]
    domains, error = link_domains_error(raw, texts)
    if not error:
        reply = await services.backends.share.call(
            "PUT", "/api/v1/settings/link-domains", session.token, json={"domains": domains}
        )
        if reply.ok:
            return redirect("/program/run/settings?saved=domains#link-domains", request)
        error = (
            _unavailable(texts)
            if reply.unavailable
            else texts.gettext(
                "The list was not saved. Enter domains like example.com, without https:// "
                "or a path."
            )
        )
    return await _settings_page(
        request,
        services,
        session,
        texts,
        values={"link_domains": raw},
        errors={"link_domains": error},
        status=422,
    )


# -- engagement connectors ---------------------------------------------------------------------

CONNECTORS = "/api/v1/settings/connectors"
MAX_CONNECTOR_NAME = 100
ConnectorId = Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]


@router.post("/program/run/connectors")
async def add_connector(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Register a system that reports engagement; its secret is shown on this page once."""
    name = " ".join(str(form.get("connector_name", ""))[:1000].split())
    error = ""
    if not name:
        error = texts.gettext("Enter a name, like LinkedIn poller.")
    elif len(name) > MAX_CONNECTOR_NAME:
        error = texts.gettext(
            "Enter at most %(count)s characters.", count=texts.number(MAX_CONNECTOR_NAME)
        )
    else:
        reply = await services.backends.share.call(
            "POST", CONNECTORS, session.token, json={"name": name}
        )
        if reply.ok:
            # Not a redirect: the secret is in this answer only, and is never stored here.
            return await _settings_page(request, services, session, texts, fresh=reply.data)
        if reply.status == 429:
            error = texts.gettext(
                "A program has at most %(count)s connectors. Remove one you no longer use.",
                count=texts.number(int(reply.problem.get("max_connectors") or 20)),
            )
        else:
            error = (
                _unavailable(texts)
                if reply.unavailable
                else texts.gettext("The connector was not added. Check the name and try again.")
            )
    return await _settings_page(
        request,
        services,
        session,
        texts,
        values={"connector_name": name},
        errors={"connector_name": error},
        status=422,
    )


@router.post("/program/run/connectors/{connector_id}/rotate")
async def rotate_connector(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    form: Form,
    connector_id: ConnectorId,
) -> Response:
    """A new secret for a connector; the previous one stops working at once."""
    reply = await services.backends.share.call(
        "POST", f"{CONNECTORS}/{connector_id}/rotate", session.token
    )
    if reply.ok:
        return await _settings_page(request, services, session, texts, fresh=reply.data)
    if reply.status == 404:
        return redirect("/program/run/settings#connectors", request)
    return await _settings_page(
        request, services, session, texts, errors={"form": _unavailable(texts)}, status=503
    )


@router.post("/program/run/connectors/{connector_id}/delete")
async def delete_connector(
    request: Request,
    services: Services,
    session: Admin,
    texts: Language,
    form: Form,
    connector_id: ConnectorId,
) -> Response:
    """Remove a connector (one already gone is removed too)."""
    reply = await services.backends.share.call(
        "DELETE", f"{CONNECTORS}/{connector_id}", session.token
    )
    if reply.ok or reply.status == 404:
        return redirect("/program/run/settings?saved=connector#connectors", request)
    return await _settings_page(
        request, services, session, texts, errors={"form": _unavailable(texts)}, status=503
    )
