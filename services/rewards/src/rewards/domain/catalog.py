"""The catalog and what employees spend on it: items, charges and refunds, fulfilments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Item:
    """A reward item; `capacity` is every unit it may ever sell (those sold included)."""

    item_id: str
    name: str
    price: int
    capacity: int


@dataclass(frozen=True, slots=True)
class Spend:
    """Charge number `seq` of an employee, a refund when its points are negative, with
    the running total spent. A redemption's charge names it, its item and the item's
    name then; its refund (out of stock) is marked."""

    employee_id: str
    seq: int
    points: int
    spent: int
    redemption_id: str | None = None
    item_id: str | None = None
    name: str | None = None
    at: datetime | None = None
    refund: bool = False


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """A redemption handed over: when and by which admin."""

    redemption_id: str
    employee_id: str
    fulfilled_at: datetime
    fulfilled_by: str
