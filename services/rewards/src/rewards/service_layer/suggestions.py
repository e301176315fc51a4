"""Use cases of reward suggestions: suggest, vote and take a vote back, the ranking, the
program team's decision (rules: domain/suggestions.py). Erasing a person from them is part
of erasing them from rewards (`handlers.erase_person`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chassis.domain_errors import Conflict, Invalid, NotFound
from chassis.ids import new_id
from rewards.domain.suggestions import (
    OPEN_PER_PERSON,
    Ranked,
    RewardSuggestion,
    SuggestionStatus,
    after,
    can_vote,
    links_item,
    rank,
    title_key,
)
from rewards.service_layer.handlers import Services


@dataclass(frozen=True)
class Suggestion:
    """A suggestion as one person sees it: with its votes and whether they voted."""

    suggestion_id: str
    title: str
    description: str | None
    status: SuggestionStatus
    suggested_at: datetime
    suggested_by: str
    votes: int
    voted: bool
    mine: bool
    item_id: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None


def _view(doc: RewardSuggestion, votes: int, voted: bool, viewer: str) -> Suggestion:
    return Suggestion(
        suggestion_id=doc.suggestion_id,
        title=doc.title,
        description=doc.description,
        status=doc.status,
        suggested_at=doc.suggested_at,
        suggested_by=doc.suggested_by,
        votes=votes,
        voted=voted,
        mine=doc.suggested_by == viewer,
        item_id=doc.item_id,
        decided_at=doc.decided_at,
        decided_by=doc.decided_by,
    )


async def _current(
    services: Services, tenant: str, viewer: str, doc: RewardSuggestion
) -> Suggestion:
    repo, sid = services.repo, doc.suggestion_id
    votes = await repo.vote_count(tenant, sid)
    return _view(doc, votes, await repo.has_voted(tenant, sid, viewer), viewer)


async def _found(services: Services, tenant: str, suggestion_id: str) -> RewardSuggestion:
    doc = await services.repo.suggestion(tenant, suggestion_id)
    if doc is None:
        raise NotFound(
            f"suggestion_id: no suggestion {suggestion_id} here", title="No such suggestion"
        )
    return doc


async def suggest(
    services: Services, tenant: str, employee_id: str, title: str, description: str | None
) -> Suggestion:
    """A new open suggestion, with the suggester's own vote."""
    repo = services.repo
    key = title_key(title)
    same = await repo.open_suggestion_titled(tenant, key)
    if same is not None:
        raise Conflict(
            "title: an open suggestion has this title; vote for it instead",
            title="Already suggested",
            suggestion_id=same.suggestion_id,
        )
    if await repo.open_suggestions_by(tenant, employee_id) >= OPEN_PER_PERSON:
        raise Conflict(
            f"title: at most {OPEN_PER_PERSON} open suggestions per person",
            title="Too many open suggestions",
        )
    suggestion_id, now = new_id(), services.clock()
    doc = RewardSuggestion(
        suggestion_id=suggestion_id,
        title=title,
        description=description or None,
        suggested_by=employee_id,
        suggested_at=now,
    )
    await repo.insert_suggestion(tenant, doc)
    await repo.add_vote(tenant, suggestion_id, employee_id, now)
    return await _current(services, tenant, employee_id, doc)


async def ranking(
    services: Services,
    tenant: str,
    viewer: str,
    statuses: Sequence[SuggestionStatus] | None,
    limit: int,
    position: tuple[int, str] | None = None,
) -> tuple[list[Suggestion], tuple[int, str] | None]:
    """A page of the tenant's suggestions, most votes first, from a cursor's position;
    and the position to go on from when there is more."""
    repo = services.repo
    docs = {d.suggestion_id: d for d in await repo.tenant_suggestions(tenant, statuses)}
    counts = await repo.vote_counts(tenant)
    mine = {v.suggestion_id for v in await repo.votes_by(tenant, viewer)}
    ranked = rank(Ranked(sid, counts.get(sid, 0)) for sid in docs)
    if position is not None:
        ranked = [r for r in ranked if after(r, position)]
    page = ranked[:limit]
    following = (page[-1].votes, page[-1].suggestion_id) if len(ranked) > limit else None
    return [
        _view(docs[r.suggestion_id], r.votes, r.suggestion_id in mine, viewer) for r in page
    ], following


async def vote(services: Services, tenant: str, employee_id: str, suggestion_id: str) -> Suggestion:
    """Vote for a suggestion; voting again changes nothing."""
    repo = services.repo
    doc = await _found(services, tenant, suggestion_id)
    voted = await repo.has_voted(tenant, suggestion_id, employee_id)
    if not can_vote(doc.status, voted):
        raise Conflict(
            "suggestion_id: the program team has decided on this suggestion", title="Decided"
        )
    if not voted:
        await repo.add_vote(tenant, suggestion_id, employee_id, services.clock())
    return await _current(services, tenant, employee_id, doc)


async def unvote(
    services: Services, tenant: str, employee_id: str, suggestion_id: str
) -> Suggestion:
    """Take a vote back (whatever the status); taking back a vote not cast changes nothing."""
    doc = await _found(services, tenant, suggestion_id)
    await services.repo.remove_vote(tenant, suggestion_id, employee_id)
    return await _current(services, tenant, employee_id, doc)


async def decide(
    services: Services,
    tenant: str,
    admin_id: str,
    suggestion_id: str,
    status: SuggestionStatus,
    item_id: str | None,
) -> Suggestion:
    """Mark a suggestion stocked (naming the catalog item, if one), declined, or open again.
    The same decision again changes nothing."""
    if not links_item(status, item_id):
        raise Invalid("item_id: only a stocked suggestion names a catalog item")
    if item_id is not None and await services.repo.item(tenant, item_id) is None:
        raise Invalid(f"item_id: no item {item_id} in the catalog")
    current = await _found(services, tenant, suggestion_id)
    if current.status is status and current.item_id == item_id:
        # Decided so already: the first decision (who, when) stands.
        return await _current(services, tenant, admin_id, current)
    reopened = status is SuggestionStatus.OPEN
    doc = await services.repo.decide_suggestion(
        tenant,
        suggestion_id,
        status,
        item_id,
        decided_at=None if reopened else services.clock(),
        decided_by=None if reopened else admin_id,
    )
    assert doc is not None
    return await _current(services, tenant, admin_id, doc)


@dataclass(frozen=True)
class MySuggestions:
    suggestions: list[Suggestion]
    votes: list[dict[str, Any]]


async def of_person(services: Services, tenant: str, employee_id: str) -> MySuggestions:
    """What a person suggested and what they voted for, for their download."""
    repo = services.repo
    counts = await repo.vote_counts(tenant)
    votes = await repo.votes_by(tenant, employee_id)
    voted = {v.suggestion_id for v in votes}
    titles = {d.suggestion_id: d.title for d in await repo.tenant_suggestions(tenant)}
    return MySuggestions(
        suggestions=[
            _view(d, counts.get(d.suggestion_id, 0), d.suggestion_id in voted, employee_id)
            for d in await repo.suggestions_by(tenant, employee_id)
        ],
        votes=[
            {
                "suggestion_id": v.suggestion_id,
                "title": titles.get(v.suggestion_id),
                "voted_at": v.voted_at,
            }
            for v in votes
        ],
    )
