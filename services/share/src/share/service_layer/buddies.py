"""Use cases of buddy pairs: asking, pairing, accepting, ending; drafts, feedback, cheers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chassis import outbox
from chassis.auth import Principal
from chassis.domain_errors import Conflict, Invalid
from chassis.ids import new_id
from chassis.telemetry import current_traceparent
from chassis.uow import UnitOfWork, Write
from contracts import (
    BuddyFeedbackGiven,
    BuddyFeedbackGivenData,
    BuddyFeedbackKind,
    Network,
    derived_event_id,
)
from share.adapters.buddies import BuddyRepository
from share.domain.buddies import (
    BuddyPerson,
    BuddyShare,
    Comment,
    Draft,
    DraftReaction,
    Pair,
    PairStatus,
    Reaction,
    after_accepting,
    cannot_accept,
    cannot_end,
    cannot_give_feedback,
    cannot_pair,
    cannot_post,
    cannot_see_draft,
    fits,
    other_member,
)

# A buddy's shares shown, and how far back.
SHARES_SHOWN = 10
SHARES_WINDOW = timedelta(days=30)


@dataclass
class Buddies:
    repo: BuddyRepository
    drafts_outbox: outbox.Outbox
    cheers_outbox: outbox.Outbox
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    uow: Callable[[], UnitOfWork] = UnitOfWork


def _program_team(user: Principal) -> bool:
    return user.has_any(("admin",))


# -- my buddy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MyBuddy:
    person: BuddyPerson
    pair: Pair | None
    buddy: BuddyPerson | None
    shares: list[BuddyShare]  # the buddy's recent shares, each with whether I cheered it
    new_shares: int  # of those, shared since I last looked (0 when I asked not to be told)


async def my_buddy(buddies: Buddies, user: Principal) -> MyBuddy:
    repo = buddies.repo
    person = await repo.person(user.tenant, user.employee_id) or BuddyPerson(user.employee_id)
    pair = await repo.pair(user.tenant, person.pair_id) if person.pair_id else None
    buddy = None
    shares: list[BuddyShare] = []
    new = 0
    if pair is not None:
        buddy_id = other_member(pair, user.employee_id)
        buddy = await repo.person(user.tenant, buddy_id) or BuddyPerson(buddy_id)
        if pair.status == PairStatus.ACTIVE:
            assert pair.accepted_at is not None
            since = max(_utc(pair.accepted_at), buddies.clock() - SHARES_WINDOW)
            found = await repo.shares_of(user.tenant, buddy_id, since, SHARES_SHOWN)
            cheered = await repo.cheered(user.tenant, user.employee_id, [s.id for s in found])
            seen = person.seen_until
            for share in found:
                shares.append(replace(share, cheered=share.id in cheered))
                if person.notify_shares and (seen is None or _utc(share.shared_at) > _utc(seen)):
                    new += 1
    return MyBuddy(person, pair, buddy, shares, new)


async def save_settings(
    buddies: Buddies, user: Principal, notify_shares: bool | None, name: str | None
) -> None:
    fields: dict[str, Any] = {}
    if notify_shares is not None:
        fields["notify_shares"] = notify_shares
    if name:
        fields["name"] = name
    if fields:
        await buddies.repo.save_person(user.tenant, user.employee_id, fields)


async def mark_seen(buddies: Buddies, user: Principal) -> None:
    """The buddy's shares so far are seen: the notice of them goes."""
    await buddies.repo.save_person(user.tenant, user.employee_id, {"seen_until": buddies.clock()})


# -- asking and pairing -----------------------------------------------------------------------


async def ask_for_buddy(
    buddies: Buddies, user: Principal, team: str | None, name: str | None
) -> MyBuddy:
    """Ask for a buddy, within one of my teams or anyone; a colleague waiting is proposed."""
    if team is not None and team not in user.groups:
        raise Invalid(errors=[("team", "not one of your teams")])
    repo = buddies.repo
    person = await repo.person(user.tenant, user.employee_id)
    if person and person.pair_id:
        raise Conflict("you already have a buddy or a buddy request to answer")
    now = buddies.clock()
    fields: dict[str, Any] = {
        "requested": {"team": team},
        "requested_at": now,
        "groups": sorted(user.groups),
        "notify_shares": person.notify_shares if person else True,
    }
    if name:
        fields["name"] = name
    await repo.save_person(user.tenant, user.employee_id, fields)
    for other in await repo.waiting(user.tenant):
        if other.employee_id == user.employee_id:
            continue
        if fits(team, other.groups) and fits(other.requested_team, user.groups):
            proposed = await _propose(
                buddies, user.tenant, [other.employee_id, user.employee_id], "match", team
            )
            if proposed is not None:
                break
    return await my_buddy(buddies, user)


async def withdraw_request(buddies: Buddies, user: Principal) -> None:
    await buddies.repo.save_person(user.tenant, user.employee_id, {"requested": None})


async def pair_people(buddies: Buddies, user: Principal, first: str, second: str) -> Pair:
    """The program team proposes two people as buddies; each of them accepts or declines."""
    if refusal := cannot_pair(first, second):
        raise refusal
    pair = await _propose(buddies, user.tenant, [first, second], "program", None)
    if pair is None:
        raise Invalid(errors=[("employee_ids", "one of them already has a buddy")])
    return pair


async def _propose(
    buddies: Buddies, tenant: str, members: list[str], proposed_by: str, team: str | None
) -> Pair | None:
    """A pending pair of two people who have none, or None if one of them has one now."""
    repo = buddies.repo
    pair_id = new_id()
    claimed: list[str] = []
    for member in members:
        if not await repo.claim(tenant, member, pair_id, {}):
            for done in claimed:
                await repo.release(tenant, done, pair_id)
            return None
        claimed.append(member)
    pair = Pair(
        id=pair_id,
        members=tuple(members),
        status=PairStatus.PENDING,
        created_at=buddies.clock(),
        proposed_by=proposed_by,
        team=team,
    )
    await repo.insert_pair(tenant, pair)
    return pair


async def accept(buddies: Buddies, user: Principal, pair_id: str, name: str | None) -> Pair:
    repo = buddies.repo
    pair = await repo.pair(user.tenant, pair_id)
    if refusal := cannot_accept(pair, user.employee_id):
        raise refusal
    assert pair is not None
    if name:
        await repo.save_person(user.tenant, user.employee_id, {"name": name})
    accepted = sorted({*pair.accepted, user.employee_id})
    status = after_accepting(accepted, pair.members)
    fields: dict[str, Any] = {"accepted": accepted, "status": status.value}
    if status is PairStatus.ACTIVE:
        fields["accepted_at"] = buddies.clock()
    updated = await repo.change_pair(user.tenant, pair_id, PairStatus.PENDING, fields)
    if updated is None:
        raise Conflict("the pair changed meanwhile; try again")
    return updated


async def end(buddies: Buddies, user: Principal, pair_id: str) -> Pair:
    """Decline a pending pair or end an active one: for either of them, or the program team."""
    repo = buddies.repo
    pair = await repo.pair(user.tenant, pair_id)
    if refusal := cannot_end(pair, user.employee_id, _program_team(user)):
        raise refusal
    assert pair is not None
    status = PairStatus.DECLINED if pair.status == PairStatus.PENDING else PairStatus.ENDED
    updated = await repo.change_pair(
        user.tenant,
        pair_id,
        pair.status,
        {"status": status.value, "ended_at": buddies.clock(), "ended_by": user.employee_id},
    )
    if updated is None:
        raise Conflict("the pair changed meanwhile; try again")
    for member in pair.members:
        await repo.release(user.tenant, member, pair_id)
    return updated


async def overview(buddies: Buddies, user: Principal) -> tuple[list[BuddyPerson], list[Pair]]:
    """For the program team: who is waiting for a buddy, and the pending and active pairs."""
    repo = buddies.repo
    waiting = await repo.waiting(user.tenant)
    pairs = await repo.pairs_of(user.tenant, [PairStatus.PENDING, PairStatus.ACTIVE], 500)
    return waiting, pairs


async def names(buddies: Buddies, tenant: str, employee_ids: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for employee_id in employee_ids:
        person = await buddies.repo.person(tenant, employee_id)
        if person and person.name:
            found[employee_id] = person.name
    return found


# -- drafts -------------------------------------------------------------------------------------


async def _active_pair(buddies: Buddies, user: Principal) -> Pair | None:
    person = await buddies.repo.person(user.tenant, user.employee_id)
    if not person or not person.pair_id:
        return None
    pair = await buddies.repo.pair(user.tenant, person.pair_id)
    return pair if pair and pair.status == PairStatus.ACTIVE else None


async def send_draft(
    buddies: Buddies,
    user: Principal,
    network: Network,
    text: str,
    url: str | None,
    title: str | None,
) -> Draft:
    """A draft of my own post, for my buddy's eyes only."""
    text = _not_blank(text)
    pair = await _active_pair(buddies, user)
    if pair is None:
        raise Conflict("you need a buddy to send them a draft")
    sent = Draft(
        id=new_id(),
        pair_id=pair.id,
        author_id=user.employee_id,
        buddy_id=other_member(pair, user.employee_id),
        network=network,
        text=text,
        created_at=buddies.clock(),
        url=url,
        title=title or "",
    )
    await buddies.repo.insert_draft(user.tenant, sent)
    return sent


async def drafts(buddies: Buddies, user: Principal) -> tuple[list[Draft], list[Draft]]:
    """My drafts, and those my buddy sent me (while we are buddies)."""
    repo = buddies.repo
    mine = await repo.drafts_of(user.tenant, "author_id", user.employee_id, None, 50)
    pair = await _active_pair(buddies, user)
    theirs = (
        await repo.drafts_of(user.tenant, "buddy_id", user.employee_id, pair.id, 50) if pair else []
    )
    return mine, theirs


async def draft(buddies: Buddies, user: Principal, draft_id: str) -> Draft:
    found = await buddies.repo.draft(user.tenant, draft_id)
    pair = await _active_pair(buddies, user)
    if refusal := cannot_see_draft(found, user.employee_id, pair.id if pair else None):
        raise refusal
    assert found is not None
    return found


def _not_blank(text: str) -> str:
    """The text without surrounding blanks; there must be something left."""
    kept = text.strip()
    if not kept:
        raise Invalid("text: must not be blank", errors=[("text", "must not be blank")])
    return kept


def _feedback(
    user: Principal,
    draft_of: Draft,
    kind: BuddyFeedbackKind,
    feedback_id: str,
    at: datetime,
) -> BuddyFeedbackGiven:
    return BuddyFeedbackGiven.create(
        tenant_id=user.tenant,
        subject=user.employee_id,
        traceparent=current_traceparent(),
        data=BuddyFeedbackGivenData(
            feedback_id=feedback_id,
            employee_id=user.employee_id,
            buddy_id=draft_of.author_id,
            pair_id=draft_of.pair_id,
            kind=kind,
            draft_id=draft_of.id,
            given_at=at,
        ),
    )


async def comment(buddies: Buddies, user: Principal, draft_id: str, text: str) -> Draft:
    """The buddy's comment on a draft; the draft itself stays the author's words."""
    text = _not_blank(text)
    found = await draft(buddies, user, draft_id)
    if refusal := cannot_give_feedback(found, user.employee_id):
        raise refusal
    now = buddies.clock()
    comment_id = new_id()
    event = _feedback(user, found, BuddyFeedbackKind.COMMENT, comment_id, now)
    entry = Comment(comment_id, user.employee_id, text, now)
    write = buddies.repo.draft_commented(buddies.drafts_outbox, user.tenant, draft_id, entry)
    await _on_open_draft(buddies, write, [event])
    return replace(found, comments=(*found.comments, entry))


async def _on_open_draft(buddies: Buddies, write: Write, events: list[BuddyFeedbackGiven]) -> None:
    """Commit a change of a draft that must still be open."""
    try:
        async with buddies.uow() as uow:
            uow.add(write, events)
    except Conflict:
        raise Conflict("the draft is already posted") from None


async def react(
    buddies: Buddies, user: Principal, draft_id: str, reaction: Reaction | None
) -> Draft:
    """The buddy's one reaction to a draft (changed or taken back at will); the first counts
    as feedback once."""
    found = await draft(buddies, user, draft_id)
    if refusal := cannot_give_feedback(found, user.employee_id):
        raise refusal
    now = buddies.clock()
    value = DraftReaction(reaction, user.employee_id, now) if reaction else None
    events: list[BuddyFeedbackGiven] = []
    if reaction is not None and not found.reacted:
        feedback_id = derived_event_id("buddy-reaction", user.tenant, draft_id)
        events.append(_feedback(user, found, BuddyFeedbackKind.REACTION, feedback_id, now))
    write = buddies.repo.draft_reacted(buddies.drafts_outbox, user.tenant, draft_id, value)
    await _on_open_draft(buddies, write, events)
    return replace(found, reaction=value, reacted=found.reacted or value is not None)


async def check_postable(buddies: Buddies, user: Principal, draft_id: str) -> Draft:
    """The author's open draft, about to be posted through a share."""
    found = await buddies.repo.draft(user.tenant, draft_id)
    if refusal := cannot_post(found, user.employee_id):
        raise refusal
    assert found is not None
    return found


async def mark_posted(buddies: Buddies, user: Principal, draft_id: str, share_id: str) -> None:
    await buddies.repo.mark_draft_posted(
        user.tenant, draft_id, user.employee_id, share_id, buddies.clock()
    )


# -- cheers -----------------------------------------------------------------------------------


async def cheer(buddies: Buddies, user: Principal, share_id: str) -> bool:
    """Cheer my buddy's share, once; False if I had already."""
    pair = await _active_pair(buddies, user)
    if pair is None:
        raise Conflict("you need a buddy to cheer them on")
    buddy_id = other_member(pair, user.employee_id)
    if await buddies.repo.share_owner(user.tenant, share_id) != buddy_id:
        raise Invalid(errors=[("share_id", "not a share of your buddy")])
    now = buddies.clock()
    cheer_id = f"{user.tenant}:{share_id}:{user.employee_id}"
    event = BuddyFeedbackGiven.create(
        tenant_id=user.tenant,
        subject=user.employee_id,
        traceparent=current_traceparent(),
        data=BuddyFeedbackGivenData(
            feedback_id=derived_event_id("buddy-cheer", cheer_id),
            employee_id=user.employee_id,
            buddy_id=buddy_id,
            pair_id=pair.id,
            kind=BuddyFeedbackKind.CHEER,
            share_id=share_id,
            given_at=now,
        ),
    )
    doc = {
        "_id": cheer_id,
        "tenant": user.tenant,
        "share_id": share_id,
        "employee_id": user.employee_id,
        "buddy_id": buddy_id,
        "at": now,
    }
    async with buddies.uow() as uow:
        uow.add(buddies.repo.cheer_given(buddies.cheers_outbox, doc), [event])
    return bool(uow.committed)


async def forget(buddies: Buddies, user: Principal) -> None:
    """On erasure: end the person's pair and erase their drafts, words and cheers."""
    person = await buddies.repo.person(user.tenant, user.employee_id)
    if person and person.pair_id:
        pair = await buddies.repo.pair(user.tenant, person.pair_id)
        if pair is not None and pair.status in (PairStatus.PENDING, PairStatus.ACTIVE):
            await end(buddies, user, pair.id)
    await buddies.repo.forget(user.tenant, user.employee_id)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
