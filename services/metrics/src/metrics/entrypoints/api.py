"""HTTP API of metrics: figures, breakdowns, series, funnel, EMV, goals, report, CSV."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.errors import Problem
from chassis.ids import decode_cursor, encode_cursor
from contracts import ContentKind, Network
from metrics.domain import moments as mom
from metrics.domain import program, retention
from metrics.domain.cells import cell
from metrics.domain.figures import Prices, previous_period
from metrics.domain.period import asked_period
from metrics.domain.wins import Decision
from metrics.service_layer import handlers
from metrics.service_layer.reading import GOAL_METRICS, Figures, Slice


async def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]
Manager = Annotated[Principal, Depends(require_roles("curator", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]


class Dimension(StrEnum):
    CONTENT = "content"
    ADVOCATE = "advocate"
    GROUP = "group"
    NETWORK = "network"
    CAMPAIGN = "campaign"
    LOCATION = "location"
    TOPIC = "topic"


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Table(StrEnum):
    FIGURES = "figures"
    SERIES = "series"
    CONTENT = "content"
    ADVOCATES = "advocates"
    GROUPS = "groups"
    NETWORKS = "networks"
    CAMPAIGNS = "campaigns"
    LOCATIONS = "locations"
    TOPICS = "topics"
    FUNNEL = "funnel"
    GOALS = "goals"


TABLE_DIMENSIONS = {
    Table.CONTENT: Dimension.CONTENT,
    Table.ADVOCATES: Dimension.ADVOCATE,
    Table.GROUPS: Dimension.GROUP,
    Table.NETWORKS: Dimension.NETWORK,
    Table.CAMPAIGNS: Dimension.CAMPAIGN,
    Table.LOCATIONS: Dimension.LOCATION,
    Table.TOPICS: Dimension.TOPIC,
}

Identifier = Annotated[str, Field(min_length=1, max_length=200)]


async def _slice(
    services: Services,
    start: Annotated[date | None, Query(description="first day (UTC), inclusive")] = None,
    end: Annotated[date | None, Query(description="last day (UTC), inclusive")] = None,
    group: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    network: Network | None = None,
    campaign: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    content: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    kind: ContentKind | None = None,
    leaders_group: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="the leaders' group (the share service's setting): adds their "
            "participation to the figures",
        ),
    ] = None,
) -> Slice:
    first, last = asked_period(services.today(), start, end)
    return Slice(
        first,
        last,
        group,
        network.value if network else None,
        campaign,
        content,
        kind.value if kind else None,
        leaders_group,
    )


Period = Annotated[Slice, Depends(_slice)]
Limit = Annotated[int, Query(ge=1, le=1000)]

router = APIRouter(prefix="/api/v1", tags=["figures"])


class Summary(BaseModel):
    tenant: str
    start: date | None
    end: date | None
    figures: dict[str, int]


@router.get("/summary", response_model=Summary)
async def summary(
    user: CurrentUser, services: Services, start: date | None = None, end: date | None = None
) -> Summary:
    """Program totals of the caller's tenant, optionally between two days (inclusive)."""
    figures = await handlers.summary(services, user.tenant, start, end)
    return Summary(
        tenant=user.tenant, start=start, end=end, figures={k: int(v) for k, v in figures.items()}
    )


# A number as it was counted or stored: 3 stays 3 and 3.0 stays 3.0 (a plain `float` field
# would write every integer as a decimal).
Number = int | float
FigureValues = Annotated[
    dict[str, Number | None],
    Field(
        description="figures by name: the counters of metrics.domain.facts.COUNTERS, the rates "
        "and totals built from them (see `formulas`), earned_media_value, the growth figures "
        "and, when asked for, the leaders'; null where a rate has nothing to divide by"
    ),
]


class PeriodOut(BaseModel):
    start: date = Field(description="first day (UTC), inclusive")
    end: date = Field(description="last day (UTC), inclusive")


class Comparison(BaseModel):
    tenant: str
    period: PeriodOut
    figures: FigureValues
    previous_period: PeriodOut = Field(description="the period of the same length just before")
    previous: FigureValues
    change: dict[str, float | None] = Field(
        description="relative change of every figure against the previous period (0.25 is "
        "+25 %); null where the previous value is zero or missing"
    )
    formulas: dict[str, str] = Field(description="how each derived figure is computed, by name")


class Row(BaseModel):
    """A row of figures: what it is about, then every figure by name."""

    model_config = ConfigDict(extra="allow")
    # The figures, by name as in `Comparison.figures`: open-ended, the names come from the
    # domain.
    __pydantic_extra__: dict[str, Number | None]


class BreakdownRow(Row):
    """The row's key is the breakdown's dimension: exactly one of the keys below."""

    content: str | None = None
    advocate: str | None = None
    group: str | None = None
    network: str | None = None
    campaign: str | None = None
    location: str | None = None
    topic: str | None = None
    title: str | None = Field(None, description="content rows only; empty when unknown")
    kind: str | None = Field(None, description="content rows only; empty when unknown")


class Breakdown(BaseModel):
    period: PeriodOut
    dimension: Dimension
    sort: str
    items: list[BreakdownRow] = Field(
        description="a key named after the dimension, then every figure by name (as in "
        "/figures); the top ones first"
    )


class SeriesRow(Row):
    period: str = Field(description="the day, ISO week (2026-W05), month (2026-01) or year")


class Series(BaseModel):
    period: PeriodOut
    granularity: Granularity
    items: list[SeriesRow] = Field(description="oldest first; every figure by name")


class FunnelRow(BaseModel):
    content: str
    title: str = Field(description="empty when unknown")
    shares: Number
    reach: Number
    clicks: Number
    unique_clicks: Number
    conversions: Number = Field(description="applications")
    click_through_rate: float | None
    conversion_rate: float | None


class Funnel(BaseModel):
    period: PeriodOut
    items: list[FunnelRow] = Field(description="most conversions first")


class ReachTerm(BaseModel):
    network: str
    reach: Number
    cpm: Number
    value: float


class ClickTerm(BaseModel):
    clicks: Number
    cpc: Number
    value: Number


class EngagementTerm(BaseModel):
    engagements: Number = Field(description="reactions + comments + reshares")
    price: Number
    value: Number


class EmvTerms(BaseModel):
    reach: list[ReachTerm] = Field(description="per network with a reach and a price")
    clicks: ClickTerm
    engagements: EngagementTerm


class EarnedMediaValue(BaseModel):
    period: PeriodOut
    currency: str
    value: float
    formula: str
    computation: str = Field(description="the formula with the period's numbers in it")
    terms: EmvTerms


class GoalFiltersOut(BaseModel):
    """Only the filters the goal was set with are present."""

    group: str | None = None
    network: str | None = None
    campaign: str | None = None
    content: str | None = None
    kind: str | None = None


class GoalOut(BaseModel):
    id: str
    name: str
    metric: str
    start: date
    end: date
    filters: GoalFiltersOut
    value: Number = Field(description="the metric so far")
    target: Number
    progress: float | None = Field(description="value / target")
    expected_by_now: float = Field(description="the value on pace for the target, today")
    on_track: bool
    achieved: bool


class Goals(BaseModel):
    items: list[GoalOut]


class Report(Comparison):
    earned_media_value: EarnedMediaValue
    top_content: list[BreakdownRow]
    top_advocates: list[BreakdownRow]
    top_networks: list[BreakdownRow]
    recruiting_funnel: list[FunnelRow]
    goals: list[GoalOut]
    highlights: list[str] = Field(description="sentences to paste into a report")


@router.get("/figures", response_model=Comparison)
async def figures(user: Manager, services: Services, where: Period) -> dict[str, Any]:
    """Every figure of a period, beside the previous period of the same length."""
    return await (await Figures.open(services, user.tenant)).compare(where)


# Fields a row leaves out stay out, not null: `response_model_exclude_unset=True`.
@router.get("/breakdown/{dimension}", response_model=Breakdown, response_model_exclude_unset=True)
async def breakdown(
    user: Manager,
    services: Services,
    dimension: Dimension,
    where: Period,
    sort: str = "shares",
    limit: Limit = 50,
) -> dict[str, Any]:
    """Figures per content item, advocate, group, network, campaign, location (the sharer's)
    or topic (of the shared item); the top ones first."""
    rows = await (await Figures.open(services, user.tenant)).breakdown(
        where, dimension.value, sort, limit
    )
    return {"period": where.label(), "dimension": dimension.value, "sort": sort, "items": rows}


@router.get("/series", response_model=Series)
async def series(
    user: Manager, services: Services, where: Period, granularity: Granularity = Granularity.DAY
) -> dict[str, Any]:
    """Figures per day, week (ISO), month or year."""
    rows = await (await Figures.open(services, user.tenant)).series(where, granularity.value)
    return {"period": where.label(), "granularity": granularity.value, "items": rows}


@router.get("/funnel", response_model=Funnel)
async def funnel(
    user: Manager,
    services: Services,
    where: Period,
    limit: Annotated[
        int | None, Query(ge=1, le=1000, description="the first jobs only (most applications)")
    ] = None,
) -> dict[str, Any]:
    """The recruiting funnel of every job posting: shares, reach, clicks, applications;
    the jobs with the most applications first."""
    rows = await (await Figures.open(services, user.tenant)).funnel(where)
    return {"period": where.label(), "items": rows[:limit] if limit else rows}


@router.get("/emv", response_model=EarnedMediaValue)
async def emv(user: Manager, services: Services, where: Period) -> dict[str, Any]:
    """Earned media value of a period, with its formula and every term."""
    return await (await Figures.open(services, user.tenant)).emv(where)


class Part(StrEnum):
    FIGURES = "figures"
    EMV = "emv"
    SERIES = "series"
    PREVIOUS_SERIES = "previous_series"
    FUNNEL = "funnel"
    GOALS = "goals"
    BREAKDOWNS = "breakdowns"


class Dashboard(BaseModel):
    """The parts asked for (every one by default); the others are left out."""

    figures: Comparison | None = Field(None, description="as /figures answers")
    emv: EarnedMediaValue | None = Field(None, description="as /emv answers")
    series: Series | None = Field(None, description="as /series answers")
    previous_series: Series | None = Field(None, description="/series for the previous period")
    funnel: Funnel | None = Field(None, description="the first `limit` jobs of /funnel")
    goals: Goals | None = Field(None, description="as /goals answers")
    breakdowns: dict[Dimension, Breakdown] | None = Field(
        None,
        description="/breakdown for every dimension, top `limit` rows by shares "
        "(`advocate_limit` advocates)",
    )


@router.get("/dashboard", response_model=Dashboard, response_model_exclude_unset=True)
async def dashboard(
    user: Manager,
    services: Services,
    where: Period,
    part: Annotated[
        list[Part] | None, Query(description="the parts to answer (repeat it); all by default")
    ] = None,
    granularity: Granularity = Granularity.DAY,
    limit: Annotated[int, Query(ge=1, le=100, description="rows per breakdown and jobs")] = 10,
    advocate_limit: Annotated[int, Query(ge=1, le=1000, description="advocates' rows")] = 50,
) -> dict[str, Any]:
    """What an analytics page shows for a slice, in one answer: the figures beside the
    previous period, EMV, the series of both periods, the funnel's top jobs, the goals and
    the top rows of every breakdown. The same numbers as the calls it stands for."""
    reading = await Figures.open(services, user.tenant)
    # Only the figures count the leaders: the other parts are kept as their own calls keep them.
    plain = replace(where, leaders=None)
    before = plain.shifted(*previous_period(where.start, where.end))
    label, sort = where.label(), "shares"

    async def breakdowns() -> dict[Dimension, dict[str, Any]]:
        out = {}
        for dimension in Dimension:
            rows = advocate_limit if dimension is Dimension.ADVOCATE else limit
            items = await reading.breakdown(plain, dimension.value, sort, rows)
            out[dimension] = {
                "period": label,
                "dimension": dimension.value,
                "sort": sort,
                "items": items,
            }
        return out

    async def series(of: Slice) -> dict[str, Any]:
        items = await reading.series(of, granularity.value)
        return {"period": of.label(), "granularity": granularity.value, "items": items}

    async def funnel() -> dict[str, Any]:
        return {"period": label, "items": (await reading.funnel(plain))[:limit]}

    async def goals() -> dict[str, Any]:
        return {"items": await reading.goals()}

    parts: dict[Part, Callable[[], Awaitable[Any]]] = {
        Part.FIGURES: lambda: reading.compare(where),
        Part.EMV: lambda: reading.emv(plain),
        Part.SERIES: lambda: series(plain),
        Part.PREVIOUS_SERIES: lambda: series(before),
        Part.FUNNEL: funnel,
        Part.GOALS: goals,
        Part.BREAKDOWNS: breakdowns,
    }
    return {name.value: await parts[name]() for name in (part or Part)}


@router.get("/report", response_model=Report, response_model_exclude_unset=True)
async def report(user: Manager, services: Services, where: Period) -> dict[str, Any]:
    """Program report: the period's results, trends, top performers, funnel and goals."""
    return await (await Figures.open(services, user.tenant)).report(where)


# -- my data ---------------------------------------------------------------------------


class FactOut(BaseModel):
    id: str = Field(description="the event the fact was made from: `<event>:<event id>`")
    type: str
    time: datetime
    day: str
    content: str | None = None
    network: str | None = None
    campaign: str | None = None
    kind: str | None = None
    groups: list[str] = Field(default_factory=list)
    department: str | None = None
    location: str | None = None
    share_location: str | None = None
    topics: list[str] = Field(default_factory=list)
    status: str | None = None
    badge: str | None = None
    version: int | None = None
    counters: dict[str, float] = Field(default_factory=dict)


class MyMetricsExport(BaseModel):
    employee_id: str
    erased: bool = Field(description="erased on request: nothing here names the caller any more")
    facts: list[FactOut] = Field(description="facts naming the caller, one per event")
    totals: dict[str, float] | None = Field(
        description="the caller's counters summed over all their facts; first page only"
    )
    next_cursor: str | None


@router.get("/me/export", response_model=MyMetricsExport, tags=["me"])
async def export_my_data(
    user: CurrentUser,
    services: Services,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> MyMetricsExport:
    """Everything metrics holds about the caller: the facts naming them, a page at a time."""
    position = decode_cursor(cursor)
    after = position.get("after") if position else None
    if position is not None and not isinstance(after, str):
        raise Problem(400, "Invalid cursor", "cursor: not a cursor this API returned")
    found = await handlers.my_facts(services, user.tenant, user.employee_id, after, limit)
    following = found.facts[-1].id if len(found.facts) == limit else None
    return MyMetricsExport(
        employee_id=user.employee_id,
        erased=found.erased,
        facts=[FactOut.model_validate(fact, from_attributes=True) for fact in found.facts],
        totals=found.totals,
        next_cursor=encode_cursor({"after": following}) if following else None,
    )


# -- settings --------------------------------------------------------------------------


class PriceTable(BaseModel):
    currency: Annotated[str, Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$")] = "EUR"
    cpm: dict[Network, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="cost per thousand of potential reach, per network"
    )
    cpc: Annotated[float, Field(ge=0, description="cost per click")] = 0.0
    per_engagement: Annotated[
        float, Field(ge=0, description="price of a reaction, comment or reshare")
    ] = 0.0


class ProgramSettings(BaseModel):
    prices: PriceTable = Field(default_factory=PriceTable)
    # Ten million: more than the largest employer has, and well inside what storage takes.
    employees: Annotated[int, Field(ge=1, le=10_000_000)] | None = Field(
        default=None, description="all employees of the tenant, when known, at most 10,000,000"
    )
    storytellers: list[Identifier] = Field(
        default_factory=list,
        max_length=20,
        description="employees appointed to tell the program's wins, besides its team",
    )
    time_zone: str = Field(
        default="UTC",
        description="the IANA time zone most of the audience lives in, e.g. Europe/Oslo: "
        "engagement by hour is counted in it",
    )
    detail_retention_days: Annotated[int, Field(ge=retention.MIN_DAYS, le=retention.MAX_DAYS)] = (
        Field(
            default=retention.DEFAULT_DAYS,
            description=f"days each engagement (a click, a reaction, ...) is kept in detail, "
            f"{retention.MIN_DAYS} to {retention.MAX_DAYS}; older engagement is kept summed per "
            "quarter hour, so every figure stays, and older engagement events are not counted",
        )
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError("not an IANA time zone, e.g. Europe/Oslo")
        return value


@functools.cache
def _zones() -> set[str]:
    return available_timezones() | {"UTC"}


@router.get("/settings", response_model=ProgramSettings)
async def get_settings(user: Manager, services: Services) -> ProgramSettings:
    """The tenant's price table and head count."""
    stored = await services.repo.tenant_settings(user.tenant)
    return ProgramSettings.model_validate(stored, from_attributes=True)


@router.put("/settings", response_model=ProgramSettings)
async def put_settings(user: Admin, services: Services, body: ProgramSettings) -> ProgramSettings:
    """Set the tenant's prices, head count, storytellers, time zone and detail retention."""
    values = body.model_dump(mode="json")
    settings = program.Settings(
        prices=Prices(**values["prices"]),
        employees=values["employees"],
        storytellers=tuple(values["storytellers"]),
        time_zone=values["time_zone"],
        detail_retention_days=values["detail_retention_days"],
    )
    await services.repo.save_settings(user.tenant, settings)
    handlers.forget_patterns(services, user.tenant)
    return body


# -- the right moment --------------------------------------------------------------------


class Slot(BaseModel):
    weekday: int = Field(description="0 is Monday")
    hour: int = Field(description="0 to 23, in the audience's time zone")
    share: float = Field(description="the slot's part of the network's engagement, 0 to 1")


class NetworkMoments(BaseModel):
    network: str = Field(description="a network, or 'all'")
    engagements: int
    hours: list[list[int]] = Field(description="engagement per weekday (Monday first) and hour")
    best: list[Slot] = Field(description="the busiest hours; empty until there is enough data")
    next: list[datetime] = Field(description="when each of the best hours next begins")


class Moments(BaseModel):
    time_zone: str
    weeks: int
    enough: int = Field(description="engagements needed before a time is suggested")
    networks: list[NetworkMoments] = Field(description="'all' first, then the most engaged")


@router.get("/moments", response_model=Moments)
async def moments(
    user: CurrentUser,
    services: Services,
    network: Network | None = None,
    weeks: Annotated[int, Query(ge=1, le=104)] = handlers.MOMENT_WEEKS,
) -> Moments:
    """When the tenant's audience engages, by weekday and hour in its time zone, and the
    next times to suggest to someone scheduling a share (per network, or all)."""
    zone, patterns = await handlers.patterns(services, user.tenant, weeks)
    now = datetime.now(ZoneInfo("UTC"))
    if network is None:
        others = (name for name in patterns if name != mom.ALL)
        names = [mom.ALL, *sorted(others, key=lambda name: (-patterns[name].total, name))]
    else:
        names = [network.value]
    out = []
    for name in names:
        pattern = patterns.get(name) or mom.Pattern()
        best = pattern.best()
        out.append(
            NetworkMoments(
                network=name,
                engagements=pattern.total,
                hours=pattern.counts,
                best=[Slot(weekday=d, hour=h, share=pattern.share_of(d, h)) for d, h in best],
                next=mom.next_times(best, now, zone),
            )
        )
    return Moments(time_zone=str(zone), weeks=weeks, enough=mom.ENOUGH, networks=out)


# -- wins told back --------------------------------------------------------------------


class WinDraft(BaseModel):
    id: str
    milestone: str = Field(description="reach, shares or applications")
    values: dict[str, Any] = Field(description="the milestone's numbers, to word it with")


class WinDecided(BaseModel):
    id: str
    milestone: str
    values: dict[str, Any]
    status: str = Field(description="told or discarded")
    text: str | None = None
    decided_by: str
    decided_at: datetime


class Wins(BaseModel):
    drafts: list[WinDraft]
    decided: list[WinDecided]


class WinText(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=600)]

    @model_validator(mode="after")
    def _not_blank(self) -> WinText:
        if not self.text.strip():
            raise ValueError("text: must not be blank")
        return self


def _decided(decision: Decision) -> WinDecided:
    return WinDecided(
        id=decision.win_id,
        milestone=decision.milestone,
        values=decision.values,
        status=decision.status.value,
        text=decision.text,
        decided_by=decision.decided_by,
        decided_at=decision.decided_at,
    )


WinId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")]


@router.get("/wins", response_model=Wins)
async def list_wins(user: CurrentUser, services: Services) -> Wins:
    """The program's milestones worth telling (drafts), and the decisions taken: for the
    program team and its storytellers."""
    drafts, decided = await handlers.win_drafts(services, user)
    return Wins(
        drafts=[WinDraft(id=d.id, milestone=d.milestone, values=d.values) for d in drafts],
        decided=[_decided(decision) for decision in decided],
    )


@router.post("/wins/{win_id}/tell", response_model=WinDecided, status_code=201)
async def tell_win(
    user: CurrentUser, services: Services, win_id: WinId, body: WinText
) -> WinDecided:
    """Tell a drafted win in the storyteller's words: it reaches everyone's feed."""
    return _decided(await handlers.decide_win(services, user, win_id, body.text.strip()))


@router.post("/wins/{win_id}/discard", response_model=WinDecided)
async def discard_win(user: CurrentUser, services: Services, win_id: WinId) -> WinDecided:
    """Leave a drafted win untold; it is not drafted again."""
    return _decided(await handlers.decide_win(services, user, win_id, None))


# -- goals -----------------------------------------------------------------------------


class GoalFilters(BaseModel):
    group: Identifier | None = None
    network: Network | None = None
    campaign: Identifier | None = None
    content: Identifier | None = None
    kind: ContentKind | None = None


class Goal(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    metric: str = Field(description="a figure name, e.g. conversions or shares")
    target: Annotated[float, Field(gt=0)]
    start: date
    end: date
    filters: GoalFilters = Field(default_factory=GoalFilters)

    @model_validator(mode="after")
    def _valid(self) -> Goal:
        if self.metric not in GOAL_METRICS:
            raise ValueError(f"metric must be one of: {', '.join(GOAL_METRICS)}")
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


@router.put("/goals/{goal_id}", response_model=GoalOut, response_model_exclude_unset=True)
async def put_goal(
    user: Manager,
    services: Services,
    goal_id: Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")],
    body: Goal,
) -> dict[str, Any]:
    """Create or replace a program goal, e.g. 200 applications from advocacy this year."""
    values = body.model_dump(mode="json")
    goal = program.Goal(
        goal_id=goal_id,
        name=body.name,
        metric=body.metric,
        target=body.target,
        start=body.start,
        end=body.end,
        filters={k: v for k, v in values["filters"].items() if v is not None},
    )
    await services.repo.save_goal(user.tenant, goal)
    goals = await (await Figures.open(services, user.tenant)).goals()
    return next(g for g in goals if g["id"] == goal_id)


@router.get("/goals", response_model=Goals, response_model_exclude_unset=True)
async def list_goals(user: Manager, services: Services) -> dict[str, Any]:
    """Every program goal with its progress."""
    return {"items": await (await Figures.open(services, user.tenant)).goals()}


@router.delete("/goals/{goal_id}", status_code=204)
async def delete_goal(user: Manager, services: Services, goal_id: str) -> Response:
    """Remove a program goal."""
    await handlers.delete_goal(services, user.tenant, goal_id)
    return Response(status_code=204)


# -- CSV -------------------------------------------------------------------------------


@router.get(
    "/export/{table}.csv",
    response_class=Response,
    responses={
        200: {
            "description": "the table as CSV, a header row first",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def export(
    user: Manager,
    services: Services,
    table: Table,
    where: Period,
    granularity: Granularity = Granularity.DAY,
) -> Response:
    """Any table as CSV, with the same filters as its JSON endpoint."""
    view = await Figures.open(services, user.tenant)
    rows: list[dict[str, Any]]
    if table is Table.FIGURES:
        compared = await view.compare(where)
        rows = [
            {
                "figure": name,
                "value": value,
                "previous": compared["previous"].get(name),
                "change": compared["change"].get(name),
                "formula": compared["formulas"].get(name, ""),
            }
            for name, value in compared["figures"].items()
        ]
    elif table is Table.SERIES:
        rows = await view.series(where, granularity.value)
    elif table is Table.FUNNEL:
        rows = await view.funnel(where)
    elif table is Table.GOALS:
        rows = await view.goals()
    else:
        rows = await view.breakdown(where, TABLE_DIMENSIONS[table].value)
    filename = f"chorus-{table.value}-{where.start.isoformat()}-{where.end.isoformat()}.csv"
    return Response(
        _csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(name for name in row if name not in columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([cell(name) for name in columns])
    for row in rows:
        writer.writerow([cell(row.get(name)) for name in columns])
    return out.getvalue()
