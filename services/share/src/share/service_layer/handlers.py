"""Use cases of sharing: advocates, shares, scheduled shares, engagements, content copies."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chassis import outbox
from chassis.auth import TENANT_PATTERN, Principal
from chassis.consumer import Consumed
from chassis.domain_errors import (
    Conflict,
    DependencyFailed,
    DomainError,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
)
from chassis.erasure import Confirmations
from chassis.ids import new_id, short_code
from chassis.telemetry import current_traceparent
from chassis.uow import UnitOfWork
from contracts import (
    AdvocateEnrolled,
    AdvocateEnrolledData,
    AdvocateOptedOut,
    AdvocateOptedOutData,
    AnyEvent,
    AudienceMeasured,
    AudienceMeasuredData,
    ContentPublished,
    ContentRetired,
    ContentUpdated,
    EngagementKind,
    EngagementObserved,
    EngagementObservedData,
    EngagementSource,
    ErasureOrigin,
    ErasureRequested,
    ErasureRequestedData,
    FollowersMeasured,
    FollowersMeasuredData,
    GuidelinesAcknowledged,
    GuidelinesPublished,
    LinkClicked,
    MeasurementSource,
    Network,
    PersonDeactivated,
    PersonDeleted,
    PostShared,
    PostSharedData,
    ShareMethod,
    derived_event_id,
)
from contracts.audience import Audience, Viewer
from contracts.erasure import pseudonym
from contracts.link_domains import DEFAULT_LINK_DOMAINS, on_domains
from contracts.texts import variants as wordings_of
from share.adapters.clicks import ClickRecorder, LinkCache
from share.adapters.mongo import ShareRepository, advocate_key
from share.adapters.networks import Credentials, NetworkPoster, Post, PostingError, TokenVault
from share.adapters.visits import Click, Visits
from share.domain import variants
from share.domain.advocates import (
    Advocate,
    AdvocateStatus,
    ConnectedNetwork,
    DailyCount,
    NetworkToken,
    audience_size,
    cannot_share_as,
    is_leader,
)
from share.domain.clicks import UNIQUE_WINDOW, DailySalts
from share.domain.connectors import CONNECTOR_ID, MAX_CONNECTORS, Connector, connector_secret
from share.domain.content import ContentItem
from share.domain.engagements import engagement_on_share
from share.domain.followers import FollowersMeasurement
from share.domain.links import (
    Refusal,
    campaign_of,
    cannot_share,
    short_link,
    with_utm,
)
from share.domain.settings import (
    TenantSettings,
    report_ahead,
    report_expired,
    reports_forgotten_before,
)
from share.domain.shares import Share, ShareStatus, takes_engagement
from share.service_layer import buddies as buddy_pairs

log = logging.getLogger(__name__)

# How long a worker owns a due scheduled share while it posts it.
POSTING_CLAIM = timedelta(minutes=2)


@dataclass
class Services:
    repo: ShareRepository
    shares_outbox: outbox.Outbox
    advocates_outbox: outbox.Outbox
    engagements_outbox: outbox.Outbox
    clicks: ClickRecorder | None  # the api's; the worker records no clicks
    links_cache: LinkCache
    salts: DailySalts
    vault: TokenVault
    public_base_url: str
    default_daily_cap: int
    link_secret: bytes
    webhook_secret: bytes
    posters: Mapping[str, NetworkPoster] = field(default_factory=dict)
    followers_outbox: outbox.Outbox | None = None
    buddies: buddy_pairs.Buddies | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    uow: Callable[[], UnitOfWork] = UnitOfWork
    # Share's ErasureCompleted, once an erasure is done here (None: confirms nothing).
    confirmations: Confirmations | None = None
    # The worker's: whether a click is unique, and where its EngagementObserved goes.
    visits: Visits | None = None
    publish_many: Callable[[Sequence[EngagementObserved]], Awaitable[None]] | None = None


# -- content and guidelines, as learnt from the content service ------------------------


async def on_content_events(services: Services, batch: list[Consumed[Any]]) -> None:
    """Keep the local copy of shareable content and guidelines, a batch at a time."""
    snapshots: dict[str, tuple[datetime, dict[str, Any]]] = {}
    retirements: dict[str, tuple[str, dict[str, Any]]] = {}
    guidelines: dict[str, tuple[int, dict[str, Any]]] = {}
    acknowledgements: dict[tuple[str, str], tuple[int, datetime]] = {}
    for item in batch:
        event = item.event
        if isinstance(event, ContentPublished | ContentUpdated):
            data = event.data
            doc_id = f"{event.tenantid}:{data.content_id}"
            if doc_id in snapshots and snapshots[doc_id][0] > event.time:
                continue
            snapshots[doc_id] = (
                event.time,
                {
                    "tenant": event.tenantid,
                    "content_id": data.content_id,
                    "title": data.title,
                    "kind": data.kind.value,
                    "url": str(data.url) if data.url else None,
                    "summary": data.summary,
                    "image_url": str(data.image_url) if data.image_url else None,
                    "campaign_id": data.campaign_id,
                    "topics": list(data.topics),
                    "audience": data.audience.model_dump(),
                    "suggested_texts": {k.value: v for k, v in data.suggested_texts.items()},
                    "text_variants": {k.value: list(v) for k, v in data.text_variants.items()},
                    "publish_at": data.publish_at,
                    "expires_at": data.expires_at,
                },
            )
        elif isinstance(event, ContentRetired):
            retirements[f"{event.tenantid}:{event.data.content_id}"] = (
                event.tenantid,
                {"retired_at": event.data.retired_at, "retired_reason": event.data.reason.value},
            )
        elif isinstance(event, GuidelinesPublished):
            version = event.data.version
            if event.tenantid not in guidelines or guidelines[event.tenantid][0] < version:
                guidelines[event.tenantid] = (
                    version,
                    {
                        "title": event.data.title,
                        "acknowledgement_required": event.data.acknowledgement_required,
                        "published_at": event.data.published_at,
                    },
                )
        elif isinstance(event, GuidelinesAcknowledged):
            key = (event.tenantid, event.data.employee_id)
            version, at = acknowledgements.get(key, (0, event.data.acknowledged_at))
            acknowledgements[key] = (
                max(version, event.data.guidelines_version),
                max(at, event.data.acknowledged_at),
            )
    await services.repo.apply_content(snapshots, retirements)
    await services.repo.apply_guidelines(guidelines)
    await services.repo.apply_acknowledgements(acknowledgements)


# -- advocates ------------------------------------------------------------------------


def _enrolled_event(advocate: Advocate) -> AdvocateEnrolled:
    networks = advocate.networks
    return AdvocateEnrolled.create(
        tenant_id=advocate.tenant,
        subject=advocate.employee_id,
        traceparent=current_traceparent(),
        data=AdvocateEnrolledData(
            employee_id=advocate.employee_id,
            employee_groups=list(advocate.groups),
            location=advocate.location,
            consent_at=advocate.consent_at,
            guidelines_version=advocate.guidelines_version,
            networks=sorted(networks),
            audience_sizes={n: v.audience_size for n, v in networks.items()},
        ),
    )


async def _write_advocate(
    services: Services,
    current: Advocate | None,
    new_state: Advocate,
    event: AdvocateEnrolled | AdvocateOptedOut,
    *more: AnyEvent,
) -> Advocate:
    """Write the advocate's new state with its events, unless someone changed it meanwhile;
    returns the state written."""
    # Optimistic: the event describes the state we computed, so only that state may land.
    async with services.uow() as uow:
        uow.add(
            services.repo.advocate_saved(services.advocates_outbox, current, new_state),
            [event, *more],
        )
    return replace(new_state, rev=(current.rev if current else 0) + 1)


async def enroll(
    services: Services, user: Principal, guidelines_version: int | None
) -> tuple[Advocate, bool]:
    """Join the program (explicit consent); returns the advocate and whether it is new."""
    current = await services.repo.advocate(user.tenant, user.employee_id)
    if current is not None and current.status == AdvocateStatus.ENROLLED:
        return current, False
    if current is not None and current.pseudonym:
        # Erased, and the erasure not finished (cut short): finished first, then joined anew.
        await _erase(services, user.tenant, user.employee_id, current.pseudonym)
        current = await services.repo.advocate(user.tenant, user.employee_id)
        if current is not None:
            raise Conflict(
                "your erasure is still being completed; try again", title="Changed meanwhile"
            )
    if guidelines_version is None:
        guidelines = await services.repo.current_guidelines(user.tenant)
        guidelines_version = guidelines.version if guidelines else 0
    now = services.clock()
    state = Advocate(
        tenant=user.tenant,
        employee_id=user.employee_id,
        status=AdvocateStatus.ENROLLED,
        consent_at=now,
        guidelines_version=guidelines_version,
        groups=tuple(sorted(user.groups)),
        location=user.location,
        languages=tuple(sorted(user.languages)),
        networks=current.networks if current else {},
        opted_out_at=None,
        deleted_version=current.deleted_version if current else None,
        rev=current.rev if current else 0,
    )
    written = await _write_advocate(services, current, state, _enrolled_event(state))
    return written, True


# How many values one axis of an audience counted may hold, and how long each.
AXIS_VALUES = 200
AXIS_VALUE_LENGTH = 200


async def audience_count(
    services: Services,
    user: Principal,
    groups: list[str],
    locations: list[str],
    languages: list[str],
) -> int:
    """How many enrolled advocates an audience reaches, by the one targeting rule."""
    for name, values in (("groups", groups), ("locations", locations), ("languages", languages)):
        if len(values) > AXIS_VALUES or any(len(v) > AXIS_VALUE_LENGTH for v in values):
            message = "at most 200 values of at most 200 characters"
            raise Invalid(f"{name}: {message}", errors=[(name, message)])
    wanted = Audience.of(groups, locations, languages)
    return sum(map(wanted.admits, await services.repo.enrolled_viewers(user.tenant)))


def ever_joined(advocate: Advocate | None) -> bool:
    """Whether the record is of someone who joined once: the directory's erasure of a
    person who never did leaves one too, only to announce it (see `_deleted`)."""
    return advocate is not None and advocate.consent_at is not None


async def membership(services: Services, user: Principal) -> tuple[Advocate, bool]:
    """The caller's advocate record, and whether they are one of the tenant's leaders."""
    advocate = await services.repo.advocate(user.tenant, user.employee_id)
    if advocate is None or not ever_joined(advocate):
        raise NotFound("you have not joined the advocacy program")
    settings = await services.repo.settings(user.tenant)
    return advocate, is_leader(user.groups, settings.leaders_group)


def posting_credentials(access_token: str | None, author: str | None) -> Credentials | None:
    """The token to post with on the person's behalf, if they gave one: with its author."""
    if (access_token is None) != (author is None):
        raise Invalid(
            "access_token and author go together", errors=[("author", "required with access_token")]
        )
    if access_token is None or author is None:
        return None
    return Credentials(access_token=access_token, author=author)


async def _enrolled(services: Services, user: Principal) -> Advocate:
    current = await services.repo.advocate(user.tenant, user.employee_id)
    if current is None or current.status != AdvocateStatus.ENROLLED:
        raise Forbidden(
            "join the advocacy program first (POST /api/v1/advocates/me)", title="Not an advocate"
        )
    return current


async def connect_network(
    services: Services,
    user: Principal,
    network: Network,
    audience: int,
    credentials: Credentials | None,
    token_expires_at: datetime | None,
) -> Advocate:
    """Connect a network (or update its audience size), optionally with a posting token."""
    current = await _enrolled(services, user)
    if credentials is not None:
        if network.value not in services.posters:
            raise Invalid(
                f"access_token: direct posting is not available for {network.value}",
                errors=[("access_token", "no direct posting")],
            )
        await services.vault.store(
            user.tenant, user.employee_id, network.value, credentials, token_expires_at
        )
    networks = dict(current.networks)
    before = networks.get(network)
    networks[network] = ConnectedNetwork(
        audience_size=audience,
        connected_at=before.connected_at if before else services.clock(),
        direct_posting=credentials is not None or (before is not None and before.direct_posting),
    )
    state = replace(current, networks=networks)
    # Each size given is a point of the audience's history, kept by measurement.
    measured = AudienceMeasured.create(
        tenant_id=user.tenant,
        subject=user.employee_id,
        traceparent=current_traceparent(),
        data=AudienceMeasuredData(
            measurement_id=new_id(),
            employee_id=user.employee_id,
            network=network,
            audience_size=audience,
            measured_at=services.clock(),
            source=MeasurementSource.PERSON,
        ),
    )
    return await _write_advocate(services, current, state, _enrolled_event(state), measured)


# -- the company page's followers -------------------------------------------------------


# How far ahead of our clock a measurement's time may be (the admin's clock runs ahead).
MEASUREMENT_SKEW = timedelta(minutes=5)


async def record_followers(
    services: Services,
    user: Principal,
    network: Network,
    followers: int,
    measured_at: datetime | None,
) -> FollowersMeasurement:
    """One measurement of the company page's followers on a network, from the program team
    (taken now unless `measured_at` says when)."""
    assert services.followers_outbox is not None
    now = services.clock()
    at = measured_at.astimezone(UTC) if measured_at else now
    if at > now + MEASUREMENT_SKEW:
        raise Invalid(
            "measured_at: must not be in the future", errors=[("measured_at", "in the future")]
        )
    measurement_id = new_id()
    event = FollowersMeasured.create(
        tenant_id=user.tenant,
        subject=network.value,
        traceparent=current_traceparent(),
        data=FollowersMeasuredData(
            measurement_id=measurement_id,
            network=network,
            followers=followers,
            measured_at=at,
            source=MeasurementSource.ADMIN,
        ),
    )
    measured = FollowersMeasurement(
        id=measurement_id,
        tenant=user.tenant,
        network=network,
        followers=followers,
        measured_at=at,
        source=MeasurementSource.ADMIN,
        recorded_by=user.employee_id,
        recorded_at=services.clock(),
    )
    async with services.uow() as uow:
        uow.add(services.repo.followers_recorded(services.followers_outbox, measured), [event])
    return measured


async def disconnect_network(services: Services, user: Principal, network: Network) -> Advocate:
    current = await _enrolled(services, user)
    networks = dict(current.networks)
    if network not in networks:
        raise NotFound(f"network: {network.value} is not connected")
    del networks[network]
    await services.vault.forget(user.tenant, user.employee_id, network.value)
    state = replace(current, networks=networks)
    return await _write_advocate(services, current, state, _enrolled_event(state))


async def opt_out(services: Services, user: Principal, erase: bool) -> Advocate:
    """Leave the program: shares stop, tokens are forgotten, rankings drop the advocate;
    with `erase`, nothing of share's names the person any more (see `_erase`)."""
    current = await _enrolled(services, user)
    return await _leave(services, user.tenant, user.employee_id, current, erase)


async def request_erasure(services: Services, user: Principal) -> tuple[str, bool]:
    """Erase the caller everywhere, whether they are in the program, left it or never
    joined: share announces it (AdvocateOptedOut with `erase`, and ErasureRequested) and
    every service erases them and confirms. Returns the request's id and whether they were
    in the program. An erasure of theirs still under way is finished, not asked for twice."""
    current = await services.repo.advocate(user.tenant, user.employee_id)
    if current is not None and current.pseudonym:
        await _erase(services, user.tenant, user.employee_id, current.pseudonym)
        return current.erasure_request or "", False
    was_member = current is not None and current.status == AdvocateStatus.ENROLLED
    written = await _leave(services, user.tenant, user.employee_id, current, erase=True)
    return written.erasure_request or "", was_member


async def _leave(
    services: Services,
    tenant: str,
    employee_id: str,
    current: Advocate | None,
    erase: bool,
    *,
    event_id: str | None = None,
    deleted_version: int | None = None,
    origin: ErasureOrigin = ErasureOrigin.PERSON,
) -> Advocate:
    """Opt the person out (and with `erase`, erase them), announcing it with AdvocateOptedOut;
    `current` is None for someone who never joined (only an erasure asks for that)."""
    now = services.clock()
    event = AdvocateOptedOut.create(
        tenant_id=tenant,
        subject=employee_id,
        event_id=event_id,
        traceparent=current_traceparent(),
        data=AdvocateOptedOutData(
            employee_id=employee_id,
            opted_out_at=now,
            erase=erase,
            member=current is not None and current.status == AdvocateStatus.ENROLLED,
        ),
    )
    before = current or Advocate(tenant, employee_id, AdvocateStatus.OPTED_OUT)
    state = replace(
        before,
        status=AdvocateStatus.OPTED_OUT,
        opted_out_at=now,
        deleted_version=before.deleted_version if deleted_version is None else deleted_version,
    )
    if not erase:
        written = await _write_advocate(services, current, state, event)
        await _stop(services, tenant, employee_id)
        return written
    # The name the person's kept records go by in every service, from this event; written
    # with it, so that whoever finishes the erasure (a redelivery, the worker's sweep)
    # uses the same one. The event's id is the erasure request every service confirms;
    # ErasureRequested says so, in the same write, without naming the person.
    name = pseudonym(event.id)
    state = replace(
        state,
        networks={},
        groups=(),
        location=None,
        languages=(),
        pseudonym=name,
        erasure_request=event.id,
    )
    requested = ErasureRequested.create(
        tenant_id=tenant,
        subject=event.id,
        event_id=derived_event_id("erasure-requested", event.id),
        time=now,
        traceparent=event.traceparent,
        data=ErasureRequestedData(request_id=event.id, requested_at=now, origin=origin),
    )
    written = await _write_advocate(services, current, state, event, requested)
    await _erase(services, tenant, employee_id, name)
    return written


async def _stop(services: Services, tenant: str, employee_id: str) -> None:
    """What leaving the program does besides the advocate's own document; idempotent."""
    await services.vault.forget(tenant, employee_id)
    await services.repo.stop_shares_of(tenant, employee_id)


async def _erase(services: Services, tenant: str, employee_id: str, name: str) -> None:
    """The rest of an erasure, once its AdvocateOptedOut is written: afterwards no document
    of share's names the person. Shares go by the pseudonym `name`; what must be remembered
    (that they were erased, when, under which name, which deletion by HR) is kept under
    their `person_key`. Idempotent, and the advocate's document, which says an erasure is
    under way, goes last: a redelivery or the worker's sweep finishes what a crash cut short.
    """
    await _stop(services, tenant, employee_id)
    if services.buddies is not None:
        who = Principal(employee_id=employee_id, tenant=tenant, roles=frozenset())
        await buddy_pairs.forget(services.buddies, who)
    await services.repo.erase_shares(tenant, employee_id, name)
    await services.repo.erase_records(tenant, employee_id, name)
    found = await services.repo.advocate_with_pending(tenant, employee_id)
    if found is None or found[0].pseudonym != name:
        # Done before (or they joined anew since): confirmed then, unless a crash came first.
        await _confirm_erasure(services, tenant, employee_id, name)
        return
    advocate, events_pending = found
    await services.repo.remember_erasure(tenant, employee_id, advocate)
    if events_pending:
        # Its AdvocateOptedOut is not out yet (a crash came first, or Kafka is away), and
        # the document carries it: the document goes once it is out.
        try:
            await services.advocates_outbox.flush(advocate_key(tenant, employee_id))
        except Exception as exc:
            # Not lost: it stays staged, the relay publishes it, and the worker's sweep
            # (`finish_erasures`) deletes the document then.
            log.warning("erasure waits for its event", extra={"error": repr(exc)})
            return
    if await services.repo.drop_erased_advocate(tenant, employee_id, name):
        await _confirm_erasure(services, tenant, employee_id, name)


async def _confirm_erasure(services: Services, tenant: str, employee_id: str, name: str) -> None:
    """Share's ErasureCompleted for the erasure under `name`, once its advocate's document
    is gone (nothing of share's names the person then); at most once per request."""
    erased = await services.repo.erased(tenant, employee_id)
    if services.confirmations is None or erased is None or erased.pseudonym != name:
        return
    if erased.request_id:  # erasures begun before requests were confirmed have none
        await services.confirmations.confirm(tenant, erased.request_id, services.clock())


# How long an erasure may take before the worker's sweep takes it for one cut short.
ERASURE_GRACE = timedelta(minutes=5)


async def finish_erasures(services: Services) -> int:
    """Finish the erasures a crash left half done (an erasure request answered, say, but
    not carried out to the end); returns how many were found."""
    unfinished = await services.repo.unfinished_erasures(services.clock() - ERASURE_GRACE)
    for erasure in unfinished:
        await _erase(services, erasure.tenant, erasure.employee_id, erasure.pseudonym)
    return len(unfinished)


# -- people, as HR's directory says (chassis.directory applied the events first) ----------


async def on_people(services: Services, batch: list[Consumed[Any]]) -> None:
    """A person the directory deactivated leaves the program as by their own opt-out; one
    it deleted is erased as by an erasure request, whether they ever joined or not.

    Only events that are their person's latest state come here; a redelivered one comes
    again and finds its effect done."""
    for item in batch:
        event = item.event
        if isinstance(event, PersonDeactivated):
            await _deactivated(services, event)
        elif isinstance(event, PersonDeleted):
            await _deleted(services, event)


async def _deactivated(services: Services, event: PersonDeactivated) -> None:
    tenant, employee_id = event.tenantid, event.data.employee_id
    current = await services.repo.advocate(tenant, employee_id)
    if current is None:
        return  # never joined, or erased: nothing to stop
    if current.pseudonym:
        await _erase(services, tenant, employee_id, current.pseudonym)
        return
    if current.status != AdvocateStatus.ENROLLED:
        # Out already (this event's opt-out, maybe, cut short by a crash): the rest again.
        await _stop(services, tenant, employee_id)
        return
    await _leave(
        services,
        tenant,
        employee_id,
        current,
        erase=False,
        event_id=derived_event_id("advocate-opted-out", event.id),
    )


async def _deleted(services: Services, event: PersonDeleted) -> None:
    tenant, employee_id, version = event.tenantid, event.data.employee_id, event.data.version
    current = await services.repo.advocate(tenant, employee_id)
    # Remembered so that the deletion is announced once, however often it is delivered: on
    # the advocate's document while the erasure is under way, under the person's key after.
    for done in (current, await services.repo.erased(tenant, employee_id)):
        if done is not None and (done.deleted_version or 0) >= version:
            # Announced already: a redelivery; the rest again, in case a crash cut it short.
            if done.pseudonym:
                await _erase(services, tenant, employee_id, done.pseudonym)
            return
    await _leave(
        services,
        tenant,
        employee_id,
        current,
        erase=True,
        # Derived from the deletion, so the erasure's pseudonym is the same on every delivery.
        event_id=derived_event_id("advocate-erased", event.id),
        deleted_version=version,
        origin=ErasureOrigin.DIRECTORY,
    )


# -- the domains own posts may lead to without a stop ------------------------------------


def link_domains_of(settings: TenantSettings) -> list[str]:
    """The tenant's link domains (see `contracts.link_domains`), or the default list."""
    stored = settings.link_domains
    return list(stored) if stored is not None else list(DEFAULT_LINK_DOMAINS)


async def link_domains(services: Services, tenant: str) -> list[str]:
    return link_domains_of(await services.repo.settings(tenant))


async def set_link_domains(services: Services, tenant: str, domains: list[str]) -> list[str]:
    """Replace the tenant's link domains (normalised, see `contracts.link_domains`); own
    posts shared from then on are judged by the new list."""
    unique = sorted(set(domains))
    saved = await services.repo.save_settings(tenant, {"link_domains": unique})
    return link_domains_of(saved)


# -- how long engagement reports are kept ---------------------------------------------


async def retention_days(services: Services, tenant: str) -> int:
    return (await services.repo.settings(tenant)).retention_days


async def set_retention_days(services: Services, tenant: str, days: int) -> int:
    """The tenant's engagement retention (`contracts.retention`), as metrics has it: reports
    are kept that long, and engagement older than that refused."""
    saved = await services.repo.save_settings(tenant, {"detail_retention_days": days})
    return saved.retention_days


# -- shares ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareRequest:
    network: Network
    content_id: str | None = None
    text: str | None = None
    url: str | None = None
    title: str | None = None
    method: ShareMethod = ShareMethod.INTENT
    scheduled_at: datetime | None = None
    # The variant of the suggested text the person started from, when there are several.
    text_variant: int | None = None
    # The draft of this own post the person's buddy saw; posting it marks it posted.
    draft_id: str | None = None


def _viewer(user: Principal) -> Viewer:
    return Viewer(user.groups, user.location, user.languages)


async def _check_advocate(services: Services, tenant: str, employee_id: str) -> Advocate:
    advocate = await services.repo.advocate(tenant, employee_id)
    guidelines = await services.repo.current_guidelines(tenant)
    acknowledged = await services.repo.acknowledged_version(tenant, employee_id)
    if reason := cannot_share_as(advocate, guidelines, acknowledged):
        raise Forbidden(reason, title="Cannot share")
    assert advocate is not None
    return advocate


_REFUSAL_KIND: dict[str, type[DomainError]] = {
    "unknown": NotFound,
    "not_targeted": Forbidden,
    "unavailable": Conflict,
}


def _content_refusal(refusal: Refusal) -> DomainError:
    return _REFUSAL_KIND[refusal.kind](refusal.reason, title="Cannot share")


async def _daily_slot(
    services: Services, user: Principal, day: datetime, settings: TenantSettings
) -> str:
    cap = int(settings.daily_share_cap or services.default_daily_cap)
    key = f"{user.tenant}:{user.employee_id}:{day.date().isoformat()}"
    if not await services.repo.take_daily_slot(key, cap, day):
        raise LimitReached(
            f"at most {cap} shares a day; try again tomorrow",
            title="Daily share cap reached",
            cap=cap,
        )
    return key


def _posted_event(share: Share, public_base_url: str) -> PostShared:
    return PostShared.create(
        tenant_id=share.tenant,
        subject=share.id,
        # Derived from the share, so a retried post announces the same event.
        event_id=derived_event_id("post-shared", share.id),
        traceparent=current_traceparent(),
        data=PostSharedData(
            share_id=share.id,
            content_id=share.content_id,
            employee_id=share.employee_id,
            employee_groups=list(share.employee_groups),
            network=share.network,
            short_code=share.short_code,
            tracked_url=short_link(public_base_url, share.short_code),
            shared_at=share.shared_at,
            audience_size=share.audience_size,
            method=share.method,
            campaign_id=share.campaign_id,
            content_kind=share.content_kind,
            employee_location=share.viewer.location if share.viewer else None,
            content_topics=list(share.content_topics),
            text_variant=share.text_variant,
            text_edited=share.text_edited,
            by_leader=share.by_leader,
            post_url=share.post_url,
            post_title=share.post_title,
        ),
    )


async def share(services: Services, user: Principal, request: ShareRequest) -> Share:
    """Create a share with its own short link: now by intent or API, or scheduled."""
    now = services.clock()
    advocate = await _check_advocate(services, user.tenant, user.employee_id)
    content: ContentItem | None = None
    if request.content_id is not None:
        content = await services.repo.shareable(user.tenant, request.content_id)
        if refusal := cannot_share(content, _viewer(user), now):
            raise _content_refusal(refusal)
        assert content is not None
        destination = str(content.url)
        title = content.title
        text = request.text or content.suggested_texts.get(request.network.value, "")
        wordings = _wordings(content, request.network)
        if request.text_variant is not None:
            if request.text_variant >= len(wordings):
                raise Invalid(
                    f"text_variant: the item has {len(wordings)} variants for this network",
                    errors=[("text_variant", "no such variant")],
                )
            text = request.text or wordings[request.text_variant]
    elif request.url is None:
        raise Invalid(
            "url: an own post needs the link it shares",
            errors=[("url", "required without content_id")],
        )
    else:
        destination, title, text = request.url, request.title or "", request.text or ""

    if request.draft_id is not None:
        if request.content_id is not None or services.buddies is None:
            raise Invalid(
                "draft_id: only an own post comes from a draft",
                errors=[("draft_id", "only with an own post")],
            )
        await buddy_pairs.check_postable(services.buddies, user, request.draft_id)
    method = ShareMethod.SCHEDULED if request.scheduled_at is not None else request.method
    credentials = None
    if method != ShareMethod.INTENT:
        credentials = await _direct_posting(services, user, request)
    if request.scheduled_at is not None and request.scheduled_at <= now:
        raise Invalid(errors=[("scheduled_at", "must be in the future")])

    settings = await services.repo.settings(user.tenant)
    slot = await _daily_slot(services, user, request.scheduled_at or now, settings)
    share_id = new_id()
    campaign = campaign_of(content.campaign_id if content else None, request.content_id)
    target_url = with_utm(
        destination, network=request.network.value, campaign=campaign, share_id=share_id
    )
    leader = is_leader(user.groups, settings.leaders_group)
    status, shared_at = {
        ShareMethod.SCHEDULED: (ShareStatus.SCHEDULED, None),
        ShareMethod.API: (ShareStatus.POSTING, None),
    }.get(method, (ShareStatus.SHARED, now))
    made = Share(
        id=share_id,
        tenant=user.tenant,
        employee_id=user.employee_id,
        network=request.network,
        # Drawn when it is written.
        short_code="",
        target_url=target_url,
        status=status,
        method=method,
        content_id=request.content_id,
        content_kind=content.kind if content else None,
        campaign_id=content.campaign_id if content else None,
        content_topics=content.topics if content else (),
        employee_groups=tuple(sorted(user.groups)),
        viewer=_viewer(user),
        text=text,
        title=title,
        summary=content.summary if content else "",
        image_url=content.image_url if content else None,
        audience_size=audience_size(advocate, request.network.value),
        # Decided once, here, so a click costs no lookup of the tenant's list: a content
        # item's link was published by the curators; an own post's only when it is on the
        # list (else its short link shows a page saying where it leads, see
        # share.entrypoints.redirect).
        target_allowed=content is not None or on_domains(target_url, link_domains_of(settings)),
        by_leader=leader,
        # Colleagues are shown a leader's own post, to react on and reshare.
        post_url=destination if leader and content is None else None,
        post_title=(title[:300] or None) if leader and content is None else None,
        text_variant=request.text_variant if content is not None else None,
        text_edited=variants.edited(wordings[request.text_variant], text)
        if content is not None and request.text_variant is not None
        else None,
        created_at=now,
        scheduled_at=request.scheduled_at if method == ShareMethod.SCHEDULED else None,
        shared_at=shared_at,
    )
    try:
        made = await _insert_with_code(services, made)
    except BaseException:
        await services.repo.give_back_daily_slot(slot)
        raise
    if request.draft_id is not None and services.buddies is not None:
        await buddy_pairs.mark_posted(services.buddies, user, request.draft_id, share_id)
    if request.content_id is not None and request.text_variant is not None:
        await _shared_variant(
            services, user, request.content_id, request.network, request.text_variant, wordings
        )
    if method == ShareMethod.API:
        assert credentials is not None
        return await _post_via_api(services, made, credentials)
    return made


# -- variants of a suggested text --------------------------------------------------------

# Attempts to count a choice before counting it regardless (a crowd of colleagues at once).
VARIANT_ATTEMPTS = 50


@dataclass(frozen=True)
class Offer:
    variant: int
    count: int
    text: str
    shared: bool


def _wordings(content: ContentItem, network: Network) -> list[str]:
    return wordings_of(content.suggested_texts, content.text_variants, network)


def _usage_key(tenant: str, content_id: str, network: Network) -> str:
    return f"{tenant}:{content_id}:{network.value}"


async def offer_variants(
    services: Services, user: Principal, content_id: str, network: Network | None = None
) -> dict[Network, Offer]:
    """The wording of the suggested text offered to the caller, per network (or for one).

    Where the curators wrote several, the caller gets the one their colleagues used least
    and keeps it (or the one they shared) from then on; see `share.domain.variants`.
    """
    content = await services.repo.shareable(user.tenant, content_id)
    if refusal := cannot_share(content, _viewer(user), services.clock()):
        raise _content_refusal(refusal)
    assert content is not None
    offers: dict[Network, Offer] = {}
    for each in [network] if network is not None else list(Network):
        wordings = _wordings(content, each)
        if not wordings:
            continue
        variant, shared = 0, False
        if len(wordings) > 1:
            key = _usage_key(user.tenant, content_id, each)
            variant, shared = await _assign_variant(services, user, key, len(wordings))
        offers[each] = Offer(variant, len(wordings), wordings[variant], shared)
    return offers


async def _assign_variant(
    services: Services, user: Principal, key: str, count: int
) -> tuple[int, bool]:
    offered = await services.repo.variant_offer(key, user.employee_id)
    if offered is not None and offered.variant < count:
        return offered.variant, offered.shared
    choice = await _count_use(services, user, key, count)
    if offered is not None:
        # The curators took away the variant this person had.
        await services.repo.change_variant_offer(key, user.employee_id, choice, False)
        return choice, False
    # A concurrent request of the same person may have been first: theirs stands (and this
    # use stays counted, one too many, which only makes this variant a little less likely).
    kept = await services.repo.save_variant_offer(key, user.tenant, user.employee_id, choice, False)
    return kept.variant, kept.shared


async def _count_use(
    services: Services, user: Principal, key: str, count: int, variant: int | None = None
) -> int:
    """Count one use of the least-used variant (or of `variant`), and return which.

    The n-th use of a variant can be counted once only, so when colleagues count at the
    same moment all but one read the uses again and choose anew: whoever counts, counts
    the variant that is least used at that moment.
    """
    for attempt in range(VARIANT_ATTEMPTS):
        used = await services.repo.variant_uses_of(key, count)
        choice = variants.pick(used, user.employee_id) if variant is None else variant
        if await services.repo.claim_variant_use(key, choice, used[choice]):
            return choice
        await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    # A crowd: count the choice of the last reading at the next free number.
    number = used[choice] + 1
    while not await services.repo.claim_variant_use(key, choice, number):
        number += 1
    return choice


async def _shared_variant(
    services: Services,
    user: Principal,
    content_id: str,
    network: Network,
    variant: int,
    wordings: list[str],
) -> None:
    """Keep the variant a share started from as the person's; count it if it is new."""
    key = _usage_key(user.tenant, content_id, network)
    offered = await services.repo.variant_offer(key, user.employee_id)
    if offered is not None and offered.variant == variant:
        if not offered.shared:
            await services.repo.change_variant_offer(key, user.employee_id, variant, True)
        return
    await _count_use(services, user, key, len(wordings), variant)
    if offered is None:
        await services.repo.save_variant_offer(key, user.tenant, user.employee_id, variant, True)
    else:
        await services.repo.change_variant_offer(key, user.employee_id, variant, True)


async def _direct_posting(
    services: Services, user: Principal, request: ShareRequest
) -> Credentials:
    if request.network.value not in services.posters:
        raise Invalid(
            f"network: direct and scheduled posting are not available for {request.network.value}",
            errors=[("network", "no direct posting for this network")],
        )
    credentials = await services.vault.load(user.tenant, user.employee_id, request.network.value)
    if credentials is None:
        raise Conflict(
            f"connect your {request.network.value} account with a token first "
            f"(PUT /api/v1/advocates/me/networks/{request.network.value})",
            title="Network not connected",
        )
    return credentials


async def _insert_with_code(services: Services, share: Share) -> Share:
    for _ in range(5):
        share = replace(share, short_code=short_code())
        shared = share.status == ShareStatus.SHARED
        events = [_posted_event(share, services.public_base_url)] if shared else []
        try:
            async with services.uow() as uow:
                uow.add(services.repo.share_created(services.shares_outbox, share), events)
        except Conflict:
            continue  # a short code collision: draw another
        return share
    raise Conflict("could not allocate a short code", title="Try again")


async def _post_via_api(services: Services, share: Share, credentials: Credentials) -> Share:
    """Post through the network's API; on success the share is announced as PostShared."""
    poster = services.posters[share.network.value]
    link = short_link(services.public_base_url, share.short_code)
    try:
        post_id = await poster.post(
            credentials,
            Post(text=share.text, link=link, title=share.title, description=share.summary),
        )
    except PostingError as exc:
        await services.repo.mark_share_failed(share.id, str(exc)[:500])
        made_at = share.scheduled_at or share.created_at
        assert made_at is not None
        day = made_at.date().isoformat()
        await services.repo.give_back_daily_slot(f"{share.tenant}:{share.employee_id}:{day}")
        raise DependencyFailed(
            str(exc)[:500], title="The network refused the post", network=share.network.value
        ) from exc
    shared = replace(
        share, status=ShareStatus.SHARED, shared_at=services.clock(), network_post_id=post_id
    )
    event = _posted_event(shared, services.public_base_url)
    async with services.uow() as uow:
        assert shared.shared_at is not None
        posted = services.repo.share_posted(
            services.shares_outbox, share.id, shared.shared_at, post_id
        )
        uow.add(posted, [event])
    return shared


async def fire_due_shares(services: Services) -> int:
    """Post the scheduled shares that are due; returns how many were handled."""
    handled = 0
    while True:
        now = services.clock()
        claimed = await services.repo.claim_due_share(now, now + POSTING_CLAIM)
        if claimed is None:
            return handled
        handled += 1
        await _fire(services, claimed, now)


async def _fire(services: Services, share: Share, now: datetime) -> None:
    tenant, employee_id = share.tenant, share.employee_id
    try:
        await _check_advocate(services, tenant, employee_id)
        if share.content_id is not None:
            content = await services.repo.shareable(tenant, share.content_id)
            viewer = share.viewer or Viewer(frozenset(), None, ())
            if refusal := cannot_share(content, viewer, now):
                raise _content_refusal(refusal)
        network = share.network.value
        credentials = await services.vault.load(tenant, employee_id, network)
        if credentials is None:
            raise Conflict(f"no {network} token", title="Network not connected")
        await _post_via_api(services, share, credentials)
    except DomainError as refused:
        await services.repo.cancel_posting_share(share.id, refused.detail or refused.title)
        log.info(
            "scheduled share not posted",
            extra={"share_id": share.id, "reason": refused.detail or refused.title},
        )


async def purge(services: Services) -> dict[str, int]:
    """Drop visits past the unique window, published click batches and old day counters,
    and finish the erasures a crash left half done."""
    now = services.clock()
    removed = await services.repo.purge(now, now - UNIQUE_WINDOW)
    return {**removed, "erasures": await finish_erasures(services)}


async def forget_engagements(services: Services) -> int:
    """Delete the engagement reports received longer ago than their tenant keeps engagement
    in detail (and a day: see `contracts.retention`); returns how many went. What they
    added up to stays: the share's counters are kept apart (`count_engagements`)."""
    now = services.clock()
    kept = await services.repo.retentions()
    return await services.repo.forget_engagements(
        {tenant: reports_forgotten_before(now, days) for tenant, days in kept.items()},
        reports_forgotten_before(now, TenantSettings().retention_days),
    )


async def share_of(services: Services, user: Principal, share_id: str) -> Share:
    """One share of the caller's tenant with its engagement counters: their own, or anyone's
    for curators and admins."""
    found = await services.repo.share(user.tenant, share_id)
    if found is None or (
        found.employee_id != user.employee_id and not user.has_any(("curator", "admin"))
    ):
        raise NotFound(f"no share {share_id}")
    counters = (await services.repo.counters([share_id])).get(share_id) or {}
    return replace(found, engagement=counters)


async def history(
    services: Services,
    user: Principal,
    employee_id: str | None,
    content_id: str | None,
    before: str | None,
    limit: int,
) -> list[Share]:
    """Shares per advocate or per content item; employees see their own, admins everyone's."""
    manager = user.has_any(("curator", "admin"))
    if employee_id is None and not manager:
        employee_id = user.employee_id
    if employee_id is not None and employee_id != user.employee_id and not manager:
        raise Forbidden("employee_id: only your own shares")
    found = await services.repo.share_history(user.tenant, employee_id, content_id, before, limit)
    counters = await services.repo.counters([s.id for s in found])
    return [replace(s, engagement=counters[s.id]) if s.id in counters else s for s in found]


@dataclass(frozen=True)
class MyShareData:
    """What sharing holds about one employee: a page of their shares (with engagement
    counters) and, on the first page, their other records."""

    shares: list[Share]
    advocate: Advocate | None = None
    acknowledged_version: int | None = None
    network_tokens: list[NetworkToken] | None = None
    daily_counts: list[DailyCount] | None = None


async def my_data(
    services: Services, user: Principal, before: str | None, limit: int
) -> MyShareData:
    """The caller's own data for its download: never a token, never a visitor of theirs."""
    shares = await history(services, user, user.employee_id, None, before, limit)
    if before is not None:
        return MyShareData(shares)
    repo = services.repo
    acknowledged = await repo.acknowledged_version(user.tenant, user.employee_id)
    return MyShareData(
        shares,
        advocate=await repo.advocate(user.tenant, user.employee_id),
        acknowledged_version=acknowledged or None,
        network_tokens=await repo.network_tokens_of(user.tenant, user.employee_id),
        daily_counts=await repo.daily_counts_of(user.tenant, user.employee_id),
    )


# -- engagement connectors -------------------------------------------------------------


async def connectors(services: Services, tenant: str) -> list[Connector]:
    return await services.repo.connectors_of(tenant)


def _secret_of(services: Services, connector: Connector) -> str:
    return connector_secret(
        services.webhook_secret, connector.tenant, connector.id, connector.version
    )


async def add_connector(services: Services, tenant: str, name: str) -> tuple[Connector, str]:
    """Register a system that reports the tenant's engagement; returns it and its secret,
    which is shown this once (it is derived, not stored: see `share.domain.connectors`)."""
    # Two admins adding at the same instant may each pass the count: the cap bounds what a
    # tenant keeps here, it guards nothing else.
    if await services.repo.count_connectors(tenant) >= MAX_CONNECTORS:
        raise LimitReached(
            f"name: a tenant has at most {MAX_CONNECTORS} connectors; delete one first",
            field="name",
            max_connectors=MAX_CONNECTORS,
        )
    # To the millisecond, as MongoDB keeps it: the answer and later lists agree.
    now = services.clock()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    connector = Connector(id=new_id(), tenant=tenant, name=name, version=1, created_at=now)
    await services.repo.add_connector(connector)
    return connector, _secret_of(services, connector)


async def rotate_connector(
    services: Services, tenant: str, connector_id: str
) -> tuple[Connector, str]:
    """A new secret for the connector; the one before stops working at once."""
    rotated = await services.repo.rotate_connector(tenant, connector_id, services.clock())
    if rotated is None:
        raise NotFound("connector_id: no such connector", field="connector_id")
    return rotated, _secret_of(services, rotated)


async def delete_connector(services: Services, tenant: str, connector_id: str) -> None:
    """Forget the connector; its reports are refused from then on."""
    if not await services.repo.delete_connector(tenant, connector_id):
        raise NotFound("connector_id: no such connector", field="connector_id")


async def connector_key(services: Services, tenant: str, connector_id: str) -> bytes | None:
    """The key that checks the signature of this connector's reports; None when the tenant
    has no such connector."""
    if not (TENANT_PATTERN.fullmatch(tenant) and CONNECTOR_ID.fullmatch(connector_id)):
        return None
    found = await services.repo.connector(tenant, connector_id)
    return _secret_of(services, found).encode() if found is not None else None


# -- engagements ----------------------------------------------------------------------


@dataclass(frozen=True)
class EngagementReport:
    id: str
    kind: EngagementKind
    share_id: str | None
    short_code: str | None
    count: int
    observed_at: datetime
    source: EngagementSource


async def ingest_engagement(
    services: Services, tenant: str, report: EngagementReport
) -> tuple[str, str]:
    """Record one engagement a connector of `tenant` reported, once (by the caller's id);
    returns (id, status). Only that tenant's shares are found."""
    if (report.share_id is None) == (report.short_code is None):
        message = "give either share_id or short_code"
        raise Invalid(f"share_id: {message}", errors=[("share_id", message)])
    named = "share_id" if report.share_id is not None else "short_code"
    # A report is a repeat only while its first one's record is kept: past the tenant's
    # retention that record is deleted, so such a report is refused rather than counted twice.
    days = await retention_days(services, tenant)
    now = services.clock()
    if report_expired(report.observed_at, now, days):
        message = f"older than the {days} days engagement is kept"
        raise Invalid(f"observed_at: {message}", errors=[("observed_at", message)])
    if report_ahead(report.observed_at, now):
        message = "more than a day ahead of now"
        raise Invalid(f"observed_at: {message}", errors=[("observed_at", message)])
    if report.share_id is not None:
        found = await services.repo.share(tenant, report.share_id)
    else:
        found = await services.repo.share_by_code(tenant, report.short_code or "")
    if found is None:
        raise NotFound(f"{named}: no such share", field=named)
    if not takes_engagement(found.status):
        raise Conflict(
            f"{named}: the share is {found.status.value}; it has no post to engage with",
            field=named,
            share_status=found.status.value,
        )
    # The caller's id is unique within its tenant only: another tenant's report with the
    # same id is another engagement, not a repeat to drop.
    engagement_id = derived_event_id("engagement", tenant, report.source.value, report.id)
    if found.stopped:
        return engagement_id, "ignored"
    event = engagement_on_share(
        found,
        event_id=engagement_id,
        engagement_id=f"{report.source.value}:{report.id}",
        kind=report.kind,
        source=report.source,
        observed_at=report.observed_at,
        count=report.count,
        traceparent=current_traceparent(),
    )
    doc = {
        "_id": engagement_id,
        "tenant": found.tenant,
        "share_id": found.id,
        "caller_id": report.id,
        "kind": report.kind.value,
        "count": report.count,
        "received_at": services.clock(),
    }
    async with services.uow() as uow:
        uow.add(services.repo.engagement_recorded(services.engagements_outbox, doc), [event])
    return engagement_id, "accepted" if uow.committed else "duplicate"


async def on_link_clicks(services: Services, batch: list[Consumed[LinkClicked]]) -> None:
    """Each click the redirect recorded becomes one EngagementObserved, with `unique`
    decided: the visitor's first click on the link within the hour, exactly once.

    Published under the click's own id, after the store has the decision and before the
    batch's offsets are committed: a batch delivered again decides the same and publishes
    the same events, which consumers keep once. A click on a share this database does not
    hold is left alone: it is not this deployment's.
    """
    assert services.visits is not None and services.publish_many is not None
    ours = await services.visits.ours([c.event.data.share_id for c in batch])
    batch = [c for c in batch if c.event.data.share_id in ours]
    clicks = [
        Click(
            f"{c.event.data.share_id}:{c.event.data.visitor}", c.event.id, c.event.data.observed_at
        )
        for c in batch
    ]
    await services.visits.decide(clicks)
    await services.publish_many(
        [
            EngagementObserved.create(
                tenant_id=c.event.tenantid,
                subject=c.event.subject,
                event_id=c.event.id,
                time=c.event.time,
                traceparent=c.event.traceparent,
                data=EngagementObservedData(
                    **{**c.event.data.model_dump(), "unique": click.unique}
                ),
            )
            for c, click in zip(batch, clicks, strict=True)
        ]
    )


async def on_engagements(services: Services, batch: list[Consumed[EngagementObserved]]) -> None:
    """Per-share engagement counters for the share history, each event counted once."""
    # The topic is shared with other deployments' data in tests and with replays: count
    # only shares this database knows.
    known = await services.repo.known_shares({item.event.data.share_id for item in batch})
    counts = []
    for item in batch:
        data = item.event.data
        if data.share_id not in known:
            continue
        inc: dict[str, int | float] = {data.kind.value: data.count}
        if data.kind == EngagementKind.CLICK and data.unique:
            inc["unique_click"] = 1
        counts.append((data.share_id, item.topic, item.partition, item.offset, inc))
    await services.repo.count_engagements(counts)
