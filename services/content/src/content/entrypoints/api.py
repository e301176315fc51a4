"""HTTP API of the content hub."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AnyHttpUrl, AnyUrl, AwareDatetime, BaseModel, ConfigDict, Field

from chassis.auth import CurrentUser, Principal, require_roles
from chassis.directory import DirectoryEntry, entry_of
from chassis.ids import decode_cursor, encode_cursor
from chassis.limits import RateLimiter, body_limit
from content.domain import feed, model
from content.domain.guidelines import Guidelines, TenantSettings
from content.domain.model import Item, ItemAudience
from content.service_layer import handlers
from contracts import ContentKind, Network

Curator = Annotated[Principal, Depends(require_roles("curator", "admin"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]


async def _services(request: Request) -> handlers.Services:
    # Async: a plain `def` dependency would cost every request a hop to the thread pool.
    services: handlers.Services = request.app.state.services
    return services


Services = Annotated[handlers.Services, Depends(_services)]

Name = Annotated[str, Field(min_length=1, max_length=200)]
Language = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35)]
ContentId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
# An item at every field's limit, in characters that JSON escapes with six bytes each
# (a backslash, `u` and four hex digits), is about 1.7 MB: a larger body cannot be valid.
ITEM_BODY_BYTES = 2 * 1024 * 1024
# Variants beside a network's suggested text (the event allows more, room to grow).
MAX_VARIANTS = 4
Variants = Annotated[list[Annotated[str, Field(max_length=10000)]], Field(max_length=MAX_VARIANTS)]


class AudienceIn(BaseModel):
    """Who an item is for; an empty list leaves that axis open to everyone."""

    model_config = ConfigDict(extra="forbid")

    groups: list[Name] = Field(default_factory=list, max_length=200)
    locations: list[Name] = Field(default_factory=list, max_length=200)
    languages: list[Language] = Field(default_factory=list, max_length=50)


class JobDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: Name | None = None
    department: Name | None = None
    apply_url: AnyHttpUrl | None = None


class EventDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    venue: Name | None = None
    online_url: AnyHttpUrl | None = None


class ContentPatch(BaseModel):
    """Fields to change; `null` removes an optional one."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=300)
    kind: ContentKind | None = None
    summary: str | None = Field(None, max_length=2000)
    body: str | None = Field(None, max_length=20000)
    url: AnyHttpUrl | None = None
    image_url: AnyHttpUrl | None = None
    language: Language | None = None
    topics: list[Name] | None = Field(None, max_length=50)
    campaign_id: Name | None = None
    suggested_texts: dict[Network, Annotated[str, Field(max_length=10000)]] | None = None
    text_variants: dict[Network, Variants] | None = Field(
        None,
        description="further wordings of a network's suggested text (which must be given), "
        "offered to colleagues in turn so that they do not all post the same words",
    )
    audience: AudienceIn | None = None
    publish_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    job: JobDetails | None = None
    event: EventDetails | None = None


class ContentIn(ContentPatch):
    title: str = Field(min_length=1, max_length=300)
    kind: ContentKind
    # A curator's item goes live unless kept as a draft; an employee's is always a draft.
    draft: bool = False


class ContentOut(BaseModel):
    id: str
    title: str
    kind: ContentKind
    status: model.Status
    summary: str = ""
    body: str = ""
    url: str | None = None
    image_url: str | None = None
    language: str | None = None
    topics: list[str] = Field(default_factory=list)
    campaign_id: str | None = None
    suggested_texts: dict[str, str] = Field(default_factory=dict)
    text_variants: dict[str, list[str]] = Field(default_factory=dict)
    audience: dict[str, list[str]] = Field(default_factory=dict)
    publish_at: datetime | None = None
    expires_at: datetime | None = None
    job: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    shares: int = 0
    suggestion: bool = False
    created_by: str
    created_at: datetime
    updated_at: datetime
    approved_by: str | None = None
    # The comment given with the last workflow step (e.g. why it was rejected), if any.
    comment: str | None = None
    comment_by: str | None = None
    published_at: datetime | None = None
    retired_at: datetime | None = None
    # Feed only: whether the caller already shared this item, and whether one of its topics
    # is among the caller's areas of expertise (such items lead their day).
    shared: bool | None = None
    on_my_areas: bool | None = None


class ContentPage(BaseModel):
    items: list[ContentOut]
    next_cursor: str | None


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: model.Action
    comment: str | None = Field(
        None, max_length=2000, description="why, for the author (kept with the item)"
    )


OUT_FIELDS = frozenset(ContentOut.model_fields)


def _shown(doc: dict[str, Any]) -> ContentOut:
    """A row of the feed's read model, as it holds it (pages are served without turning
    each row into an item first)."""
    return ContentOut(id=doc["_id"], **{k: v for k, v in doc.items() if k in OUT_FIELDS})


def _present(details: model.JobDetails | model.EventDetails | None) -> dict[str, Any] | None:
    if details is None:
        return None
    return {k: v for k, v in asdict(details).items() if v is not None}


def _out(item: Item) -> ContentOut:
    aimed = item.audience
    return ContentOut(
        id=item.id,
        title=item.title,
        kind=item.kind,
        status=item.status,
        summary=item.summary,
        body=item.body,
        url=item.url,
        image_url=item.image_url,
        language=item.language,
        topics=list(item.topics),
        campaign_id=item.campaign_id,
        suggested_texts={n.value: t for n, t in item.suggested_texts.items()},
        text_variants={n.value: list(v) for n, v in item.text_variants.items()},
        audience={} if aimed is None else asdict(aimed),
        publish_at=item.publish_at,
        expires_at=item.expires_at,
        job=_present(item.job),
        event=_present(item.event),
        shares=item.shares,
        suggestion=item.suggestion,
        created_by=item.created_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
        approved_by=item.approved_by,
        comment=item.comment,
        comment_by=item.comment_by,
        published_at=item.published_at,
        retired_at=item.retired_at,
    )


def _plain(value: Any) -> Any:
    """Validated input as stored: URLs as strings, datetimes kept as datetimes."""
    if isinstance(value, AnyUrl):
        return str(value)
    if isinstance(value, datetime):
        return handlers.to_millis(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _fields(body: BaseModel, exclude: set[str]) -> dict[str, Any]:
    """The fields the caller set, as an item's values; None where they removed one."""
    raw = body.model_dump(exclude_unset=True, exclude=exclude)
    return {k: (None if v is None else _typed(k, _plain(v))) for k, v in raw.items()}


def _typed(name: str, value: Any) -> Any:
    if name == "kind":
        return ContentKind(value)
    if name == "topics":
        return tuple(value)
    if name == "suggested_texts":
        return {Network(k): v for k, v in value.items()}
    if name == "text_variants":
        return {Network(k): tuple(v) for k, v in value.items()}
    if name == "audience":
        return ItemAudience(
            *(tuple(value.get(k, ())) for k in ("groups", "locations", "languages"))
        )
    if name == "job":
        return model.JobDetails(**value)
    if name == "event":
        return model.EventDetails(**value)
    return value


router = APIRouter(prefix="/api/v1/content", tags=["content"])


@router.post("", status_code=201, response_model=ContentOut)
@body_limit(ITEM_BODY_BYTES)
async def create_content(body: ContentIn, user: CurrentUser, services: Services) -> ContentOut:
    """Create an item: a curator's goes live, an employee's is a suggestion for review."""
    fields = {k: v for k, v in _fields(body, {"draft"}).items() if v is not None}
    fields.update(title=body.title, kind=body.kind)
    return _out(await handlers.create_content(services, user, fields, draft=body.draft))


@router.get("", response_model=ContentPage)
async def list_content(
    user: Curator,
    services: Services,
    status: model.Status | None = None,
    kind: ContentKind | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> ContentPage:
    """Every item of the tenant, newest first, for curators."""
    position = decode_cursor(cursor)
    after = position.get("id") if position else None
    if position is not None and not isinstance(after, str):
        raise handlers.invalid(("cursor", "not a cursor this API returned"))
    filters = {k: v.value for k, v in (("status", status), ("kind", kind)) if v is not None}
    docs = await handlers.list_content(services, user, after, limit, filters)
    next_cursor = encode_cursor({"id": docs[-1].id}) if len(docs) == limit else None
    return ContentPage(items=[_out(d) for d in docs], next_cursor=next_cursor)


@router.get("/{content_id}", response_model=ContentOut)
async def get_content(content_id: ContentId, user: CurrentUser, services: Services) -> ContentOut:
    """One item, if the caller may see it."""
    return _out(await handlers.get_content(services, user, content_id))


@router.patch("/{content_id}", response_model=ContentOut)
@body_limit(ITEM_BODY_BYTES)
async def update_content(
    content_id: ContentId, body: ContentPatch, user: CurrentUser, services: Services
) -> ContentOut:
    """Edit an item (curators; employees their own drafts)."""
    changes = _fields(body, set())
    for required in ("title", "kind"):
        if required in changes and changes[required] is None:
            raise handlers.invalid((required, "cannot be removed"))
    return _out(await handlers.update_content(services, user, content_id, changes))


@router.post("/{content_id}/transitions", response_model=ContentOut)
async def transition_content(
    content_id: ContentId, body: TransitionIn, user: CurrentUser, services: Services
) -> ContentOut:
    """Move an item through the workflow: submit, approve, reject, withdraw or archive."""
    comment = (body.comment or "").strip() or None
    return _out(await handlers.transition(services, user, content_id, body.action, comment))


feed_router = APIRouter(prefix="/api/v1/feed", tags=["feed"])


@feed_router.get("", response_model=ContentPage)
async def employee_feed(
    user: CurrentUser,
    services: Services,
    topic: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    kind: ContentKind | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ContentPage:
    """What the caller can share now: their languages first, then newest and most shared."""
    position = None
    if raw := decode_cursor(cursor):
        position = feed.Position.decode(raw)
        if position is None:
            raise handlers.invalid(("cursor", "not a cursor this API returned"))
    filters = feed.Filters(topic=topic or None, kind=kind.value if kind else None)
    docs, following = await handlers.employee_feed(services, user, position, limit, filters)
    return ContentPage(
        items=[_shown(d) for d in docs],
        next_cursor=encode_cursor(following.encode()) if following else None,
    )


preview_router = APIRouter(prefix="/api/v1/previews", tags=["previews"])


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="http or https; internal addresses are refused")


class PreviewOut(BaseModel):
    url: str
    title: str | None
    description: str | None
    image_url: str | None
    site_name: str | None


# Each preview costs a fetch and a parse: a person gets this many a minute, per api process
# (in its memory, so with N processes up to N times as many; enough to bound each one's work).
PREVIEWS_PER_MINUTE = 30


def _preview_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "preview_limiter", None)
    if limiter is None:
        limiter = request.app.state.preview_limiter = RateLimiter(PREVIEWS_PER_MINUTE, 60.0)
    return limiter


@preview_router.post(
    "",
    response_model=PreviewOut,
    responses={429: {"description": f"more than {PREVIEWS_PER_MINUTE} previews a minute"}},
)
async def link_preview(
    body: PreviewIn, user: CurrentUser, services: Services, request: Request
) -> PreviewOut:
    """Title, description and image of a page, from its OpenGraph or Twitter card tags."""
    _preview_limiter(request).check(f"{user.tenant}:{user.employee_id}")
    found = await handlers.preview(services, str(body.url))
    return PreviewOut(**found.__dict__)


guidelines_router = APIRouter(prefix="/api/v1/guidelines", tags=["guidelines"])


class GuidelinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=100_000)
    acknowledgement_required: bool = False


class GuidelinesOut(BaseModel):
    version: int
    title: str
    body: str
    acknowledgement_required: bool
    published_at: datetime
    published_by: str
    # For the caller: when they acknowledged this version (current version only).
    acknowledged_at: datetime | None = None


class GuidelinesPage(BaseModel):
    items: list[GuidelinesOut]
    next_cursor: str | None


class AcknowledgementOut(BaseModel):
    employee_id: str
    version: int
    acknowledged_at: datetime


Version = Annotated[int, Path(ge=1, le=1_000_000)]


def _guidelines_out(
    guidelines: Guidelines, acknowledged_at: datetime | None = None
) -> GuidelinesOut:
    return GuidelinesOut(
        version=guidelines.version,
        title=guidelines.title,
        body=guidelines.body,
        acknowledgement_required=guidelines.acknowledgement_required,
        published_at=guidelines.published_at,
        published_by=guidelines.published_by,
        acknowledged_at=acknowledged_at,
    )


@guidelines_router.post("", status_code=201, response_model=GuidelinesOut)
@body_limit(1024 * 1024)  # 100,000 characters of body, escaped
async def publish_guidelines(body: GuidelinesIn, user: Admin, services: Services) -> GuidelinesOut:
    """Publish a new version of the tenant's sharing guidelines."""
    published = await handlers.publish_guidelines(
        services, user, body.title, body.body, body.acknowledgement_required
    )
    return _guidelines_out(published)


@guidelines_router.get("", response_model=GuidelinesPage)
async def list_guidelines(
    user: Curator, services: Services, cursor: str | None = None, limit: Limit = 20
) -> GuidelinesPage:
    """Every version of the guidelines, newest first."""
    position = decode_cursor(cursor)
    before = position.get("before") if position else None
    if position is not None and not isinstance(before, int):
        raise handlers.invalid(("cursor", "not a cursor this API returned"))
    docs = await handlers.guidelines_versions(services, user, before, limit)
    following = encode_cursor({"before": docs[-1].version}) if len(docs) == limit else None
    return GuidelinesPage(items=[_guidelines_out(d) for d in docs], next_cursor=following)


@guidelines_router.get("/current", response_model=GuidelinesOut)
async def current_guidelines(user: CurrentUser, services: Services) -> GuidelinesOut:
    """The version in force, and whether the caller acknowledged it."""
    current, acknowledged_at = await handlers.current_guidelines(services, user)
    return _guidelines_out(current, acknowledged_at)


@guidelines_router.get("/{version}", response_model=GuidelinesOut)
async def guidelines_version(
    version: Version, user: CurrentUser, services: Services
) -> GuidelinesOut:
    """One version of the guidelines."""
    return _guidelines_out(await handlers.guidelines_version(services, user, version))


class AcknowledgementPage(BaseModel):
    items: list[AcknowledgementOut]
    next_cursor: str | None


@guidelines_router.get("/{version}/acknowledgements", response_model=AcknowledgementPage)
async def guidelines_acknowledgements(
    version: Version,
    user: Curator,
    services: Services,
    cursor: str | None = None,
    limit: Limit = 100,
) -> AcknowledgementPage:
    """Who acknowledged one version, by employee id, for the program team."""
    position = decode_cursor(cursor)
    after = position.get("after") if position else None
    if position is not None and not isinstance(after, str):
        raise handlers.invalid(("cursor", "not a cursor this API returned"))
    docs = await handlers.acknowledgements_of_version(services, user, version, after, limit)
    following = encode_cursor({"after": docs[-1].employee_id}) if len(docs) == limit else None
    items = [AcknowledgementOut.model_validate(d, from_attributes=True) for d in docs]
    return AcknowledgementPage(items=items, next_cursor=following)


@guidelines_router.post("/{version}/acknowledgements", response_model=AcknowledgementOut)
async def acknowledge_guidelines(
    version: Version, user: CurrentUser, services: Services, response: Response
) -> AcknowledgementOut:
    """Acknowledge the current version (201 the first time, 200 after)."""
    ack, created = await handlers.acknowledge(services, user, version)
    response.status_code = 201 if created else 200
    return AcknowledgementOut.model_validate(ack, from_attributes=True)


settings_router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disclosure_hashtag: Annotated[str, Field(pattern=r"^#\w{1,100}$")] | None = Field(
        None, description="added to every suggested text, e.g. #employee; null for none"
    )


class SettingsOut(BaseModel):
    disclosure_hashtag: str | None = None


@settings_router.get("", response_model=SettingsOut)
async def get_settings(user: CurrentUser, services: Services) -> SettingsOut:
    """The tenant's content settings."""
    settings = await services.repo.tenant_settings(user.tenant)
    return SettingsOut(disclosure_hashtag=settings.disclosure_hashtag)


@settings_router.put("", response_model=SettingsOut)
async def put_settings(body: SettingsIn, user: Admin, services: Services) -> SettingsOut:
    """Replace the tenant's content settings."""
    wanted = TenantSettings(user.tenant, disclosure_hashtag=body.disclosure_hashtag)
    settings = await services.repo.save_tenant_settings(wanted)
    return SettingsOut(disclosure_hashtag=settings.disclosure_hashtag)


me_router = APIRouter(prefix="/api/v1/me", tags=["me"])


class MyContentRecords(BaseModel):
    acknowledgements: list[AcknowledgementOut]
    shared_content_ids: list[str] = Field(description="items the caller shared")
    onboarding_steps_done: dict[str, datetime] = Field(
        default_factory=dict, description="onboarding steps the caller did, by step id"
    )
    areas_of_expertise: list[str] = Field(default_factory=list)
    directory: DirectoryEntry | None = Field(
        None, description="what the content hub's copy of HR's directory holds of the caller"
    )


class MyContentExport(BaseModel):
    employee_id: str
    items: list[ContentOut] = Field(description="items the caller created, newest first")
    records: MyContentRecords | None = Field(
        description="the caller's other records; on the first page only (no cursor)"
    )
    next_cursor: str | None


@me_router.get("/export", response_model=MyContentExport)
async def export_my_content(
    request: Request,
    user: CurrentUser,
    services: Services,
    cursor: str | None = None,
    limit: Limit = 100,
) -> MyContentExport:
    """Everything the content hub holds about the caller, a page of their items at a time."""
    position = decode_cursor(cursor)
    after = position.get("id") if position else None
    if position is not None and not isinstance(after, str):
        raise handlers.invalid(("cursor", "not a cursor this API returned"))
    found = await handlers.my_content(services, user, after, limit)
    records = None
    if found.acknowledgements is not None and found.shared_content_ids is not None:
        records = MyContentRecords(
            acknowledgements=[
                AcknowledgementOut.model_validate(a, from_attributes=True)
                for a in found.acknowledgements
            ],
            shared_content_ids=found.shared_content_ids,
            onboarding_steps_done=found.onboarding_steps_done or {},
            areas_of_expertise=found.areas_of_expertise or [],
            directory=await entry_of(request, user),
        )
    following = found.items[-1].id if len(found.items) == limit else None
    return MyContentExport(
        employee_id=user.employee_id,
        items=[_out(d) for d in found.items],
        records=records,
        next_cursor=encode_cursor({"id": following}) if following else None,
    )


routers = [router, feed_router, preview_router, guidelines_router, settings_router, me_router]
