"""Helpers for the content hub's integration tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chassis.auth import issue_token
from chassis.settings import LOCAL_JWT_SECRET
from support import read_topic, token

NOW = datetime.now(UTC)


def curator(tenant: str, sub: str = "cur-1") -> dict[str, str]:
    return token(tenant, sub, roles=("curator",))


def admin(tenant: str, sub: str = "adm-1") -> dict[str, str]:
    return token(tenant, sub, roles=("admin",))


def article(**extra: Any) -> dict[str, Any]:
    return {"title": "Our new office", "kind": "article", "url": "https://example.com/a", **extra}


def _tenant_events(records: list[Any], tenant: str) -> list[dict[str, Any]]:
    """The tenant's events in the order read, each once: delivery is at least once, and a
    repeat (an outbox entry published again after a crash or by the relay) has its id."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        try:
            event = json.loads(record.value)
        except (TypeError, ValueError):
            continue
        if isinstance(event, dict) and event.get("tenantid") == tenant:
            out.setdefault(event["id"], event)
    return list(out.values())


async def events_of(
    topic: str, tenant: str, at_least: int = 1, timeout: float = 20.0
) -> list[dict[str, Any]]:
    """The tenant's events on `topic` (the topic is shared with other tests and runs)."""
    records = await read_topic(
        topic,
        until=lambda rs: len(_tenant_events(rs, tenant)) >= at_least,
        timeout=timeout,
    )
    return _tenant_events(records, tenant)


def employee(
    tenant: str,
    sub: str,
    groups: tuple[str, ...] = (),
    location: str | None = None,
    languages: tuple[str, ...] = (),
) -> dict[str, str]:
    jwt = issue_token(
        LOCAL_JWT_SECRET,
        sub=sub,
        tenant=tenant,
        groups=groups,
        location=location,
        languages=languages,
    )
    return {"Authorization": f"Bearer {jwt}"}
