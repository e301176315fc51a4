"""HTTP API of rewards."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema, model_validator

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.directory import DirectoryEntry, entry_of
from chassis.errors import Problem
from chassis.ids import decode_cursor, encode_cursor
from rewards.adapters import events as convert
from rewards.domain.ledger import Challenge, LeaderboardChoice, StandingRecord
from rewards.domain.rules import Action, Award
from rewards.service_layer import handlers, rule_versions
from rewards.service_layer import suggestions as ideas
from rewards.service_layer.leaderboards import Leaderboards, Period, Scope, board_of


@dataclass
class Components:
    services: handlers.Services
    leaderboards: Leaderboards


async def _components(request: Request) -> Components:
    components: Components = request.app.state.services
    return components


App = Annotated[Components, Depends(_components)]
Admin = Annotated[Principal, Depends(require_roles("admin"))]

me = APIRouter(prefix="/api/v1/me", tags=["me"])
boards = APIRouter(prefix="/api/v1/leaderboards", tags=["leaderboards"])
rules = APIRouter(prefix="/api/v1/rules", tags=["rules"])
admin = APIRouter(prefix="/api/v1", tags=["administration"])
shop = APIRouter(prefix="/api/v1", tags=["catalog"])


def routers() -> list[APIRouter]:
    from rewards.entrypoints import suggestions

    return [me, boards, rules, admin, shop, *suggestions.routers()]


# As these routes wrote their times before they had models (`datetime.isoformat()`, so
# "+00:00" where pydantic would write "Z"): clients compare and parse what they got.
Timestamp = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


# -- me ------------------------------------------------------------------------------------


class LedgerEntry(BaseModel):
    award_id: str
    points: int
    rule_id: str
    rule_version: int
    reason: str
    source_event_id: str
    source_event_type: str
    awarded_at: datetime


class MyPoints(BaseModel):
    employee_id: str
    balance: int = Field(description="what is left to spend")
    earned: int
    clawed_back: int
    spent: int
    recent: list[LedgerEntry]


@me.get("/points", response_model=MyPoints)
async def my_points(
    user: CurrentUser, app: App, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> MyPoints:
    """The caller's balance and the ledger entries behind it, newest first."""
    # The balance first: the worker writes ledger entries before the standing that counts
    # them, so entries read after the balance include every award the balance counts.
    figures = await handlers.balance(app.services, user.tenant, user.employee_id)
    entries = await app.services.repo.entries(user.tenant, user.employee_id, limit)
    return MyPoints(
        employee_id=user.employee_id,
        **figures,
        recent=[_entry(e) for e in entries],
    )


def _entry(award: Award) -> LedgerEntry:
    return LedgerEntry.model_validate(award, from_attributes=True)


class EarnedBadge(BaseModel):
    badge: str
    name: str
    earned_at: Timestamp
    month: str | None = Field(None, description="the month won; only on monthly badges")


class MyBadges(BaseModel):
    badges: list[EarnedBadge] = Field(description="badges earned for good, then monthly ones")


# Fields a route leaves out stay out (not null): `response_model_exclude_unset=True`.
@me.get("/badges", response_model=MyBadges, response_model_exclude_unset=True)
async def my_badges(user: CurrentUser, app: App) -> dict[str, Any]:
    """The badges the caller has earned."""
    standing = await app.services.repo.standing(user.tenant, user.employee_id)
    badges = standing.badges if standing is not None else {}
    earned: list[dict[str, Any]] = [
        {"badge": b, "name": v.name, "earned_at": v.earned_at} for b, v in sorted(badges.items())
    ]
    # Once per month won, so kept apart from the badges earned once for good.
    monthly = await app.services.repo.month_badges_of(user.tenant, user.employee_id)
    earned.extend(
        {"badge": d.badge, "name": d.name, "earned_at": d.earned_at, "month": d.month}
        for d in sorted(monthly, key=lambda d: d.month)
    )
    return {"badges": earned}


class ChallengeOut(BaseModel):
    challenge_id: str
    name: str
    action: str
    target: int
    starts_at: Timestamp
    ends_at: Timestamp
    content_kind: str | None = None
    bonus: int = 0
    created_at: Timestamp | None = Field(None, description="absent on challenges stored long ago")


class MyChallengeOut(ChallengeOut):
    progress: int = Field(description="what the caller did towards the target, at most the target")


class MyChallenges(BaseModel):
    challenges: list[MyChallengeOut]


@me.get("/challenges", response_model=MyChallenges, response_model_exclude_unset=True)
async def my_challenges(user: CurrentUser, app: App) -> dict[str, Any]:
    """The tenant's challenges with the caller's progress."""
    config = await app.services.repo.tenant(user.tenant)
    standing = await app.services.repo.standing(user.tenant, user.employee_id)
    progress = standing.standing.challenges if standing is not None else {}
    return {
        "challenges": [
            {**_challenge(c), "progress": min(progress.get(c.challenge_id, 0), c.target)}
            for c in config.challenges
        ]
    }


def _challenge(challenge: Challenge) -> dict[str, Any]:
    """A challenge's fields as shown; no creation time on those stored long ago."""
    shown = convert.challenge_doc(challenge)
    if challenge.created_at is None:
        del shown["created_at"]
    return shown


class Visibility(BaseModel):
    hidden: bool
    opt_in: bool | None = Field(None, description="take part where leaderboards are opt-in")


class LeaderboardVisibility(BaseModel):
    hidden: bool
    opt_in: bool | None


@me.get("/leaderboard-visibility", response_model=LeaderboardVisibility)
async def get_visibility(user: CurrentUser, app: App) -> dict[str, Any]:
    """Whether the caller is hidden from leaderboards, and opted in where that is asked."""
    profile = await app.services.repo.profile(user.tenant, user.employee_id)
    return {"hidden": profile.hidden, "opt_in": profile.opt_in}


class VisibilityChoice(BaseModel):
    hidden: bool
    leaderboard_opt_in: bool | None = Field(
        None, description="the opt-in stored; only when the request set one"
    )


@me.put(
    "/leaderboard-visibility", response_model=VisibilityChoice, response_model_exclude_unset=True
)
async def set_visibility(body: Visibility, user: CurrentUser, app: App) -> dict[str, Any]:
    """Hide from leaderboards, or show again; opt in where the tenant asks for it."""
    choice = LeaderboardChoice(hidden=body.hidden, opt_in=body.opt_in)
    await app.services.repo.set_profile(user.tenant, user.employee_id, choice)
    app.leaderboards.choose(user.tenant, user.employee_id, choice)
    fields: dict[str, Any] = {"hidden": body.hidden}
    if body.opt_in is not None:
        fields["leaderboard_opt_in"] = body.opt_in
    return fields


class RedeemedOut(BaseModel):
    redemption_id: str
    item_id: str
    name: str = Field(description="the item's name when redeemed")
    points: int
    at: Timestamp


class MyRedemptions(BaseModel):
    redemptions: list[RedeemedOut] = Field(description="newest first; refunded attempts left out")


@me.get("/redemptions", response_model=MyRedemptions)
async def my_redemptions(user: CurrentUser, app: App) -> dict[str, Any]:
    """What the caller redeemed from the catalog, newest first."""
    found = await handlers.redemptions_of(app.services, user.tenant, user.employee_id)
    return {"redemptions": found}


class Balance(BaseModel):
    balance: int = Field(description="what is left to spend")
    earned: int
    clawed_back: int
    spent: int


class DayUse(BaseModel):
    total: int = Field(description="points counted against the daily maximum")
    per_action: dict[str, int]


class StandingOut(BaseModel):
    earned: int = 0
    month_key: str | None = None
    month_points: int = 0
    week_key: str | None = None
    week_points: int = 0
    shares: int = 0
    streak: int = Field(0, description="weeks in a row with a share")
    streak_week: str | None = None
    daily_use: dict[str, DayUse] = Field(
        default_factory=dict, description="what the daily caps counted, per UTC day"
    )
    groups: list[str] = Field(default_factory=list, description="as learnt from events")
    department: str | None = None
    location: str | None = None
    opted_out: bool = False


class BadgeOut(BaseModel):
    badge: str
    name: str
    earned_at: datetime
    month: str | None = None


class ChallengeProgress(BaseModel):
    challenge_id: str
    name: str | None = None
    action: str | None = None
    target: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    progress: int


class RedemptionOut(BaseModel):
    redemption_id: str
    item_id: str
    name: str
    points: int
    at: datetime


class SpendOut(BaseModel):
    seq: int
    points: int = Field(description="a charge, or a refund when negative")
    spent: int = Field(description="the running total spent")
    redemption_id: str | None = None
    item_id: str | None = None
    name: str | None = None
    at: datetime | None = None
    refund: bool = False


class MySuggestionOut(BaseModel):
    suggestion_id: str
    title: str
    description: str | None
    status: str
    suggested_at: datetime
    votes: int
    item_id: str | None = None
    decided_at: datetime | None = None


class MyVoteOut(BaseModel):
    suggestion_id: str
    title: str | None = Field(description="the suggestion's title, if it is still there")
    voted_at: datetime


class MyRewardsRecords(BaseModel):
    points: Balance
    standing: StandingOut
    badges: list[BadgeOut]
    challenges: list[ChallengeProgress]
    redemptions: list[RedemptionOut]
    spends: list[SpendOut]
    leaderboard_visibility: LeaderboardVisibility
    reward_suggestions: list[MySuggestionOut] = Field(
        default_factory=list, description="the rewards the caller suggested"
    )
    reward_votes: list[MyVoteOut] = Field(
        default_factory=list, description="the suggestions the caller voted for"
    )
    directory: DirectoryEntry | None = Field(
        None, description="what rewards' copy of HR's directory holds of the caller"
    )


class MyRewardsExport(BaseModel):
    employee_id: str
    ledger: list[LedgerEntry] = Field(description="every award and reversal, newest first")
    records: MyRewardsRecords | None = Field(
        description="the caller's other records; on the first page only (no cursor)"
    )
    next_cursor: str | None


def _ledger_position(cursor: str | None) -> tuple[datetime, str] | None:
    position = decode_cursor(cursor)
    if position is None:
        return None
    try:
        return datetime.fromisoformat(position["at"]), str(position["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Problem(400, "Invalid cursor", "cursor: not a cursor this API returned") from exc


def _my_records(
    user: Principal, found: handlers.MyRewards, ideas_of: ideas.MySuggestions
) -> MyRewardsRecords:
    record = found.standing
    badges = [
        BadgeOut(badge=b, name=v.name, earned_at=v.earned_at)
        for b, v in sorted((record.badges if record is not None else {}).items())
    ]
    badges.extend(
        BadgeOut.model_validate(d, from_attributes=True)
        for d in sorted(found.month_badges or [], key=lambda d: d.month)
    )
    profile = found.profile or LeaderboardChoice()
    return MyRewardsRecords(
        points=Balance(**(found.balance or {})),
        standing=_standing_out(record),
        badges=badges,
        challenges=[_progress_out(c) for c in found.challenges or []],
        redemptions=[RedemptionOut(**r) for r in found.redemptions or []],
        spends=[SpendOut.model_validate(s, from_attributes=True) for s in found.spends or []],
        leaderboard_visibility=LeaderboardVisibility(hidden=profile.hidden, opt_in=profile.opt_in),
        reward_suggestions=[
            MySuggestionOut(
                suggestion_id=s.suggestion_id,
                title=s.title,
                description=s.description,
                status=s.status.value,
                suggested_at=s.suggested_at,
                votes=s.votes,
                item_id=s.item_id,
                decided_at=s.decided_at,
            )
            for s in ideas_of.suggestions
        ],
        reward_votes=[MyVoteOut(**v) for v in ideas_of.votes],
    )


def _standing_out(record: StandingRecord | None) -> StandingOut:
    if record is None:
        return StandingOut()
    standing = record.standing
    return StandingOut(
        earned=standing.earned,
        month_key=record.month_key,
        month_points=standing.month_points,
        week_key=record.week_key,
        week_points=standing.week_points,
        shares=standing.shares,
        streak=standing.streak,
        streak_week=standing.streak_week,
        daily_use={
            day: DayUse(total=use.total, per_action=dict(use.per_action))
            for day, use in sorted(standing.days.items())
        },
        groups=list(record.groups),
        department=record.department,
        location=record.location,
        opted_out=record.opted_out,
    )


def _progress_out(found: handlers.ChallengeProgress) -> ChallengeProgress:
    """Described as the tenant lists it; one no longer listed is shown bare."""
    challenge = found.challenge
    if challenge is None:
        return ChallengeProgress(challenge_id=found.challenge_id, progress=found.progress)
    return ChallengeProgress(
        challenge_id=challenge.challenge_id,
        name=challenge.name,
        action=challenge.action.value,
        target=challenge.target,
        starts_at=challenge.starts_at,
        ends_at=challenge.ends_at,
        progress=found.progress,
    )


@me.get("/export", response_model=MyRewardsExport)
async def export_my_data(
    request: Request,
    user: CurrentUser,
    app: App,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> MyRewardsExport:
    """Everything rewards holds about the caller: the whole ledger, a page at a time."""
    after = _ledger_position(cursor)
    found = await handlers.my_rewards(app.services, user.tenant, user.employee_id, limit, after)
    following = None
    if len(found.ledger) == limit:
        last = found.ledger[-1]
        following = encode_cursor({"at": last.awarded_at.isoformat(), "id": last.award_id})
    records = None
    if after is None:
        records = _my_records(
            user, found, await ideas.of_person(app.services, user.tenant, user.employee_id)
        )
        records.directory = await entry_of(request, user)
    return MyRewardsExport(
        employee_id=user.employee_id,
        ledger=[_entry(e) for e in found.ledger],
        records=records,
        next_cursor=following,
    )


# -- leaderboards --------------------------------------------------------------------------


class LeaderboardRow(BaseModel):
    rank: int = Field(description="ties share the better rank")
    employee_id: str
    points: int


class MyRank(LeaderboardRow):
    neighbours: list[LeaderboardRow] = Field(description="the rows around the caller's, theirs too")


class Leaderboard(BaseModel):
    period: Period
    scope: Scope
    size: int = Field(description="people on the board")
    top: list[LeaderboardRow]
    me: MyRank | None = Field(description="the caller's row; null when not on the board")


@boards.get("", response_model=Leaderboard)
async def leaderboard(
    user: CurrentUser,
    app: App,
    period: Period = "all",
    scope: Scope = "tenant",
    scope_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    neighbours: Annotated[int, Query(ge=0, le=20)] = 2,
) -> dict[str, Any]:
    """Top N of a board, plus the caller's own rank and neighbours."""
    board = board_of(scope, scope_id, user.location, user.groups)
    return await app.leaderboards.query(
        user.tenant, user.employee_id, period, scope, board, limit, neighbours
    )


# -- rules ---------------------------------------------------------------------------------


class MultiplierIn(BaseModel):
    factor: float = Field(gt=0, le=100)
    campaign_id: str | None = None
    content_kind: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


# Bounds of what admins set, far above any real program and far below the 8-byte integers
# MongoDB stores: a larger number is a 422 naming its field, not a failed write.
MAX_ACTION_POINTS = 100_000
MAX_DAY_POINTS = 1_000_000


class RulesIn(BaseModel):
    points: dict[Action, Annotated[int, Field(ge=0, le=MAX_ACTION_POINTS)]]
    daily_caps: dict[Action, Annotated[int, Field(ge=0, le=MAX_ACTION_POINTS)]] = Field(
        default_factory=dict, description="points per action and UTC day, at most 100,000"
    )
    daily_max: int | None = Field(
        None, ge=0, le=MAX_DAY_POINTS, description="points per UTC day, at most 1,000,000"
    )
    multipliers: list[MultiplierIn] = Field(default_factory=list, max_length=50)
    effective_from: datetime | None = Field(
        None, description="when the version takes over; never in the past (default: now)"
    )


def _rules_of(body: RulesIn) -> dict[str, Any]:
    """The rules a request proposes, as the use cases take them."""
    return {
        "points": {k.value: v for k, v in body.points.items()},
        "daily_caps": {k.value: v for k, v in body.daily_caps.items()},
        "daily_max": body.daily_max,
        "multipliers": [m.model_dump() for m in body.multipliers],
    }


class MultiplierOut(BaseModel):
    factor: float
    campaign_id: str | None = None
    content_kind: str | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None


class RulesOut(BaseModel):
    version: int
    effective_from: Timestamp
    points: dict[str, int] = Field(description="points per action")
    daily_caps: dict[str, int] = Field(default_factory=dict, description="per action and UTC day")
    daily_max: int | None = Field(None, description="points per UTC day")
    multipliers: list[MultiplierOut] = Field(default_factory=list)
    created_by: str | None = Field(None, description="the admin; absent on the defaults")


class RuleVersions(BaseModel):
    versions: list[RulesOut] = Field(description="oldest first; the defaults are version 1")


@rules.get("", response_model=RuleVersions, response_model_exclude_unset=True)
async def list_rules(user: CurrentUser, app: App) -> dict[str, Any]:
    """Every version of the tenant's point rules, oldest first."""
    versions = await rule_versions.rule_versions(app.services, user.tenant)
    return {"versions": [convert.ruleset_doc(v) for v in versions]}


@rules.post("", status_code=201, response_model=RulesOut, response_model_exclude_unset=True)
async def add_rules(body: RulesIn, user: Admin, app: App) -> dict[str, Any]:
    """Publish a new version of the rules; what was earned before stays as it was."""
    version = await rule_versions.add_rule_version(
        app.services, user.tenant, _rules_of(body), body.effective_from, user.employee_id
    )
    return convert.ruleset_doc(version)


class SimulationIn(BaseModel):
    rules: RulesIn
    start: datetime | None = None
    end: datetime | None = None

    @model_validator(mode="after")
    def _window(self) -> SimulationIn:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PointsChange(BaseModel):
    employee_id: str
    current: int = Field(description="points under the rules in force")
    proposed: int = Field(description="points under the proposed rules")


class Simulation(BaseModel):
    start: Timestamp
    end: Timestamp
    activities: int = Field(description="activities replayed")
    current_total: int
    proposed_total: int
    employees: int
    biggest_changes: list[PointsChange] = Field(description="at most 20, biggest change first")


@rules.post("/simulate", response_model=Simulation)
async def simulate(body: SimulationIn, user: Admin, app: App) -> dict[str, Any]:
    """What the proposed rules would have given over a past window (default: last 30 days)."""
    found = await rule_versions.simulate(
        app.services, user.tenant, _rules_of(body.rules), body.start, body.end
    )
    return asdict(found)


# -- administration --------------------------------------------------------------------------


class LeaderboardSettings(BaseModel):
    opt_in: bool = False
    executive_groups: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list
    )


@admin.get("/settings/leaderboards", response_model=LeaderboardSettings)
async def get_leaderboard_settings(user: Admin, app: App) -> LeaderboardSettings:
    """Whether leaderboards are opt-in, and the groups ranked on the executives' board."""
    config = await app.services.repo.tenant(user.tenant)
    return LeaderboardSettings(
        opt_in=config.leaderboard_opt_in, executive_groups=list(config.executive_groups)
    )


@admin.put("/settings/leaderboards", response_model=LeaderboardSettings)
async def leaderboard_settings(
    body: LeaderboardSettings, user: Admin, app: App
) -> LeaderboardSettings:
    """Make leaderboards opt-in or not, and name the groups ranked on the executives' board."""
    await app.services.repo.set_leaderboards(user.tenant, body.opt_in, body.executive_groups)
    app.leaderboards.forget(user.tenant)
    return body


class ChallengeIn(BaseModel):
    challenge_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    action: Action
    target: int = Field(ge=1, le=100_000)
    starts_at: datetime
    ends_at: datetime
    content_kind: str | None = None
    bonus: int = Field(0, ge=0, le=100_000)

    @model_validator(mode="after")
    def _window(self) -> ChallengeIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


@admin.post("/challenges", status_code=201, response_model=ChallengeOut)
async def add_challenge(body: ChallengeIn, user: Admin, app: App) -> dict[str, Any]:
    """Start a time-boxed challenge, e.g. share 3 job posts this month; 409 if its id is taken."""
    challenge = Challenge(
        challenge_id=body.challenge_id,
        name=body.name,
        action=body.action,
        target=body.target,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        content_kind=body.content_kind,
        bonus=body.bonus,
        created_at=datetime.now(UTC),
    )
    await handlers.add_challenge(app.services, user.tenant, challenge)
    return convert.challenge_doc(challenge)


class ClawbackIn(BaseModel):
    reason: str = Field(min_length=3, max_length=400)


class ClawbackOut(BaseModel):
    award_id: str = Field(description="the reversal's own ledger entry")
    points: int = Field(description="negative: the points taken back")
    reason: str


@admin.post("/awards/{award_id}/clawback", status_code=201, response_model=ClawbackOut)
async def clawback(award_id: str, body: ClawbackIn, user: Admin, app: App) -> dict[str, Any]:
    """Reverse an award found fraudulent; emits a negative PointsAwarded."""
    entry = await handlers.claw_back(
        app.services, user.tenant, award_id, body.reason, user.employee_id
    )
    return {"award_id": entry.award_id, "points": entry.points, "reason": entry.reason}


# -- catalog and redemptions -----------------------------------------------------------------


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=1, le=10_000_000)
    stock: int = Field(ge=0, le=10_000_000)


class ItemOut(BaseModel):
    item_id: str
    name: str
    price: int
    stock: int = Field(description="units left to sell")


class Catalog(BaseModel):
    items: list[ItemOut] = Field(description="by name")


@shop.put("/catalog/{item_id}", response_model=ItemOut)
async def put_item(item_id: str, body: ItemIn, user: Admin, app: App) -> dict[str, Any]:
    """Create or replace a catalog item with its price and stock."""
    await handlers.save_item(app.services, user.tenant, item_id, body.model_dump())
    return {"item_id": item_id, **body.model_dump()}


@shop.get("/catalog", response_model=Catalog)
async def catalog(user: CurrentUser, app: App) -> dict[str, Any]:
    """The tenant's reward items."""
    items = await app.services.repo.items(user.tenant)
    return {
        "items": [
            {
                "item_id": i.item_id,
                "name": i.name,
                "price": i.price,
                "stock": await handlers.stock_left(app.services, user.tenant, i),
            }
            for i in items
        ]
    }


class RedemptionStatus(StrEnum):
    TO_FULFIL = "to_fulfil"
    FULFILLED = "fulfilled"


class TenantRedemptionOut(BaseModel):
    redemption_id: str
    employee_id: str
    item_id: str
    name: str = Field(description="the item's name when redeemed")
    points: int
    at: Timestamp
    status: RedemptionStatus
    fulfilled_at: Timestamp | None
    fulfilled_by: str | None


class TenantRedemptions(BaseModel):
    redemptions: list[TenantRedemptionOut] = Field(description="newest first")


@admin.get("/admin/redemptions", response_model=TenantRedemptions)
async def tenant_redemptions(
    user: Admin, app: App, status: RedemptionStatus | None = None
) -> dict[str, Any]:
    """Every redemption of the tenant, newest first, with its status (`to_fulfil` or
    `fulfilled`, who marked it and when); `status` keeps one of them."""
    found = await handlers.tenant_redemptions(app.services, user.tenant)
    return {"redemptions": [r for r in found if status is None or r["status"] == status]}


@admin.post("/admin/redemptions/{redemption_id}/fulfil", response_model=TenantRedemptionOut)
async def fulfil_redemption(
    redemption_id: Annotated[str, Path(min_length=1, max_length=200)], user: Admin, app: App
) -> dict[str, Any]:
    """Mark a redemption as handed over. Idempotent: marking it again answers the first
    mark (who, when), unchanged."""
    return await handlers.fulfil(app.services, user.tenant, redemption_id, user.employee_id)


class RedemptionIn(BaseModel):
    item_id: str = Field(min_length=1, max_length=200)


@shop.post(
    "/redemptions",
    status_code=201,
    response_model=RedeemedOut,
    responses={404: {"description": "No such item in the tenant's catalog"}},
)
async def redeem(body: RedemptionIn, user: CurrentUser, app: App) -> dict[str, Any]:
    """Spend points on an item; 409 when out of stock or the balance does not cover it."""
    return await handlers.redeem(app.services, user.tenant, user.employee_id, body.item_id)
