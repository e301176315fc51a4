"""Rewards: my balance, the catalog, redeeming with a confirmation, my redemptions, and
suggesting rewards and voting on colleagues' suggestions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain.times import parse_time
from web.entrypoints.common import (
    Form,
    Language,
    Person,
    Services,
    WebServices,
    error_page,
    redirect,
    render,
)
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
ItemId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
SuggestionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The rewards service's limits on a suggestion (rewards.domain.suggestions).
TITLE_MAX = 120
DESCRIPTION_MAX = 500
# Open suggestions shown, most votes first; and decided ones.
OPEN_SHOWN = 50
DECIDED_SHOWN = 10


def offer(item: dict[str, Any], balance: int | None) -> dict[str, Any]:
    """A catalog item as the page shows it: whether I can redeem it, and what is missing."""
    price = int(item.get("price") or 0)
    stock = int(item.get("stock") or 0)
    affordable = balance is not None and balance >= price
    return {
        **item,
        "price": price,
        "stock": stock,
        "in_stock": stock > 0,
        "affordable": affordable,
        "missing": max(price - balance, 0) if balance is not None else None,
        "after": balance - price if balance is not None else None,
    }


def redeem_error(reply: Reply, texts: Texts) -> str:
    """Why a redemption was refused, in plain words."""
    title = str(reply.problem.get("title") or "").lower()
    if reply.unavailable:
        return texts.gettext(
            "Redeeming is unavailable right now. "
            "No points were spent: please try again in a minute."
        )
    if reply.status == 404:
        return texts.gettext("This reward is no longer in the catalog. No points were spent.")
    if "stock" in title:
        return texts.gettext("This reward has just run out. No points were spent.")
    if "points" in title:
        return texts.gettext("Your balance does not cover this reward yet. No points were spent.")
    return texts.gettext(
        "The redemption did not go through. No points were spent: please try again."
    )


async def _shop(services: WebServices, session: Session) -> tuple[Reply, Reply]:
    backends = services.backends
    return await asyncio.gather(
        backends.rewards.call("GET", "/api/v1/me/points", session.token, params={"limit": 1}),
        backends.rewards.call("GET", "/api/v1/catalog", session.token),
    )


def _balance(points: Reply) -> int | None:
    return int((points.data or {}).get("balance") or 0) if points.ok else None


def suggestion_errors(form: Mapping[str, Any], texts: Texts) -> dict[str, str]:
    """What is wrong with a reward suggestion as typed, by field."""
    errors: dict[str, str] = {}
    title = str(form.get("title", "")).strip()
    if not title:
        errors["suggestion_title"] = texts.gettext("Say what reward you would like.")
    elif len(title) > TITLE_MAX:
        errors["suggestion_title"] = texts.gettext(
            "Keep the reward's name to %(count)s characters or fewer.", count=TITLE_MAX
        )
    if len(str(form.get("description", "")).strip()) > DESCRIPTION_MAX:
        errors["suggestion_description"] = texts.gettext(
            "Keep the description to %(count)s characters or fewer.", count=DESCRIPTION_MAX
        )
    return errors


def suggestion_refusal(reply: Reply, texts: Texts) -> dict[str, str]:
    """The rewards service's refusal of a suggestion, by form field."""
    if reply.unavailable:
        return {
            "form": texts.gettext(
                "Suggestions are unavailable right now. Nothing was sent: "
                "please try again in a minute."
            )
        }
    title = str(reply.problem.get("title") or "").lower()
    if reply.status == 409 and "already" in title:
        return {
            "suggestion_title": texts.gettext(
                "Someone has suggested this already. Vote for it in the list below."
            )
        }
    if reply.status == 409:
        return {
            "suggestion_title": texts.gettext(
                "You have many suggestions open already. "
                "Wait for the program team to decide on some of them first."
            )
        }
    fields = reply.field_errors()
    errors: dict[str, str] = {}
    if "title" in fields:
        errors["suggestion_title"] = texts.gettext(
            "Keep the reward's name to %(count)s characters or fewer.", count=TITLE_MAX
        )
    if "description" in fields:
        errors["suggestion_description"] = texts.gettext(
            "Keep the description to %(count)s characters or fewer.", count=DESCRIPTION_MAX
        )
    return errors or {
        "form": texts.gettext("Your suggestion did not go through. Please try again in a minute.")
    }


def idea(suggestion: dict[str, Any]) -> dict[str, Any]:
    """A suggestion as the pages show it."""
    return {
        **suggestion,
        "when": parse_time(suggestion.get("suggested_at")),
        "decided": parse_time(suggestion.get("decided_at")),
        "erased": str(suggestion.get("suggested_by") or "").startswith("erased-"),
    }


async def suggestions(services: WebServices, session: Session) -> tuple[Reply, Reply]:
    """The open suggestions, most votes first, and the latest decided ones."""
    rewards = services.backends.rewards
    return await asyncio.gather(
        rewards.call(
            "GET",
            "/api/v1/reward-suggestions",
            session.token,
            params={"status": "open", "limit": OPEN_SHOWN},
        ),
        rewards.call(
            "GET",
            "/api/v1/reward-suggestions",
            session.token,
            params={"status": ["stocked", "declined"], "limit": 200},
        ),
    )


def listed(reply: Reply) -> list[dict[str, Any]]:
    return [idea(s) for s in (reply.data or {}).get("suggestions") or []]


def latest_decided(reply: Reply, shown: int = DECIDED_SHOWN) -> list[dict[str, Any]]:
    decided = [s for s in listed(reply) if s.get("decided")]
    return sorted(decided, key=lambda s: s["decided"], reverse=True)[:shown]


async def _rewards(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    redeemed: str | None = None,
    suggested: str | None = None,
    values: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    vote_error: str = "",
    status: int = 200,
) -> Response:
    (points, catalog), history, (open_ideas, decided) = await asyncio.gather(
        _shop(services, session),
        services.backends.rewards.call("GET", "/api/v1/me/redemptions", session.token),
        suggestions(services, session),
    )
    balance = _balance(points)
    items = [offer(i, balance) for i in (catalog.data or {}).get("items", [])]
    redemptions = [
        {**r, "when": parse_time(r.get("at"))} for r in (history.data or {}).get("redemptions", [])
    ]
    just = next((r for r in redemptions if r.get("redemption_id") == redeemed), None)
    ideas = listed(open_ideas)
    values = values or {}
    return render(
        request,
        "rewards.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Rewards"),
        section="rewards",
        points=points,
        figures=points.data or {},
        balance=balance,
        catalog=catalog,
        items=items,
        history=history,
        redemptions=redemptions,
        just=just,
        open_ideas=open_ideas,
        ideas=ideas,
        decided=latest_decided(decided),
        just_suggested=next((s for s in ideas if s.get("suggestion_id") == suggested), None),
        values={k: str(values.get(k, "")) for k in ("title", "description")},
        errors=errors or {},
        vote_error=vote_error,
    )


@router.get("/rewards")
async def rewards_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    redeemed: Annotated[str | None, Query(max_length=200)] = None,
    suggested: Annotated[str | None, Query(max_length=64)] = None,
    refused: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """My balance, what I can redeem, what I redeemed, and the rewards colleagues suggest."""
    return await _rewards(
        request,
        services,
        session,
        texts,
        redeemed=redeemed,
        suggested=suggested,
        vote_error=vote_refusal(refused, texts) if refused else "",
    )


@router.post("/rewards/suggestions")
async def suggest(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Suggest a reward; back to the list with it marked, or to the form with what is wrong."""
    errors = suggestion_errors(form, texts)
    if not errors:
        body: dict[str, Any] = {"title": str(form.get("title", "")).strip()}
        if description := str(form.get("description", "")).strip():
            body["description"] = description
        reply = await services.backends.rewards.call(
            "POST", "/api/v1/reward-suggestions", session.token, json=body
        )
        if reply.ok:
            made = str((reply.data or {}).get("suggestion_id", ""))
            return redirect(f"/rewards?suggested={made}#suggestion-{made}", request)
        errors = suggestion_refusal(reply, texts)
    status = 503 if "form" in errors else 422
    return await _rewards(
        request, services, session, texts, values=form, errors=errors, status=status
    )


def _refusal_kind(reply: Reply) -> str:
    if reply.unavailable:
        return "unavailable"
    return "gone" if reply.status == 404 else "decided"


def vote_refusal(kind: str, texts: Texts) -> str:
    """Why a vote did not count, in plain words."""
    if kind == "unavailable":
        return texts.gettext(
            "Voting is unavailable right now. Nothing changed: please try again in a minute."
        )
    if kind == "gone":
        return texts.gettext("This suggestion is no longer there.")
    return texts.gettext(
        "The program team has decided on this suggestion, so it takes no new votes."
    )


async def _vote(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    suggestion_id: str,
    method: str,
) -> Response:
    reply = await services.backends.rewards.call(
        method, f"/api/v1/reward-suggestions/{suggestion_id}/vote", session.token
    )
    htmx = request.headers.get("hx-request") == "true"
    if not reply.ok:
        kind = _refusal_kind(reply)
        if htmx:
            # The whole page, which says why next to the list.
            return redirect(f"/rewards?refused={kind}#suggestions", request)
        return await _rewards(
            request,
            services,
            session,
            texts,
            vote_error=vote_refusal(kind, texts),
            status=503 if reply.unavailable else reply.status,
        )
    if not htmx:
        return redirect(f"/rewards#suggestion-{suggestion_id}")
    # The one suggestion, swapped in place, and a word for screen readers.
    return render(
        request,
        "rewards_suggestion.html",
        texts,
        session,
        s=idea(reply.data or {}),
        announce=texts.gettext("Your vote is counted.")
        if method == "PUT"
        else texts.gettext("Your vote is taken back."),
    )


@router.post("/rewards/suggestions/{suggestion_id}/vote")
async def vote(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    suggestion_id: SuggestionId,
) -> Response:
    """Vote for a colleague's suggestion (once; again changes nothing)."""
    return await _vote(request, services, session, texts, suggestion_id, "PUT")


@router.post("/rewards/suggestions/{suggestion_id}/unvote")
async def unvote(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    suggestion_id: SuggestionId,
) -> Response:
    """Take my vote back."""
    return await _vote(request, services, session, texts, suggestion_id, "DELETE")


async def _confirm(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    item_id: str,
    error: str = "",
    status: int = 200,
) -> Response:
    points, catalog = await _shop(services, session)
    balance = _balance(points)
    found = next(
        (i for i in (catalog.data or {}).get("items", []) if i["item_id"] == item_id), None
    )
    if catalog.ok and found is None:
        return error_page(
            request,
            texts,
            session,
            404,
            texts.gettext("This reward is not in the catalog"),
            texts.gettext("It may have been taken out. See the rewards there are now."),
        )
    return render(
        request,
        "rewards_confirm.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Redeem a reward"),
        section="rewards",
        points=points,
        catalog=catalog,
        balance=balance,
        item=offer(found, balance) if found else None,
        item_id=item_id,
        errors={"form": error} if error else {},
    )


@router.get("/rewards/redeem/{item_id}")
async def confirm_page(
    request: Request, services: Services, session: Person, texts: Language, item_id: ItemId
) -> Response:
    """What the reward costs and what my balance will be: the step before spending."""
    return await _confirm(request, services, session, texts, item_id)


@router.post("/rewards/redeem/{item_id}")
async def redeem(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    item_id: ItemId,
) -> Response:
    """Spend the points; back to the rewards with the redemption marked."""
    reply = await services.backends.rewards.call(
        "POST", "/api/v1/redemptions", session.token, json={"item_id": item_id}
    )
    if not reply.ok:
        status = 503 if reply.unavailable else 409
        return await _confirm(
            request, services, session, texts, item_id, redeem_error(reply, texts), status
        )
    return redirect(f"/rewards?redeemed={(reply.data or {}).get('redemption_id', '')}", request)
