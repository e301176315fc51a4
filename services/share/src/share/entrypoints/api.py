"""HTTP API of sharing: advocates, shares and their history, settings, engagement webhooks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    ValidationError,
)

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.directory import DirectoryEntry, entry_of
from chassis.errors import Problem
from chassis.ids import decode_cursor, encode_cursor
from chassis.limits import requires_headers
from chassis.openapi import problems
from contracts import EngagementKind, EngagementSource, Network, ShareMethod, retention
from contracts.link_domains import MAX_LINK_DOMAINS, normalise_domain
from share.domain.advocates import Advocate
from share.domain.buddies import BuddyRecords, Draft, Pair
from share.domain.clicks import advocate_cookie
from share.domain.connectors import CONNECTOR_ID, MAX_CONNECTORS, MAX_NAME_LENGTH, Connector
from share.domain.followers import FollowersMeasurement
from share.domain.links import share_intent, short_link
from share.domain.shares import Share
from share.domain.signatures import signature_problem
from share.entrypoints.redirect import ADVOCATE_COOKIE
from share.service_layer import handlers


async def _services(request: Request) -> handlers.Services:
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Curator = Annotated[Principal, Depends(require_roles("curator", "admin"))]


# -- advocates ------------------------------------------------------------------------


class EnrollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: Literal[True] = Field(description="explicit consent to join the program")
    guidelines_version: int | None = Field(
        None,
        ge=0,
        le=2**31 - 1,
        description="the guidelines version agreed to; the current one if omitted",
    )


class NetworkOut(BaseModel):
    audience_size: int
    connected_at: datetime
    direct_posting: bool = False


class AdvocateOut(BaseModel):
    employee_id: str
    status: str
    consent_at: datetime
    guidelines_version: int | None
    opted_out_at: datetime | None = None
    networks: dict[str, NetworkOut]
    leader: bool = Field(
        False,
        description="in the tenant's leaders' group: colleagues are shown the own posts "
        "this person shares",
    )


def _advocate_out(advocate: Advocate) -> AdvocateOut:
    return AdvocateOut(
        employee_id=advocate.employee_id,
        status=advocate.status.value,
        consent_at=advocate.consent_at,
        guidelines_version=advocate.guidelines_version,
        opted_out_at=advocate.opted_out_at,
        networks={
            k.value: NetworkOut.model_validate(v, from_attributes=True)
            for k, v in advocate.networks.items()
        },
    )


class ConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audience_size: int = Field(ge=0, le=1_000_000_000, description="followers or connections")
    access_token: str | None = Field(None, min_length=1, max_length=4000)
    author: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the member's id on the network, e.g. urn:li:person:<id>",
    )
    # At most ten years: a larger lifetime would put its expiry past the last date there is.
    expires_in: int | None = Field(
        None, ge=1, le=10 * 366 * 86400, description="token lifetime in seconds"
    )


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    erase: bool = False


advocates = APIRouter(prefix="/api/v1/advocates", tags=["advocates"])


@advocates.post(
    "/me",
    response_model=AdvocateOut,
    responses={201: {"description": "Joined now", "model": AdvocateOut}},
)
async def join(
    body: EnrollIn, user: CurrentUser, services: Services, response: Response
) -> AdvocateOut:
    """Join the advocacy program (opt-in, with consent)."""
    advocate, new = await handlers.enroll(services, user, body.guidelines_version)
    response.status_code = 201 if new else 200
    return _advocate_out(advocate)


@advocates.get(
    "/me", response_model=AdvocateOut, responses={404: {"description": "The caller never joined"}}
)
async def me(user: CurrentUser, services: Services) -> AdvocateOut:
    """The caller's membership of the advocacy program."""
    advocate, leader = await handlers.membership(services, user)
    out = _advocate_out(advocate)
    out.leader = leader
    return out


@advocates.put("/me/networks/{network}", response_model=AdvocateOut)
async def connect(
    network: Network, body: ConnectIn, user: CurrentUser, services: Services
) -> AdvocateOut:
    """Connect a network or update its audience size, optionally with a posting token."""
    credentials = handlers.posting_credentials(body.access_token, body.author)
    expires_at = services.clock() + timedelta(seconds=body.expires_in) if body.expires_in else None
    advocate = await handlers.connect_network(
        services, user, network, body.audience_size, credentials, expires_at
    )
    return _advocate_out(advocate)


@advocates.delete("/me/networks/{network}", response_model=AdvocateOut)
async def disconnect(network: Network, user: CurrentUser, services: Services) -> AdvocateOut:
    """Disconnect a network and forget its token."""
    return _advocate_out(await handlers.disconnect_network(services, user, network))


@advocates.post("/me/opt-out", response_model=AdvocateOut)
async def leave(body: OptOutIn, user: CurrentUser, services: Services) -> AdvocateOut:
    """Leave the program: shares stop and rankings no longer use the caller's data."""
    return _advocate_out(await handlers.opt_out(services, user, body.erase))


@advocates.post("/me/link-cookie", status_code=204)
async def link_cookie(user: CurrentUser, services: Services, response: Response) -> None:
    """Mark this browser as the caller's, so their own clicks on their links do not count."""
    response.set_cookie(
        ADVOCATE_COOKIE,
        advocate_cookie(services.link_secret, user.tenant, user.employee_id),
        max_age=365 * 24 * 3600,
        path="/l/",
        httponly=True,
        samesite="lax",
        secure=services.public_base_url.startswith("https://"),
    )


# -- shares ---------------------------------------------------------------------------


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_id: str | None = Field(None, min_length=1, max_length=200)
    network: Network
    text: str | None = Field(None, max_length=3000, description="the suggested text if omitted")
    url: HttpUrl | None = Field(None, description="the link of an own post (no content_id)")
    title: str | None = Field(None, max_length=300)
    method: Literal["intent", "api"] = "intent"
    scheduled_at: AwareDatetime | None = Field(
        None, description="post through the network's API at this time"
    )
    text_variant: int | None = Field(
        None,
        ge=0,
        le=9,
        description="the variant of the suggested text the person started from (see GET "
        "/api/v1/content/{content_id}/variant); its text if `text` is omitted",
    )
    draft_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the draft of this own post sent to the person's buddy (marked posted)",
    )


class IntentOut(BaseModel):
    url: str | None = Field(description="open this to share; null for Instagram")
    copy_text: str | None = None
    image_url: str | None = None


class ShareOut(BaseModel):
    id: str
    content_id: str | None
    employee_id: str
    network: str
    method: str
    status: str
    short_code: str
    tracked_url: str = Field(description="the short link, which counts clicks")
    target_url: str = Field(description="where the short link leads, with UTM parameters")
    text: str
    intent: IntentOut
    shared_at: datetime | None
    scheduled_at: datetime | None = None
    network_post_id: str | None = None
    engagement: dict[str, int] = Field(default_factory=dict)
    text_variant: int | None = None
    text_edited: bool | None = Field(None, description="whether the variant's text was changed")
    by_leader: bool = Field(False, description="shared by one of the tenant's leaders")
    interstitial: bool = Field(
        False,
        description="the short link shows a page saying where it leads instead of "
        "redirecting: an own post's link to a domain off the tenant's link domains",
    )


def _share_out(share: Share, base_url: str) -> ShareOut:
    link = short_link(base_url, share.short_code)
    intent = share_intent(
        share.network.value,
        link=link,
        text=share.text,
        title=share.title,
        image_url=share.image_url,
    )
    return ShareOut(
        id=share.id,
        content_id=share.content_id,
        employee_id=share.employee_id,
        network=share.network.value,
        method=share.method.value,
        status=share.status.value,
        short_code=share.short_code,
        tracked_url=link,
        target_url=share.target_url,
        text=share.text,
        intent=IntentOut(url=intent.url, copy_text=intent.copy_text, image_url=intent.image_url),
        shared_at=share.shared_at,
        scheduled_at=share.scheduled_at,
        network_post_id=share.network_post_id,
        engagement=dict(share.engagement),
        text_variant=share.text_variant,
        text_edited=share.text_edited,
        by_leader=share.by_leader,
        interstitial=share.content_id is None and not share.target_allowed,
    )


class SharePage(BaseModel):
    items: list[ShareOut]
    next_cursor: str | None


shares = APIRouter(prefix="/api/v1/shares", tags=["shares"])


@shares.post("", status_code=201, response_model=ShareOut, responses=problems(424, 429))
async def create_share(body: ShareIn, user: CurrentUser, services: Services) -> ShareOut:
    """Share a content item (or an own post) to one network, now or scheduled."""
    made = await handlers.share(
        services,
        user,
        handlers.ShareRequest(
            network=body.network,
            content_id=body.content_id,
            text=body.text,
            url=str(body.url) if body.url else None,
            title=body.title,
            method=ShareMethod(body.method),
            scheduled_at=body.scheduled_at,
            text_variant=body.text_variant,
            draft_id=body.draft_id,
        ),
    )
    return _share_out(made, services.public_base_url)


@shares.get("", response_model=SharePage)
async def list_shares(
    user: CurrentUser,
    services: Services,
    employee_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    content_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SharePage:
    """Share history, newest first, per advocate and/or content item, with engagement."""
    position = decode_cursor(cursor)
    before = str(position["before"]) if position and "before" in position else None
    found = await handlers.history(services, user, employee_id, content_id, before, limit)
    next_cursor = encode_cursor({"before": found[-1].id}) if len(found) == limit else None
    return SharePage(
        items=[_share_out(s, services.public_base_url) for s in found], next_cursor=next_cursor
    )


@shares.get("/{share_id}", response_model=ShareOut)
async def get_share(share_id: str, user: CurrentUser, services: Services) -> ShareOut:
    """One share of the caller's tenant."""
    found = await handlers.share_of(services, user, share_id)
    return _share_out(found, services.public_base_url)


# -- tenant settings ------------------------------------------------------------------


class SharingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    daily_share_cap: int = Field(ge=1, le=1000, description="shares per employee and UTC day")


settings = APIRouter(prefix="/api/v1/settings", tags=["settings"])


@settings.get("/sharing", response_model=SharingSettings)
async def get_settings(user: Admin, services: Services) -> SharingSettings:
    """The tenant's sharing settings."""
    found = await services.repo.settings(user.tenant)
    return SharingSettings(daily_share_cap=found.daily_share_cap or services.default_daily_cap)


@settings.put("/sharing", response_model=SharingSettings)
async def put_settings(body: SharingSettings, user: Admin, services: Services) -> SharingSettings:
    """Change the tenant's sharing settings."""
    saved = await services.repo.save_settings(user.tenant, body.model_dump())
    assert saved.daily_share_cap is not None
    return SharingSettings(daily_share_cap=saved.daily_share_cap)


class LeadersSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    leaders_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:@/-]{1,200}$")] | None = Field(
        description="the directory group whose members are the program's leaders: their own "
        "posts are shown to colleagues, and their shares say so; null for none"
    )


@settings.get("/leaders", response_model=LeadersSettings)
async def get_leaders(user: Curator, services: Services) -> LeadersSettings:
    """Which group the tenant's leaders are (the program team reads it for its figures)."""
    found = await services.repo.settings(user.tenant)
    return LeadersSettings(leaders_group=found.leaders_group)


@settings.put("/leaders", response_model=LeadersSettings)
async def put_leaders(body: LeadersSettings, user: Admin, services: Services) -> LeadersSettings:
    """Name the leaders' group, or none; shares from then on are stamped by it."""
    saved = await services.repo.save_settings(user.tenant, body.model_dump())
    return LeadersSettings(leaders_group=saved.leaders_group)


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detail_retention_days: int = Field(
        ge=retention.MIN_DAYS,
        le=retention.MAX_DAYS,
        description=f"days each engagement report is kept, {retention.MIN_DAYS} to "
        f"{retention.MAX_DAYS} ({retention.DEFAULT_DAYS} unless set): the same setting as "
        "metrics' detail retention. Older reports are deleted (the shares' engagement counts "
        "stay) and a report of an engagement older than that is refused",
    )


@settings.get("/retention", response_model=RetentionSettings)
async def get_retention(user: Admin, services: Services) -> RetentionSettings:
    """How long the tenant's engagement reports are kept."""
    return RetentionSettings(
        detail_retention_days=await handlers.retention_days(services, user.tenant)
    )


@settings.put("/retention", response_model=RetentionSettings)
async def put_retention(
    body: RetentionSettings, user: Admin, services: Services
) -> RetentionSettings:
    """Set how long engagement reports are kept (the web app sets it with metrics' own)."""
    days = await handlers.set_retention_days(services, user.tenant, body.detail_retention_days)
    return RetentionSettings(detail_retention_days=days)


def _domain(raw: str) -> str:
    domain = normalise_domain(raw)
    if domain is None:
        raise ValueError("not a domain name such as example.com (no scheme, path or port)")
    return domain


class LinkDomains(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domains: list[Annotated[str, Field(max_length=253), AfterValidator(_domain)]] = Field(
        max_length=MAX_LINK_DOMAINS,
        description="domains an own post's short link leads to straight away, each with its "
        "subdomains (IDN in their xn-- form); other links show a page saying where they lead "
        "first. Without a list of the tenant's own, the common networks' domains",
    )


@settings.get("/link-domains", response_model=LinkDomains)
async def get_link_domains(user: CurrentUser, services: Services) -> LinkDomains:
    """The domains own posts may lead to without a stop (every member may read them)."""
    return LinkDomains(domains=await handlers.link_domains(services, user.tenant))


@settings.put("/link-domains", response_model=LinkDomains)
async def put_link_domains(body: LinkDomains, user: Admin, services: Services) -> LinkDomains:
    """Replace the tenant's link domains; own posts shared from then on follow them."""
    return LinkDomains(domains=await handlers.set_link_domains(services, user.tenant, body.domains))


# The systems that report engagement (a network's API poller, an ATS, a CRM), each
# signing with a secret of its own; the secret is shown when made or rotated, never again.

ConnectorName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        # No control characters: the name is shown in the program team's pages and logs.
        pattern=r"^[^\x00-\x1f\x7f]+$",
    ),
]
ConnectorId = Annotated[str, Path(pattern=rf"^{CONNECTOR_ID.pattern}$")]


class ConnectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ConnectorName = Field(description="what the program team calls it, e.g. LinkedIn poller")


class ConnectorOut(BaseModel):
    id: str = Field(description="sent as X-Chorus-Connector with each report")
    name: str
    created_at: datetime
    rotated_at: datetime | None = None


class ConnectorWithSecret(ConnectorOut):
    secret: str = Field(
        description="the HMAC-SHA256 key of the connector's reports; shown only now"
    )


class ConnectorList(BaseModel):
    items: list[ConnectorOut]
    max_connectors: int = MAX_CONNECTORS


def _connector_out(connector: Connector) -> ConnectorOut:
    return ConnectorOut(
        id=connector.id,
        name=connector.name,
        created_at=connector.created_at,
        rotated_at=connector.rotated_at,
    )


def _with_secret(connector: Connector, secret: str) -> ConnectorWithSecret:
    return ConnectorWithSecret(**_connector_out(connector).model_dump(), secret=secret)


@settings.get("/connectors", response_model=ConnectorList)
async def list_connectors(user: Admin, services: Services) -> ConnectorList:
    """The tenant's engagement connectors, oldest first (without their secrets)."""
    found = await handlers.connectors(services, user.tenant)
    return ConnectorList(items=[_connector_out(c) for c in found])


@settings.post(
    "/connectors", status_code=201, response_model=ConnectorWithSecret, responses=problems(429)
)
async def add_connector(body: ConnectorIn, user: Admin, services: Services) -> ConnectorWithSecret:
    """Register a system that reports engagement; its secret is in this answer only."""
    return _with_secret(*await handlers.add_connector(services, user.tenant, body.name))


@settings.post("/connectors/{connector_id}/rotate", response_model=ConnectorWithSecret)
async def rotate_connector(
    connector_id: ConnectorId, user: Admin, services: Services
) -> ConnectorWithSecret:
    """A new secret for the connector; the previous one stops working at once."""
    return _with_secret(*await handlers.rotate_connector(services, user.tenant, connector_id))


@settings.delete("/connectors/{connector_id}", status_code=204)
async def delete_connector(connector_id: ConnectorId, user: Admin, services: Services) -> None:
    """Remove the connector; its reports are refused from then on."""
    await handlers.delete_connector(services, user.tenant, connector_id)


# -- engagement webhooks --------------------------------------------------------------


class EngagementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="the caller's id; makes it once")
    kind: Literal["reaction", "comment", "reshare", "impression", "conversion"]
    share_id: str | None = Field(None, min_length=1, max_length=200)
    short_code: str | None = Field(None, min_length=4, max_length=32)
    count: int = Field(1, ge=1, le=10_000_000)
    observed_at: AwareDatetime = Field(
        description="when it happened; an engagement older than the tenant's retention "
        "(GET /api/v1/settings/retention), or dated more than a day ahead, is refused with a "
        "422 naming observed_at"
    )
    source: Literal["webhook", "poll"] = "webhook"


class EngagementAck(BaseModel):
    id: str
    status: Literal["accepted", "duplicate", "ignored"]


engagements = APIRouter(prefix="/api/v1/engagements", tags=["engagements"])
SIGNATURE_HEADERS = {
    "X-Chorus-Tenant": "the tenant whose connector reports",
    "X-Chorus-Connector": "the connector's id (see /api/v1/settings/connectors)",
    "X-Chorus-Timestamp": "Unix time in seconds; refused beyond five minutes of skew",
    "X-Chorus-Signature": 'sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the '
    "connector's secret>",
}


@engagements.post(
    "",
    status_code=202,
    response_model=EngagementAck,
    openapi_extra={
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
            | {"description": about}
            for name, about in SIGNATURE_HEADERS.items()
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EngagementIn.model_json_schema()}},
        },
    },
)
@requires_headers(*SIGNATURE_HEADERS)
async def report_engagement(request: Request, services: Services) -> EngagementAck:
    """Receive an engagement report from one of a tenant's connectors, signed with its
    secret; it finds only that tenant's shares, and only those with a post (409 for a
    scheduled, cancelled or failed share), and only engagement within the tenant's
    retention (422 naming observed_at for an older one, or one dated more than a day ahead:
    its first report may be forgotten, so a repeat could not be told apart). An unknown
    tenant or connector is answered as a wrong signature."""
    # The chassis has refused a request without the signature headers, or with a body past
    # the default limit, before any of it was read; the signature is checked here.
    tenant = request.headers.get("x-chorus-tenant", "")
    key = await handlers.connector_key(
        services, tenant, request.headers.get("x-chorus-connector", "")
    )
    body = await request.body()
    if problem := signature_problem(
        key,
        request.headers.get("x-chorus-timestamp"),
        request.headers.get("x-chorus-signature"),
        body,
        services.clock().timestamp(),
    ):
        raise Problem(401, "Invalid signature", problem)
    try:
        report = EngagementIn.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from exc
    engagement_id, status = await handlers.ingest_engagement(
        services,
        tenant,
        handlers.EngagementReport(
            id=report.id,
            kind=EngagementKind(report.kind),
            share_id=report.share_id,
            short_code=report.short_code,
            count=report.count,
            observed_at=report.observed_at,
            source=EngagementSource(report.source),
        ),
    )
    return EngagementAck(id=engagement_id, status=status)


# -- my data -------------------------------------------------------------------------


class AdvocateRecordOut(AdvocateOut):
    groups: list[str] = Field(default_factory=list, description="as when last enrolled")
    location: str | None = None


class NetworkTokenOut(BaseModel):
    network: str
    author: str | None = Field(None, description="the caller's id on the network")
    expires_at: datetime | None = None


class DailyCountOut(BaseModel):
    day: str
    shares: int


class MyShareRecords(BaseModel):
    advocate: AdvocateRecordOut | None = Field(description="null if never joined")
    acknowledged_guidelines_version: int | None
    network_tokens: list[NetworkTokenOut] = Field(
        description="posting tokens kept for the caller (the tokens themselves never leave)"
    )
    daily_share_counts: list[DailyCountOut] = Field(description="the daily cap's recent days")
    buddies: dict[str, Any] | None = Field(
        None,
        description="buddy pairs: settings, pairs, drafts with their feedback, comments and "
        "cheers given",
    )
    directory: DirectoryEntry | None = Field(
        None, description="what sharing's copy of HR's directory holds of the caller"
    )


class MyShareOut(ShareOut):
    title: str = ""
    summary: str = ""
    image_url: str | None = None
    content_kind: str | None = None
    campaign_id: str | None = None
    audience_size: int = 0
    employee_groups: list[str] = Field(default_factory=list)
    viewer: dict[str, Any] = Field(default_factory=dict, description="the caller as they shared")
    created_at: datetime | None = None
    reason: str | None = Field(None, description="why a scheduled share was not posted")
    stopped: bool = Field(False, description="its clicks no longer count (opted out)")


class MyShareExport(BaseModel):
    employee_id: str
    shares: list[MyShareOut] = Field(description="the caller's shares, newest first")
    records: MyShareRecords | None = Field(
        description="the caller's other records; on the first page only (no cursor)"
    )
    next_cursor: str | None


def _my_share_out(share: Share, base_url: str) -> MyShareOut:
    viewer = share.viewer
    return MyShareOut(
        **_share_out(share, base_url).model_dump(),
        title=share.title,
        summary=share.summary,
        image_url=share.image_url,
        content_kind=share.content_kind.value if share.content_kind else None,
        campaign_id=share.campaign_id,
        audience_size=share.audience_size,
        employee_groups=list(share.employee_groups),
        viewer={
            "groups": sorted(viewer.groups),
            "location": viewer.location,
            "languages": list(viewer.languages),
        }
        if viewer is not None
        else {},
        created_at=share.created_at,
        reason=share.reason,
        stopped=share.stopped,
    )


def _my_records(found: handlers.MyShareData) -> MyShareRecords:
    advocate = None
    if found.advocate is not None and handlers.ever_joined(found.advocate):
        advocate = AdvocateRecordOut(
            **_advocate_out(found.advocate).model_dump(),
            groups=list(found.advocate.groups),
            location=found.advocate.location,
        )
    return MyShareRecords(
        advocate=advocate,
        acknowledged_guidelines_version=found.acknowledged_version,
        network_tokens=[
            NetworkTokenOut.model_validate(t, from_attributes=True)
            for t in found.network_tokens or []
        ],
        daily_share_counts=[
            DailyCountOut.model_validate(d, from_attributes=True) for d in found.daily_counts or []
        ],
    )


mine = APIRouter(prefix="/api/v1/me", tags=["me"])


class ErasureRequestOut(BaseModel):
    request_id: str = Field(
        description="the erasure request, as ErasureRequested and every service's "
        "ErasureCompleted name it"
    )
    was_member: bool = Field(description="the caller was in the program until now")


@mine.post("/erasure", status_code=202, response_model=ErasureRequestOut)
async def erase_me(user: CurrentUser, services: Services) -> ErasureRequestOut:
    """Erase the caller's data in every service, in the program or not (they leave it)."""
    request_id, was_member = await handlers.request_erasure(services, user)
    return ErasureRequestOut(request_id=request_id, was_member=was_member)


@mine.get("/export", response_model=MyShareExport)
async def export_my_data(
    request: Request,
    user: CurrentUser,
    services: Services,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> MyShareExport:
    """Everything sharing holds about the caller, a page of their shares at a time."""
    position = decode_cursor(cursor)
    before = position.get("before") if position else None
    if position is not None and not isinstance(before, str):
        raise Problem(400, "Invalid cursor", "cursor: not a cursor this API returned")
    found = await handlers.my_data(services, user, before, limit)
    following = found.shares[-1].id if len(found.shares) == limit else None
    return MyShareExport(
        employee_id=user.employee_id,
        shares=[_my_share_out(d, services.public_base_url) for d in found.shares],
        records=await _first_records(request, services, user, found) if before is None else None,
        next_cursor=encode_cursor({"before": following}) if following else None,
    )


async def _first_records(
    request: Request, services: handlers.Services, user: Principal, found: handlers.MyShareData
) -> MyShareRecords:
    records = _my_records(found)
    if services.buddies is not None:
        held = await services.buddies.repo.held_about(user.tenant, user.employee_id)
        records.buddies = _buddy_records_out(held)
    records.directory = await entry_of(request, user)
    return records


def _buddy_records_out(held: BuddyRecords) -> dict[str, Any]:
    """What buddies keep about the caller, each record with its fields as kept (a field a
    record has only sometimes left out where it is unset)."""
    person = None
    if held.person is not None:
        who = held.person
        fields = {
            "employee_id": who.employee_id,
            "pair_id": who.pair_id,
            "requested": {"team": who.requested_team} if who.requested else None,
            "requested_at": who.requested_at,
            "groups": list(who.groups),
            "notify_shares": who.notify_shares,
            "name": who.name,
            "seen_until": who.seen_until,
        }
        always = ("pair_id", "requested")
        person = {k: v for k, v in fields.items() if v is not None or k in always}
    return {
        "person": person,
        "pairs": [_kept(p, "accepted_at", "ended_at", "ended_by") for p in held.pairs],
        "drafts": [_kept(d, "reacted", "share_id", "posted_at") for d in held.drafts],
        "comments_given": [
            {"draft_id": draft_id, **_plain(c)} for draft_id, c in held.comments_given
        ],
        "cheers_given": [{"share_id": c.share_id, "at": c.at} for c in held.cheers_given],
    }


def _kept(record: Pair | Draft, *sometimes: str) -> dict[str, Any]:
    fields: dict[str, Any] = _plain(record)
    fields["_id"] = fields.pop("id")
    return {k: v for k, v in fields.items() if not (k in sometimes and v in (None, False))}


def _plain(value: object) -> Any:
    """A record (or a field of one) as JSON takes it."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return value.value
    return value


audience = APIRouter(prefix="/api/v1/audience", tags=["audience"])


class AudienceCount(BaseModel):
    enrolled: int = Field(description="enrolled advocates the audience reaches")


def _axis(raw: str | None) -> list[str]:
    return sorted({v.strip() for v in (raw or "").split(",") if v.strip()})


@audience.get("/count", response_model=AudienceCount)
async def audience_count(
    user: Curator,
    services: Services,
    groups: Annotated[str | None, Query(max_length=10_000)] = None,
    locations: Annotated[str | None, Query(max_length=10_000)] = None,
    languages: Annotated[str | None, Query(max_length=10_000)] = None,
) -> AudienceCount:
    """How many enrolled advocates an audience reaches (comma-separated values; each axis
    left empty is open to everyone), for curators composing an item."""
    count = await handlers.audience_count(
        services,
        user,
        _axis(groups),
        _axis(locations),
        _axis(languages),
    )
    return AudienceCount(enrolled=count)


# -- variants of a suggested text ------------------------------------------------------


class VariantOut(BaseModel):
    variant: int = Field(description="0 is the suggested text, i the item's text_variants[i-1]")
    variants: int = Field(description="how many wordings the network has")
    text: str
    shared: bool = Field(description="the caller already shared this variant")


class VariantsOut(BaseModel):
    content_id: str
    networks: dict[str, VariantOut] = Field(
        description="per network with a suggested text (only the one asked for, if any)"
    )


variant = APIRouter(prefix="/api/v1/content", tags=["variants"])


@variant.get("/{content_id}/variant", response_model=VariantsOut)
async def offered_variant(
    content_id: Annotated[str, Path(min_length=1, max_length=200)],
    user: CurrentUser,
    services: Services,
    network: Network | None = None,
) -> VariantsOut:
    """The wording offered to the caller: the variant their colleagues used least."""
    offers = await handlers.offer_variants(services, user, content_id, network)
    return VariantsOut(
        content_id=content_id,
        networks={
            n.value: VariantOut(variant=o.variant, variants=o.count, text=o.text, shared=o.shared)
            for n, o in offers.items()
        },
    )


# -- the company page's followers ---------------------------------------------------------

company = APIRouter(prefix="/api/v1/company", tags=["company"])


class FollowersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: Network
    followers: int = Field(ge=0, le=1_000_000_000, description="the company page's followers")
    measured_at: AwareDatetime | None = Field(
        default=None, description="when they were counted; now if left out, never in the future"
    )


class FollowersOut(BaseModel):
    id: str
    network: Network
    followers: int
    measured_at: datetime
    source: str


class FollowersList(BaseModel):
    items: list[FollowersOut]


def _followers_out(measured: FollowersMeasurement) -> FollowersOut:
    at = measured.measured_at
    return FollowersOut(
        id=measured.id,
        network=measured.network,
        followers=measured.followers,
        measured_at=at if at.tzinfo else at.replace(tzinfo=UTC),
        source=measured.source.value,
    )


@company.post("/followers", response_model=FollowersOut, status_code=201)
async def record_followers(user: Admin, services: Services, body: FollowersIn) -> FollowersOut:
    """One count of the company page's followers on a network: a point of its history,
    from which metrics tells the page's growth."""
    measured = await handlers.record_followers(
        services, user, body.network, body.followers, body.measured_at
    )
    return _followers_out(measured)


@company.get("/followers", response_model=FollowersList)
async def followers_history(
    user: Curator,
    services: Services,
    network: Network | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FollowersList:
    """The company page's follower counts, newest first."""
    found = await services.repo.followers_history(
        user.tenant, network.value if network else None, limit
    )
    return FollowersList(items=[_followers_out(m) for m in found])


ROUTERS = (advocates, shares, settings, engagements, mine, audience, variant, company)
