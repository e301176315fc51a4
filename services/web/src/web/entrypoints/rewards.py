"""Rewards: my balance, the catalog, redeeming with a confirmation, my redemptions."""

from __future__ import annotations

import asyncio
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


@router.get("/rewards")
async def rewards_page(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    redeemed: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """My balance, what I can redeem, and what I redeemed."""
    (points, catalog), history = await asyncio.gather(
        _shop(services, session),
        services.backends.rewards.call("GET", "/api/v1/me/redemptions", session.token),
    )
    balance = _balance(points)
    items = [offer(i, balance) for i in (catalog.data or {}).get("items", [])]
    redemptions = [
        {**r, "when": parse_time(r.get("at"))} for r in (history.data or {}).get("redemptions", [])
    ]
    just = next((r for r in redemptions if r.get("redemption_id") == redeemed), None)
    return render(
        request,
        "rewards.html",
        texts,
        session,
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
    )


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
