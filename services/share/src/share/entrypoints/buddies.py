"""HTTP API of buddy pairs: my buddy, requests and pairs, drafts with feedback, cheers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.errors import Problem
from contracts import Network
from share.domain.buddies import COMMENT_LENGTH, DRAFT_LENGTH, Draft, Pair, Reaction
from share.service_layer import buddies as use
from share.service_layer import handlers


async def _buddies(request: Request) -> use.Buddies:
    services: handlers.Services = request.app.state.services
    if services.buddies is None:
        raise Problem(503, "Unavailable", "buddy pairs are not set up")
    return services.buddies


Buddies = Annotated[use.Buddies, Depends(_buddies)]
ProgramTeam = Annotated[Principal, Depends(require_roles("admin"))]
Id = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Name = Annotated[str | None, Field(None, min_length=1, max_length=200)]

router = APIRouter(prefix="/api/v1/buddies", tags=["buddies"])


# -- shapes ---------------------------------------------------------------------------------


class PersonOut(BaseModel):
    employee_id: str
    name: str | None = None


class PairOut(BaseModel):
    id: str
    status: str
    members: list[PersonOut]
    accepted: list[str] = Field(description="members who accepted the pair")
    proposed_by: str = Field(description="match (both asked for a buddy) or program")
    team: str | None = None
    created_at: datetime
    accepted_at: datetime | None = None
    ended_at: datetime | None = None


class BuddyShareOut(BaseModel):
    id: str
    network: str
    title: str
    text: str
    shared_at: datetime
    cheered: bool


class MyBuddyOut(BaseModel):
    employee_id: str
    requested: bool = Field(description="I asked for a buddy and wait for one")
    requested_team: str | None = None
    notify_shares: bool = Field(description="tell me when my buddy shares")
    pair: PairOut | None
    buddy: PersonOut | None
    shares: list[BuddyShareOut] = Field(description="my buddy's recent shares")
    new_shares: int = Field(description="of those, shared since I last looked")


class CommentOut(BaseModel):
    id: str
    employee_id: str
    text: str
    at: datetime


class ReactionOut(BaseModel):
    name: Reaction
    employee_id: str
    at: datetime


class DraftOut(BaseModel):
    id: str
    author_id: str
    buddy_id: str
    network: str
    text: str
    url: str | None
    title: str
    status: str
    comments: list[CommentOut]
    reaction: ReactionOut | None
    share_id: str | None = None
    created_at: datetime
    posted_at: datetime | None = None


class DraftsOut(BaseModel):
    mine: list[DraftOut]
    to_me: list[DraftOut] = Field(description="drafts my buddy sent me")


class OverviewOut(BaseModel):
    waiting: list[PersonOut] = Field(description="people who asked for a buddy, longest first")
    waiting_since: dict[str, datetime]
    pairs: list[PairOut]


async def _pair_out(
    buddies: use.Buddies, tenant: str, pair: Pair, names: dict[str, str] | None = None
) -> PairOut:
    if names is None:
        names = await use.names(buddies, tenant, set(pair.members))
    return PairOut(
        id=pair.id,
        status=pair.status.value,
        members=[PersonOut(employee_id=m, name=names.get(m)) for m in pair.members],
        accepted=list(pair.accepted),
        proposed_by=pair.proposed_by,
        team=pair.team,
        created_at=pair.created_at,
        accepted_at=pair.accepted_at,
        ended_at=pair.ended_at,
    )


def _draft_out(draft: Draft) -> DraftOut:
    reaction = draft.reaction
    return DraftOut(
        id=draft.id,
        author_id=draft.author_id,
        buddy_id=draft.buddy_id,
        network=draft.network.value,
        text=draft.text,
        url=draft.url,
        title=draft.title,
        status=draft.status.value,
        comments=[
            CommentOut(id=c.id, employee_id=c.employee_id, text=c.text, at=c.at)
            for c in draft.comments
        ],
        reaction=ReactionOut(name=reaction.name, employee_id=reaction.employee_id, at=reaction.at)
        if reaction
        else None,
        share_id=draft.share_id,
        created_at=draft.created_at,
        posted_at=draft.posted_at,
    )


async def _my_buddy_out(buddies: use.Buddies, user: Principal) -> MyBuddyOut:
    found = await use.my_buddy(buddies, user)
    person = found.person
    return MyBuddyOut(
        employee_id=user.employee_id,
        requested=person.requested and not found.pair,
        requested_team=person.requested_team,
        notify_shares=person.notify_shares,
        pair=await _pair_out(buddies, user.tenant, found.pair) if found.pair else None,
        buddy=PersonOut(employee_id=found.buddy.employee_id, name=found.buddy.name)
        if found.buddy
        else None,
        shares=[
            BuddyShareOut(
                id=s.id,
                network=s.network.value,
                title=s.title,
                text=s.text,
                shared_at=s.shared_at,
                cheered=s.cheered,
            )
            for s in found.shares
        ],
        new_shares=found.new_shares,
    )


# -- me -----------------------------------------------------------------------------------


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str | None = Field(
        None, min_length=1, max_length=200, description="one of my groups; anyone if left out"
    )
    name: Name = Field(None, description="how my buddy sees my name")


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notify_shares: bool | None = Field(None, description="tell me when my buddy shares")
    name: Name = None


class NameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = None


@router.get("/me", response_model=MyBuddyOut)
async def my_buddy(user: CurrentUser, buddies: Buddies) -> MyBuddyOut:
    """My buddy (or the pair proposed to me), their recent shares and my settings."""
    return await _my_buddy_out(buddies, user)


@router.post("/me/request", response_model=MyBuddyOut)
async def ask(body: AskIn, user: CurrentUser, buddies: Buddies) -> MyBuddyOut:
    """Find me a buddy (within one of my teams, or anyone); a colleague who is waiting too
    is proposed to both of us at once."""
    await use.ask_for_buddy(buddies, user, body.team, body.name)
    return await _my_buddy_out(buddies, user)


@router.delete("/me/request", response_model=MyBuddyOut)
async def withdraw(user: CurrentUser, buddies: Buddies) -> MyBuddyOut:
    """I no longer wait for a buddy."""
    await use.withdraw_request(buddies, user)
    return await _my_buddy_out(buddies, user)


@router.put("/me/settings", response_model=MyBuddyOut)
async def settings(body: SettingsIn, user: CurrentUser, buddies: Buddies) -> MyBuddyOut:
    """Whether I am told when my buddy shares (in the app now; by email or Teams with
    notifications), and the name my buddy sees."""
    await use.save_settings(buddies, user, body.notify_shares, body.name)
    return await _my_buddy_out(buddies, user)


@router.post("/me/seen", status_code=204)
async def seen(user: CurrentUser, buddies: Buddies) -> None:
    """I have seen my buddy's shares so far: the notice of them goes."""
    await use.mark_seen(buddies, user)


# -- pairs ----------------------------------------------------------------------------------


class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=2, max_length=2, description="the two people to pair"
    )
    names: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=dict, max_length=2, description="their names, where known"
    )


@router.get("/pairs", response_model=OverviewOut)
async def overview(user: ProgramTeam, buddies: Buddies) -> OverviewOut:
    """For the program team: who waits for a buddy, and the pending and active pairs."""
    waiting, pairs = await use.overview(buddies, user)
    people = {p.employee_id for p in waiting} | {m for p in pairs for m in p.members}
    names = await use.names(buddies, user.tenant, people)
    return OverviewOut(
        waiting=[
            PersonOut(employee_id=p.employee_id, name=names.get(p.employee_id)) for p in waiting
        ],
        waiting_since={p.employee_id: p.requested_at for p in waiting if p.requested_at},
        pairs=[await _pair_out(buddies, user.tenant, p, names) for p in pairs],
    )


@router.post("/pairs", response_model=PairOut, status_code=201)
async def pair(body: PairIn, user: ProgramTeam, buddies: Buddies) -> PairOut:
    """Propose two people as buddies (within a team or across); each accepts or declines."""
    first, second = body.employee_ids
    for employee_id, name in body.names.items():
        if employee_id in (first, second):
            person = await buddies.repo.person(user.tenant, employee_id)
            if not (person and person.name):
                await buddies.repo.save_person(user.tenant, employee_id, {"name": name})
    proposed = await use.pair_people(buddies, user, first, second)
    return await _pair_out(buddies, user.tenant, proposed)


@router.post("/pairs/{pair_id}/accept", response_model=PairOut)
async def accept(pair_id: Id, body: NameIn, user: CurrentUser, buddies: Buddies) -> PairOut:
    """I accept the proposed pair; it is active once both of us have."""
    accepted = await use.accept(buddies, user, pair_id, body.name)
    return await _pair_out(buddies, user.tenant, accepted)


@router.post("/pairs/{pair_id}/end", response_model=PairOut)
async def end(pair_id: Id, user: CurrentUser, buddies: Buddies) -> PairOut:
    """Decline a proposed pair or end an active one: either of them, or the program team."""
    ended = await use.end(buddies, user, pair_id)
    return await _pair_out(buddies, user.tenant, ended)


# -- drafts ---------------------------------------------------------------------------------


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: Network
    text: str = Field(min_length=1, max_length=DRAFT_LENGTH)
    url: HttpUrl | None = Field(None, description="the link the post will share, if any")
    title: str | None = Field(None, max_length=300)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=COMMENT_LENGTH)


class ReactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reaction: Reaction | None = Field(description="null takes the reaction back")


@router.post("/drafts", response_model=DraftOut, status_code=201)
async def send_draft(body: DraftIn, user: CurrentUser, buddies: Buddies) -> DraftOut:
    """Send my buddy a draft of my own post; they can comment and react, never edit."""
    sent = await use.send_draft(
        buddies, user, body.network, body.text, str(body.url) if body.url else None, body.title
    )
    return _draft_out(sent)


@router.get("/drafts", response_model=DraftsOut)
async def drafts(user: CurrentUser, buddies: Buddies) -> DraftsOut:
    """My drafts with their feedback, and the drafts my buddy sent me."""
    mine, theirs = await use.drafts(buddies, user)
    return DraftsOut(mine=[_draft_out(d) for d in mine], to_me=[_draft_out(d) for d in theirs])


@router.get("/drafts/{draft_id}", response_model=DraftOut)
async def draft(draft_id: Id, user: CurrentUser, buddies: Buddies) -> DraftOut:
    """One draft: mine, or one my buddy sent me."""
    return _draft_out(await use.draft(buddies, user, draft_id))


@router.post("/drafts/{draft_id}/comments", response_model=DraftOut, status_code=201)
async def comment(draft_id: Id, body: CommentIn, user: CurrentUser, buddies: Buddies) -> DraftOut:
    """Comment on my buddy's draft."""
    return _draft_out(await use.comment(buddies, user, draft_id, body.text))


@router.put("/drafts/{draft_id}/reaction", response_model=DraftOut)
async def react(draft_id: Id, body: ReactionIn, user: CurrentUser, buddies: Buddies) -> DraftOut:
    """React to my buddy's draft (one reaction, changed or taken back at will)."""
    return _draft_out(await use.react(buddies, user, draft_id, body.reaction))


# -- cheers ---------------------------------------------------------------------------------


class CheerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share_id: str = Field(min_length=1, max_length=200)


class CheerOut(BaseModel):
    share_id: str
    new: bool = Field(description="false if I had cheered it already")


@router.post("/cheers", response_model=CheerOut)
async def cheer(body: CheerIn, user: CurrentUser, buddies: Buddies) -> CheerOut:
    """Cheer my buddy's share."""
    new = await use.cheer(buddies, user, body.share_id)
    return CheerOut(share_id=body.share_id, new=new)
