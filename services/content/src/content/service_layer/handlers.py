"""Use cases of the content hub."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import MISSING, dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

from chassis.auth import Principal
from chassis.consumer import Consumed
from chassis.domain_errors import Conflict, Forbidden, Invalid, NotFound
from chassis.erasure import Confirmations
from chassis.ids import new_id
from chassis.telemetry import current_traceparent
from chassis.uow import UnitOfWork
from content.adapters.mongo import ContentRepository, ShareSeen
from content.adapters.preview import LinkPreviewer, PreviewFailed, PreviewRefused
from content.domain import feed, model, texts
from content.domain.guidelines import Acknowledgement, Guidelines
from content.domain.model import Item
from content.domain.preview import Preview
from content.service_layer.ports import FeedReadModel
from contracts import (
    AnyEvent,
    ContentKind,
    ContentPublished,
    ContentPublishedData,
    ContentRetired,
    ContentRetiredData,
    ContentUpdated,
    ContentUpdatedData,
    GuidelinesAcknowledged,
    GuidelinesAcknowledgedData,
    GuidelinesPublished,
    GuidelinesPublishedData,
    PostShared,
    RetirementReason,
    WinTold,
    audience,
    derived_event_id,
)
from contracts.erasure import person_key

CURATORS = ("curator", "admin")
# Fields an editor may set; everything else is the workflow's.
EDITABLE = (
    "title",
    "kind",
    "summary",
    "body",
    "url",
    "image_url",
    "language",
    "topics",
    "campaign_id",
    "suggested_texts",
    "text_variants",
    "audience",
    "publish_at",
    "expires_at",
    "job",
    "event",
)


def utcnow() -> datetime:
    # MongoDB keeps milliseconds; so do we, or a value read back would differ from it.
    return to_millis(datetime.now(UTC))


def to_millis(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class Services:
    repo: ContentRepository
    previewer: LinkPreviewer
    feed: FeedReadModel
    clock: Callable[[], datetime] = field(default=utcnow)
    # A use case's writes and their events land together (see `chassis.uow`).
    uow: Callable[[], UnitOfWork] = UnitOfWork
    # Content's ErasureCompleted, once an erasure is done here (None: confirms nothing).
    confirmations: Confirmations | None = None


def invalid(*errors: tuple[str, str]) -> Invalid:
    """A refusal naming each field that is wrong and what is wrong with it."""
    return Invalid(errors=errors)


def not_found(content_id: str) -> NotFound:
    return NotFound(f"no content item {content_id}")


def is_curator(user: Principal) -> bool:
    return user.has_any(CURATORS)


# -- items -------------------------------------------------------------------------------


def _kind_errors(item: Item) -> list[tuple[str, str]]:
    """Links each kind cannot do without."""
    if item.kind is ContentKind.ARTICLE and not item.url:
        return [("url", "an article links to the external page it is about")]
    if item.kind is ContentKind.JOB and not item.link:
        return [("job.apply_url", "a job posting needs the URL to apply at (or a url)")]
    return []


async def _validated(services: Services, item: Item) -> Item:
    """`item` with its texts prepared and its audience whole, or a 422 naming every field
    that is wrong."""
    errors = _kind_errors(item)
    if problem := model.check_window(item.publish_at, item.expires_at):
        errors.append(("expires_at", problem))
    event = item.event
    if event and event.ends_at and event.starts_at and event.ends_at < event.starts_at:
        errors.append(("event.ends_at", "must not be before event.starts_at"))
    settings = await services.repo.tenant_settings(item.tenant)
    hashtag = settings.disclosure_hashtag
    prepared, too_long = texts.prepare(dict(item.suggested_texts), hashtag, item.link)
    errors.extend((f"suggested_texts.{n.value}", why) for n, why in too_long.items())
    variants, variant_errors = texts.prepare_variants(
        {n: list(v) for n, v in item.text_variants.items()}, set(prepared), hashtag, item.link
    )
    errors.extend(variant_errors)
    if errors:
        raise invalid(*errors)
    return replace(
        item,
        suggested_texts=prepared,
        text_variants={n: tuple(v) for n, v in variants.items()},
        audience=item.audience or model.ItemAudience(),
    )


def _event_id(item: Item, name: str) -> str:
    # One event per revision and kind: a replayed write stages the same id again.
    return derived_event_id(item.tenant, item.id, str(item.rev), name)


def _published_fields(item: Item) -> dict[str, Any]:
    aimed = item.audience
    return {
        "content_id": item.id,
        "title": item.title,
        "kind": item.kind,
        "url": item.link,
        "summary": item.summary,
        "image_url": item.image_url,
        "suggested_texts": dict(item.suggested_texts),
        "text_variants": {n: list(v) for n, v in item.text_variants.items()},
        "topics": list(item.topics),
        "audience": {
            "groups": list(aimed.groups),
            "locations": list(aimed.locations),
            "languages": list(aimed.languages),
        }
        if aimed is not None
        else {},
        "publish_at": item.publish_at,
        "expires_at": item.expires_at,
        "campaign_id": item.campaign_id,
        "published_by": item.approved_by or item.created_by,
        "language": item.language,
    }


def published_event(item: Item) -> ContentPublished:
    return ContentPublished.create(
        tenant_id=item.tenant,
        subject=item.id,
        event_id=_event_id(item, "published"),
        traceparent=current_traceparent(),
        data=ContentPublishedData(**_published_fields(item)),
    )


def updated_event(item: Item, changed: list[str]) -> ContentUpdated:
    return ContentUpdated.create(
        tenant_id=item.tenant,
        subject=item.id,
        event_id=_event_id(item, "updated"),
        traceparent=current_traceparent(),
        data=ContentUpdatedData(**_published_fields(item), changed_fields=changed),
    )


def retired_event(
    item: Item, reason: RetirementReason, at: datetime, by: str | None
) -> ContentRetired:
    return ContentRetired.create(
        tenant_id=item.tenant,
        subject=item.id,
        event_id=_event_id(item, "retired"),
        traceparent=current_traceparent(),
        data=ContentRetiredData(content_id=item.id, reason=reason, retired_at=at, retired_by=by),
    )


async def create_content(
    services: Services,
    user: Principal,
    fields: Mapping[str, Any],
    draft: bool = False,
    content_id: str | None = None,
) -> Item:
    """A curator's item goes live (now or at its publish time) unless kept as a draft;
    an employee's suggestion always starts as a draft for review. `fields` are the
    editable ones (`EDITABLE`), `title` and `kind` among them."""
    now = services.clock()
    item = await _validated(
        services,
        Item(
            id=content_id or new_id(),
            tenant=user.tenant,
            **fields,
            status=model.Status.DRAFT,
            created_by=user.employee_id,
            created_at=now,
            updated_at=now,
            suggestion=not is_curator(user),
        ),
    )
    events: list[AnyEvent] = []
    if is_curator(user) and not draft:
        try:
            step = model.transition(
                model.Status.DRAFT, model.Action.APPROVE, now, item.publish_at, item.expires_at
            )
        except model.TransitionRefused as exc:
            raise invalid(("expires_at", str(exc))) from exc
        assert step.publish_at is not None
        item = replace(
            item, status=step.after, approved_by=user.employee_id, publish_at=step.publish_at
        )
        if step.publishes:
            item = replace(item, published_at=now)
            events.append(published_event(item))
    async with services.uow() as uow:
        uow.add(services.repo.item_created(item), events)
    if item.status is model.Status.PUBLISHED:
        await services.feed.written(user.tenant, [item])
    return item


def viewer_of(user: Principal) -> audience.Viewer:
    return audience.Viewer(user.groups, user.location, user.languages)


async def get_content(services: Services, user: Principal, content_id: str) -> Item:
    """Curators see every item of their tenant; employees their own suggestions and what
    is live for them. Anything else is indistinguishable from a missing item."""
    item = await services.repo.get(user.tenant, content_id)
    if item is None:
        raise not_found(content_id)
    if is_curator(user) or (item.suggestion and item.created_by == user.employee_id):
        return item
    visible = await services.repo.visible_item(
        user.tenant, content_id, viewer_of(user), services.clock()
    )
    if visible is None:
        raise not_found(content_id)
    return visible


async def _load_for_change(services: Services, user: Principal, content_id: str) -> Item:
    item = await get_content(services, user, content_id)
    if not is_curator(user) and item.status is not model.Status.DRAFT:
        raise Forbidden("only curators change an item once it left draft")
    return item


async def _save(services: Services, before: Item, after: Item, events: list[AnyEvent]) -> None:
    """Save `after` if nobody changed the item since `before` was read, with its events;
    `Conflict` if somebody did."""
    async with services.uow() as uow:
        uow.add(services.repo.item_saved(before, after), events)
    if model.Status.PUBLISHED in (before.status, after.status):
        # The feed shows it, or showed it until now.
        await services.feed.written(before.tenant, [after])


_ITEM_FIELDS = {f.name: f for f in dataclass_fields(Item)}


def _cleared(name: str) -> Any:
    """What an editable field is once the editor removed it: its default."""
    default = _ITEM_FIELDS[name]
    if default.default_factory is not MISSING:
        return default.default_factory()
    return default.default


async def update_content(
    services: Services, user: Principal, content_id: str, changes: Mapping[str, Any]
) -> Item:
    """Edit an item (`changes` of editable fields, None removing one); a published one
    announces its new state with ContentUpdated."""
    before = await _load_for_change(services, user, content_id)
    status = before.status
    if status in (model.Status.EXPIRED, model.Status.ARCHIVED):
        raise Conflict(f"an item that is {status.value} is no longer edited")
    merged = replace(before, **{k: _cleared(k) if v is None else v for k, v in changes.items()})
    changed = sorted(k for k in changes if getattr(before, k) != getattr(merged, k))
    if not changed:
        return before
    if status in model.LIVE and "publish_at" in changed:
        # Rescheduling is withdrawing and approving again, so the share service hears of it.
        raise invalid(("publish_at", f"an item that is {status.value} keeps its publish time"))
    after = await _validated(services, merged)
    after = replace(after, rev=before.rev + 1, updated_at=services.clock())
    events: list[AnyEvent] = []
    if status is model.Status.PUBLISHED:
        events.append(updated_event(after, changed))
    await _save(services, before, after, events)
    return after


async def transition(
    services: Services,
    user: Principal,
    content_id: str,
    action: model.Action,
    comment: str | None = None,
) -> Item:
    """Move an item through the workflow as a person (curator, or author of a suggestion)."""
    before = await _load_for_change(services, user, content_id)
    if not is_curator(user) and not (
        action is model.Action.SUBMIT and before.created_by == user.employee_id
    ):
        raise Forbidden(f"only curators {action.value} items")
    now = services.clock()
    try:
        step = model.transition(before.status, action, now, before.publish_at, before.expires_at)
    except model.TransitionRefused as exc:
        raise Conflict(str(exc), status_now=before.status.value) from exc
    # The comment of the last step a person took; a step without one clears it.
    noted = {"comment": comment, "comment_by": user.employee_id if comment else None}
    return await _apply(services, before, step, now, user.employee_id, noted)


async def _apply(
    services: Services,
    before: Item,
    step: model.Transition,
    now: datetime,
    by: str | None,
    noted: Mapping[str, Any] | None = None,
) -> Item:
    after = replace(before, status=step.after, rev=before.rev + 1, updated_at=now, **(noted or {}))
    if step.publish_at is not None:
        after = replace(after, publish_at=step.publish_at)
    if by is not None and step.after in model.LIVE:
        after = replace(after, approved_by=by)
    events: list[AnyEvent] = []
    if step.publishes:
        after = replace(after, published_at=now)
        events.append(published_event(after))
    if step.retired is not None:
        after = replace(after, retired_at=now)
        events.append(retired_event(after, step.retired, now, by))
    await _save(services, before, after, events)
    return after


async def list_content(
    services: Services, user: Principal, after: str | None, limit: int, filters: dict[str, Any]
) -> list[Item]:
    return await services.repo.page(user.tenant, after, limit, filters)


@dataclass(frozen=True)
class MyContent:
    """What the hub holds about one employee: a page of the items they created, and (on
    the first page) their acknowledgements, the items they shared, the onboarding steps
    they did and their areas of expertise."""

    items: list[Item]
    acknowledgements: list[Acknowledgement] | None
    shared_content_ids: list[str] | None
    onboarding_steps_done: dict[str, datetime] | None = None
    areas_of_expertise: list[str] | None = None


async def my_content(
    services: Services, user: Principal, after: str | None, limit: int
) -> MyContent:
    """The caller's own data, for a download of it; only ever theirs, whatever their role."""
    items = await services.repo.created_by(user.tenant, user.employee_id, after, limit)
    if after is not None:
        return MyContent(items, None, None)
    acknowledgements = await services.repo.acknowledgements_of(user.tenant, user.employee_id)
    shared = await services.repo.shared_by(user.tenant, user.employee_id)
    progress = await services.repo.progress_of(user.tenant, user.employee_id)
    expertise = await services.repo.expertise_of(user.tenant, user.employee_id)
    return MyContent(
        items,
        acknowledgements,
        shared,
        onboarding_steps_done=dict(progress.done) if progress else {},
        areas_of_expertise=list(expertise.areas) if expertise else [],
    )


# -- the clock's moves -----------------------------------------------------------------------


# Items whose next step is due at a time, a batch at most.
DueItems = Callable[[datetime, int], Awaitable[list[Item]]]


async def run_schedule(services: Services, batch: int = 100) -> int:
    """Publish scheduled items whose time has come and expire those whose time is up."""
    now = services.clock()
    moved = 0

    def released(item: Item) -> model.Transition | None:
        return model.release(item.status, item.publish_at, item.expires_at, now)

    def expired(item: Item) -> model.Transition | None:
        return model.expire(item.status, item.expires_at, now)

    due: list[tuple[DueItems, Callable[[Item], model.Transition | None]]] = [
        (services.repo.due_for_release, released),
        (services.repo.due_for_expiry, expired),
    ]
    for due_now, step_of in due:
        while True:
            items = await due_now(now, batch)
            progressed = 0
            for item in items:
                step = step_of(item)
                if step is None:
                    continue
                try:
                    await _apply(services, item, step, now, None)
                except Conflict:
                    # A person changed it meanwhile; the next pass sees its new state.
                    continue
                progressed += 1
            moved += progressed
            if len(items) < batch or progressed == 0:
                break
    return moved


# -- feed -----------------------------------------------------------------------------------


async def employee_feed(
    services: Services,
    user: Principal,
    position: feed.Position | None,
    limit: int,
    filters: feed.Filters,
) -> tuple[list[dict[str, Any]], feed.Position | None]:
    """A page of the employee's feed and where the next one starts."""
    held = await services.feed.tenant(user.tenant)
    areas = held.areas_of(user.employee_id)
    try:
        entries, following = held.items.page(
            viewer_of(user), position, limit, filters, services.clock(), areas
        )
    except feed.NotThisFeed as exc:
        raise invalid(("cursor", "not a cursor of this feed")) from exc
    shared = held.shared_by(user.employee_id)
    docs = [
        {
            **entry.doc,
            "shared": entry.item_id in shared,
            "on_my_areas": not entry.areas.isdisjoint(areas),
        }
        for entry in entries
    ]
    return docs, following


# The topic a told win carries in the feed, where employees see the program's successes.
WINS_TOPIC = "wins"


async def on_wins_told(services: Services, batch: list[Consumed[WinTold]]) -> None:
    """A win a storyteller told becomes company news in everyone's feed, once."""
    for item in batch:
        event = item.event
        win = event.data
        teller = Principal(
            employee_id=win.told_by, tenant=event.tenantid, roles=frozenset({"curator"})
        )
        title = win.text if len(win.text) <= 300 else win.text[:299].rstrip() + "\u2026"
        fields = {
            "title": title,
            "summary": win.text,
            "kind": ContentKind.INTERNAL,
            "topics": (WINS_TOPIC,),
        }
        try:
            # Like every item's id: time first (the feed orders by it), then the event's.
            told = int(win.told_at.timestamp() * 1000)
            content_id = f"{told:012x}{derived_event_id('win', event.id)[:12]}"
            await create_content(services, teller, fields, content_id=content_id)
        except Conflict:
            continue  # told before: the item is there


# The topic a leader's own post carries in the feed, where colleagues react and reshare.
LEADERS_TOPIC = "leaders"


async def _leaders_posts(services: Services, batch: list[Consumed[PostShared]]) -> None:
    """A leader's own post, shared through Chorus, is shown to every colleague, once per
    post however many networks it went to (the share service says who is a leader)."""
    for item in batch:
        event, data = item.event, item.event.data
        if not data.by_leader or data.post_url is None or data.content_id is not None:
            continue
        url = str(data.post_url)
        if await services.repo.leader_post_shown(event.tenantid, url):
            continue
        leader = Principal(
            employee_id=data.employee_id, tenant=event.tenantid, roles=frozenset({"curator"})
        )
        fields = {
            "title": data.post_title or url,
            "url": url,
            "kind": ContentKind.ARTICLE,
            "topics": (LEADERS_TOPIC,),
            "leader_post": url,
        }
        shared = int(data.shared_at.timestamp() * 1000)
        content_id = f"{shared:012x}{derived_event_id('leader-post', event.tenantid, url)[:12]}"
        try:
            await create_content(services, leader, fields, content_id=content_id)
        except Conflict:
            continue  # shown before


def _made_before_erasure(event: PostShared, erased: dict[str, datetime]) -> bool:
    """A share its author made before their erasure (published then, counted late)."""
    at = erased.get(person_key(event.tenantid, event.data.employee_id))
    return at is not None and event.data.shared_at < at


async def on_post_shared(services: Services, batch: list[Consumed[PostShared]]) -> None:
    """Learn popularity and who shared what; redelivered events count nothing twice. A
    share made before its author's erasure still counts, but names nobody here."""
    erased = await services.repo.erased_at(
        person_key(i.event.tenantid, i.event.data.employee_id) for i in batch
    )
    await _leaders_posts(services, [i for i in batch if not _made_before_erasure(i.event, erased)])
    # Only shares of this tenant's own items count: a content id quoted under another
    # tenant, or one this hub never had, changes nothing (and costs no writes).
    known = await services.repo.existing(
        {(i.event.tenantid, i.event.data.content_id) for i in batch if i.event.data.content_id}
    )
    seen: list[ShareSeen] = []
    # (tenant, employee) -> item id -> when the earliest share of it in the batch was made.
    marks: dict[tuple[str, str], dict[str, datetime]] = {}
    for item in batch:
        event, data = item.event, item.event.data
        tenant = event.tenantid
        if data.content_id is None or (tenant, data.content_id) not in known:
            continue
        seen.append(ShareSeen(tenant, data.content_id, item.topic, item.partition, item.offset))
        if not _made_before_erasure(event, erased):
            shared = marks.setdefault((tenant, data.employee_id), {})
            first = shared.get(data.content_id, data.shared_at)
            shared[data.content_id] = min(first, data.shared_at)
    if not seen:
        return
    await services.repo.mark_shared({key: set(ids) for key, ids in marks.items()})
    counts = await services.repo.count_shares_once(seen)
    await services.repo.raise_share_counts(counts)
    # Logged only now that counts and marks are written: if this process dies before, the
    # batch comes again and logs them then.
    shares: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for tenant, content_id, count in counts:
        shares[tenant].append((content_id, count))
    marked: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for (tenant, employee), content_ids in marks.items():
        marked[tenant].append((employee, tuple(sorted(content_ids))))
    for tenant in sorted({*shares, *marked}):
        change = feed.FeedChange(shares=tuple(shares[tenant]), marks=tuple(marked[tenant]))
        await services.feed.record(tenant, change)
    await _undo_marks_erased_meanwhile(services, marks)


async def _undo_marks_erased_meanwhile(
    services: Services, marks: dict[tuple[str, str], dict[str, datetime]]
) -> None:
    """An erasure records itself before it deletes, and this looks for erasures after the
    marks are written and logged: so an erasure that ran while the batch was written either
    deleted its marks or is found here, and its marks are taken back."""
    if not marks:
        return
    erased = await services.repo.erased_at(person_key(t, e) for t, e in marks)
    for (tenant, employee), shared in marks.items():
        at = erased.get(person_key(tenant, employee))
        stale = {content_id for content_id, when in shared.items() if at is not None and when < at}
        if not stale:
            continue
        await services.repo.unmark_shared(tenant, employee, stale)
        await services.feed.forget(tenant, employee)
        if kept := await services.repo.shared_by(tenant, employee):
            # Marks of shares made after the erasure: the person came back.
            change = feed.FeedChange(marks=((employee, tuple(kept)),))
            await services.feed.record(tenant, change)


# -- link previews ------------------------------------------------------------------------


async def preview(services: Services, url: str) -> Preview:
    try:
        return await services.previewer.preview(url)
    except PreviewRefused as exc:
        raise invalid(("url", f"refused: {exc}")) from exc
    except PreviewFailed as exc:
        raise invalid(("url", f"cannot preview: {exc}")) from exc


# -- guidelines ----------------------------------------------------------------------------


async def publish_guidelines(
    services: Services, user: Principal, title: str, body: str, acknowledgement_required: bool
) -> Guidelines:
    """A new version of the tenant's sharing guidelines."""
    now = services.clock()
    current = await services.repo.current_guidelines(user.tenant)
    version = (current.version if current else 0) + 1
    event = GuidelinesPublished.create(
        tenant_id=user.tenant,
        subject=f"{user.tenant}:{version}",
        event_id=derived_event_id(user.tenant, "guidelines", str(version)),
        traceparent=current_traceparent(),
        data=GuidelinesPublishedData(
            version=version,
            title=title,
            published_at=now,
            published_by=user.employee_id,
            acknowledgement_required=acknowledgement_required,
        ),
    )
    guidelines = Guidelines(
        tenant=user.tenant,
        version=version,
        title=title,
        body=body,
        acknowledgement_required=acknowledgement_required,
        published_at=now,
        published_by=user.employee_id,
    )
    async with services.uow() as uow:
        uow.add(services.repo.guidelines_published(guidelines), [event])
    return guidelines


async def guidelines_versions(
    services: Services, user: Principal, before: int | None, limit: int
) -> list[Guidelines]:
    """Every version of the guidelines, newest first, a page before version `before`."""
    return await services.repo.guidelines_versions(user.tenant, before, limit)


async def guidelines_version(services: Services, user: Principal, version: int) -> Guidelines:
    found = await services.repo.guidelines_version(user.tenant, version)
    if found is None:
        raise NotFound(f"no guidelines version {version}")
    return found


async def acknowledgements_of_version(
    services: Services, user: Principal, version: int, after: str | None, limit: int
) -> list[Acknowledgement]:
    """Who acknowledged one version, by employee id, a page after employee `after`."""
    await guidelines_version(services, user, version)
    return await services.repo.acknowledgements_for(user.tenant, version, after, limit)


async def current_guidelines(
    services: Services, user: Principal
) -> tuple[Guidelines, datetime | None]:
    """The version in force, and when the caller acknowledged it (None: not yet)."""
    current = await services.repo.current_guidelines(user.tenant)
    if current is None:
        raise NotFound("the tenant has published no guidelines yet")
    ack = await services.repo.acknowledgement(user.tenant, user.employee_id, current.version)
    return current, ack.acknowledged_at if ack else None


async def acknowledge(
    services: Services, user: Principal, version: int
) -> tuple[Acknowledgement, bool]:
    """Record that the employee read the current version; True when it is new."""
    current = await services.repo.current_guidelines(user.tenant)
    if current is None or version > current.version:
        raise NotFound(f"no guidelines version {version}")
    if version != current.version:
        raise Conflict(
            f"version {version} is superseded by {current.version}",
            current_version=current.version,
        )
    existing = await services.repo.acknowledgement(user.tenant, user.employee_id, version)
    if existing is not None:
        return existing, False
    now = services.clock()
    event = GuidelinesAcknowledged.create(
        tenant_id=user.tenant,
        subject=user.employee_id,
        event_id=derived_event_id(user.tenant, "acknowledged", user.employee_id, str(version)),
        traceparent=current_traceparent(),
        data=GuidelinesAcknowledgedData(
            employee_id=user.employee_id, guidelines_version=version, acknowledged_at=now
        ),
    )
    ack = Acknowledgement(user.tenant, user.employee_id, version, now)
    async with services.uow() as uow:
        uow.add(services.repo.acknowledgement_recorded(ack), [event])
    if not uow.committed:
        # Acknowledged twice at once: the first write and its event stand.
        again = await services.repo.acknowledgement(user.tenant, user.employee_id, version)
        return again or ack, False
    return ack, True
