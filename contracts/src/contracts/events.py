"""Event payloads and their envelopes. v1 only ever grows by optional fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field, HttpUrl

from contracts.envelope import CloudEvent, EventData, Identifier, UtcDateTime, derived_event_id
from contracts.topics import (
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    AUDIENCE_MEASURED,
    BADGE_EARNED,
    BUDDY_FEEDBACK_GIVEN,
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    ENGAGEMENT_OBSERVED,
    ERASURE_COMPLETED,
    ERASURE_REQUESTED,
    FOLLOWERS_MEASURED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
    LINK_CLICKED,
    ONBOARDING_STEP_COMPLETED,
    PERSON_DEACTIVATED,
    PERSON_DELETED,
    PERSON_UPSERTED,
    POINTS_AWARDED,
    POST_SHARED,
    REWARD_REDEEMED,
    WIN_TOLD,
)


class Network(StrEnum):
    LINKEDIN = "linkedin"
    X = "x"
    FACEBOOK = "facebook"
    XING = "xing"
    INSTAGRAM = "instagram"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


class ContentKind(StrEnum):
    ARTICLE = "article"
    INTERNAL = "internal"
    JOB = "job"
    EVENT = "event"


class ShareMethod(StrEnum):
    INTENT = "intent"
    API = "api"
    SCHEDULED = "scheduled"


class EngagementKind(StrEnum):
    CLICK = "click"
    REACTION = "reaction"
    COMMENT = "comment"
    RESHARE = "reshare"
    IMPRESSION = "impression"
    CONVERSION = "conversion"


class EngagementSource(StrEnum):
    REDIRECT = "redirect"
    WEBHOOK = "webhook"
    POLL = "poll"
    API = "api"


class Audience(EventData):
    """Who a content item targets; an empty list means no restriction on that axis."""

    groups: list[Identifier] = Field(default_factory=list)
    locations: list[Identifier] = Field(default_factory=list)
    languages: list[Annotated[str, Field(min_length=2, max_length=35)]] = Field(
        default_factory=list
    )


# -- content ---------------------------------------------------------------------------


class ContentPublishedData(EventData):
    content_id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=300)]
    kind: ContentKind
    url: HttpUrl | None = None
    summary: Annotated[str, Field(max_length=2000)] = ""
    image_url: HttpUrl | None = None
    suggested_texts: dict[Network, Annotated[str, Field(max_length=3000)]] = Field(
        default_factory=dict
    )
    text_variants: dict[
        Network, Annotated[list[Annotated[str, Field(max_length=3000)]], Field(max_length=9)]
    ] = Field(
        default_factory=dict,
        description=(
            "further wordings of a network's suggested text, so colleagues need not post the "
            "same words: variant 0 is suggested_texts[network], variant i is "
            "text_variants[network][i - 1]"
        ),
    )
    topics: list[Identifier] = Field(default_factory=list)
    audience: Audience = Field(default_factory=Audience)
    publish_at: UtcDateTime
    expires_at: UtcDateTime | None = None
    campaign_id: Identifier | None = None
    published_by: Identifier
    language: Annotated[str, Field(min_length=2, max_length=35)] | None = None


class ContentPublished(CloudEvent[ContentPublishedData]):
    event_name: ClassVar[str] = "content-published"
    topic: ClassVar[str] = CONTENT_PUBLISHED
    service: ClassVar[str] = "content"
    key_field: ClassVar[str] = "content_id"


class ContentUpdatedData(ContentPublishedData):
    """The whole item as it is after the change (a snapshot, not a diff)."""

    changed_fields: list[Identifier] = Field(default_factory=list)


class ContentUpdated(CloudEvent[ContentUpdatedData]):
    event_name: ClassVar[str] = "content-updated"
    topic: ClassVar[str] = CONTENT_UPDATED
    service: ClassVar[str] = "content"
    key_field: ClassVar[str] = "content_id"


class RetirementReason(StrEnum):
    EXPIRED = "expired"
    ARCHIVED = "archived"
    WITHDRAWN = "withdrawn"


class ContentRetiredData(EventData):
    content_id: Identifier
    reason: RetirementReason
    retired_at: UtcDateTime
    retired_by: Identifier | None = Field(default=None, description="null when it expired")


class ContentRetired(CloudEvent[ContentRetiredData]):
    event_name: ClassVar[str] = "content-retired"
    topic: ClassVar[str] = CONTENT_RETIRED
    service: ClassVar[str] = "content"
    key_field: ClassVar[str] = "content_id"


class GuidelinesPublishedData(EventData):
    version: Annotated[int, Field(ge=1)]
    title: Annotated[str, Field(min_length=1, max_length=300)]
    published_at: UtcDateTime
    published_by: Identifier
    acknowledgement_required: bool = Field(
        default=False, description="shares are refused until the employee acknowledges it"
    )


class GuidelinesPublished(CloudEvent[GuidelinesPublishedData]):
    """A new version of the tenant's sharing guidelines (the key is the tenant's)."""

    event_name: ClassVar[str] = "guidelines-published"
    topic: ClassVar[str] = GUIDELINES_PUBLISHED
    service: ClassVar[str] = "content"
    key_field: ClassVar[str] = "published_by"

    def partition_key(self) -> str:
        # One tenant's versions stay in order on one partition.
        return f"{self.tenantid}:guidelines"

    @classmethod
    def key_pattern(cls) -> str:
        return "<tenantid>:guidelines"


class GuidelinesAcknowledgedData(EventData):
    employee_id: Identifier
    guidelines_version: Annotated[int, Field(ge=1)]
    acknowledged_at: UtcDateTime


class GuidelinesAcknowledged(CloudEvent[GuidelinesAcknowledgedData]):
    event_name: ClassVar[str] = "guidelines-acknowledged"
    topic: ClassVar[str] = GUIDELINES_ACKNOWLEDGED
    service: ClassVar[str] = "content"
    key_field: ClassVar[str] = "employee_id"


# -- share -----------------------------------------------------------------------------


class PostSharedData(EventData):
    share_id: Identifier
    content_id: Identifier | None = Field(
        description="null for a post the employee wrote themselves"
    )
    employee_id: Identifier
    employee_groups: list[Identifier] = Field(default_factory=list)
    network: Network
    short_code: Annotated[str, Field(min_length=4, max_length=32)]
    tracked_url: HttpUrl
    shared_at: UtcDateTime
    audience_size: Annotated[int, Field(ge=0)] = 0
    method: ShareMethod
    campaign_id: Identifier | None = None
    content_kind: ContentKind | None = None
    employee_location: Identifier | None = Field(
        default=None, description="the sharer's location when they shared"
    )
    content_topics: list[Identifier] = Field(
        default_factory=list, description="the shared item's topics; empty for an own post"
    )
    text_variant: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="which variant of the item's suggested text the sharer started from "
        "(see ContentPublished.text_variants); null when not known",
    )
    text_edited: bool | None = Field(
        default=None, description="whether the sharer changed that variant; null when not known"
    )
    by_leader: bool = Field(
        default=False,
        description="whether the sharer was in the tenant's leaders' group when they shared "
        "(the share service's setting)",
    )
    post_url: HttpUrl | None = Field(
        default=None,
        description="a leader's own post: its link as they shared it, without tracking, for "
        "colleagues to react on and reshare; null otherwise",
    )
    post_title: Annotated[str, Field(max_length=300)] | None = Field(
        default=None, description="a leader's own post: its title; null otherwise"
    )


class PostShared(CloudEvent[PostSharedData]):
    event_name: ClassVar[str] = "post-shared"
    topic: ClassVar[str] = POST_SHARED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "employee_id"


class EngagementObservedData(EventData):
    engagement_id: Identifier
    share_id: Identifier
    content_id: Identifier | None = None
    employee_id: Identifier
    network: Network
    kind: EngagementKind
    count: Annotated[int, Field(ge=1)] = 1
    observed_at: UtcDateTime
    source: EngagementSource
    visitor: Annotated[str, Field(min_length=8, max_length=128)] | None = Field(
        default=None, description="pseudonymous visitor hash; never a raw address"
    )
    unique: bool = False
    campaign_id: Identifier | None = None
    content_kind: ContentKind | None = None


class EngagementObserved(CloudEvent[EngagementObservedData]):
    event_name: ClassVar[str] = "engagement-observed"
    topic: ClassVar[str] = ENGAGEMENT_OBSERVED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "employee_id"


class LinkClickedData(EngagementObservedData):
    """The click's EngagementObserved to be, `unique` still false."""


class LinkClicked(CloudEvent[LinkClickedData]):
    """A person's click on a short link, as the redirect answered it: share's own record,
    made durable before the answer, with `unique` not yet decided (always false).

    Share's worker decides whether the visitor's click is their first on the link within
    the hour and publishes the click's EngagementObserved; build on that instead. Keyed by
    visitor, so one visitor's clicks are decided in order, by one consumer.
    """

    event_name: ClassVar[str] = "link-clicked"
    topic: ClassVar[str] = LINK_CLICKED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "visitor"
    internal: ClassVar[bool] = True


class AdvocateEnrolledData(EventData):
    employee_id: Identifier
    employee_groups: list[Identifier] = Field(default_factory=list)
    department: Identifier | None = None
    location: Identifier | None = None
    consent_at: UtcDateTime
    guidelines_version: Annotated[int, Field(ge=0)] | None = None
    networks: list[Network] = Field(default_factory=list)
    audience_sizes: dict[Network, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class AdvocateEnrolled(CloudEvent[AdvocateEnrolledData]):
    """Published on joining, and again whenever networks or audience sizes change."""

    event_name: ClassVar[str] = "advocate-enrolled"
    topic: ClassVar[str] = ADVOCATE_ENROLLED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "employee_id"


class AdvocateOptedOutData(EventData):
    employee_id: Identifier
    opted_out_at: UtcDateTime
    erase: bool = Field(default=False, description="the employee also asked for erasure")
    member: bool = Field(
        default=True,
        description="they were in the program until now; false for an erasure of someone "
        "who never joined or had left before, which is no opt-out of the program",
    )


class AdvocateOptedOut(CloudEvent[AdvocateOptedOutData]):
    event_name: ClassVar[str] = "advocate-opted-out"
    topic: ClassVar[str] = ADVOCATE_OPTED_OUT
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "employee_id"


# -- rewards ---------------------------------------------------------------------------


class PointsAwardedData(EventData):
    award_id: Identifier
    employee_id: Identifier
    points: int = Field(description="negative for a clawback")
    rule_id: Identifier
    rule_version: Annotated[int, Field(ge=1)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    source_event_id: Identifier
    source_event_type: Identifier
    awarded_at: UtcDateTime


class PointsAwarded(CloudEvent[PointsAwardedData]):
    event_name: ClassVar[str] = "points-awarded"
    topic: ClassVar[str] = POINTS_AWARDED
    service: ClassVar[str] = "rewards"
    key_field: ClassVar[str] = "employee_id"


class BadgeEarnedData(EventData):
    award_id: Identifier = Field(description="deterministic: badge and employee (and period)")
    employee_id: Identifier
    badge: Identifier = Field(description="e.g. first-share, shares-10, streak-4, recruiting-hero")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    earned_at: UtcDateTime
    source_event_id: Identifier | None = None


class BadgeEarned(CloudEvent[BadgeEarnedData]):
    event_name: ClassVar[str] = "badge-earned"
    topic: ClassVar[str] = BADGE_EARNED
    service: ClassVar[str] = "rewards"
    key_field: ClassVar[str] = "employee_id"


class RewardRedeemedData(EventData):
    redemption_id: Identifier
    employee_id: Identifier
    item_id: Identifier
    item_name: Annotated[str, Field(min_length=1, max_length=200)]
    points: Annotated[int, Field(ge=1)]
    redeemed_at: UtcDateTime


class RewardRedeemed(CloudEvent[RewardRedeemedData]):
    event_name: ClassVar[str] = "reward-redeemed"
    topic: ClassVar[str] = REWARD_REDEEMED
    service: ClassVar[str] = "rewards"
    key_field: ClassVar[str] = "employee_id"


class MeasurementSource(StrEnum):
    PERSON = "person"  # the advocate said so
    ADMIN = "admin"  # the program team said so
    CONNECTOR = "connector"  # read from the network's API


class AudienceMeasuredData(EventData):
    """An advocate's audience on a network at a moment: one point of its history."""

    measurement_id: Identifier
    employee_id: Identifier
    network: Network
    audience_size: int = Field(ge=0, le=1_000_000_000, description="followers or connections")
    measured_at: UtcDateTime
    source: MeasurementSource


class AudienceMeasured(CloudEvent[AudienceMeasuredData]):
    event_name: ClassVar[str] = "audience-measured"
    topic: ClassVar[str] = AUDIENCE_MEASURED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "employee_id"


class FollowersMeasuredData(EventData):
    """The company page's followers on a network at a moment: one point of its history."""

    measurement_id: Identifier
    network: Network
    followers: int = Field(ge=0, le=1_000_000_000)
    measured_at: UtcDateTime
    source: MeasurementSource


class FollowersMeasured(CloudEvent[FollowersMeasuredData]):
    event_name: ClassVar[str] = "followers-measured"
    topic: ClassVar[str] = FOLLOWERS_MEASURED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "network"


class OnboardingStepCompletedData(EventData):
    """An employee finished one step of the tenant's onboarding path."""

    employee_id: Identifier
    step_id: Identifier
    path_version: Annotated[int, Field(ge=1)] = Field(
        description="the path's version when the step was done (every edit makes a new one)"
    )
    steps_done: Annotated[int, Field(ge=1)] = Field(
        description="steps of that version the employee has done, this one included"
    )
    steps_total: Annotated[int, Field(ge=1)]
    path_completed: bool = Field(description="this step finished the whole path")
    completed_at: UtcDateTime


class OnboardingStepCompleted(CloudEvent[OnboardingStepCompletedData]):
    event_name: ClassVar[str] = "onboarding-step-completed"
    topic: ClassVar[str] = ONBOARDING_STEP_COMPLETED
    service: ClassVar[str] = "content"
    key_field: ClassVar[str] = "employee_id"


class BuddyFeedbackKind(StrEnum):
    COMMENT = "comment"  # a comment on the buddy's draft
    REACTION = "reaction"  # the first reaction to the buddy's draft
    CHEER = "cheer"  # a cheer on the buddy's share


class BuddyFeedbackGivenData(EventData):
    """An employee encouraged their buddy: on a draft of an own post, or on a share."""

    feedback_id: Identifier = Field(description="deterministic for a reaction and a cheer")
    employee_id: Identifier = Field(description="who gave the feedback")
    buddy_id: Identifier = Field(description="whose draft or share it was on")
    pair_id: Identifier
    kind: BuddyFeedbackKind
    draft_id: Identifier | None = None
    share_id: Identifier | None = None
    given_at: UtcDateTime


class BuddyFeedbackGiven(CloudEvent[BuddyFeedbackGivenData]):
    event_name: ClassVar[str] = "buddy-feedback-given"
    topic: ClassVar[str] = BUDDY_FEEDBACK_GIVEN
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "employee_id"


class WinToldData(EventData):
    """A success of the program, told to everyone: a storyteller approved (and perhaps
    rewrote) a milestone that metrics drafted."""

    win_id: Identifier = Field(description="the milestone, e.g. reach-100000")
    milestone: Identifier = Field(description="its kind: reach, shares or applications")
    text: Annotated[str, Field(min_length=1, max_length=600)]
    told_by: Identifier
    told_at: UtcDateTime


class WinTold(CloudEvent[WinToldData]):
    event_name: ClassVar[str] = "win-told"
    topic: ClassVar[str] = WIN_TOLD
    service: ClassVar[str] = "metrics"
    key_field: ClassVar[str] = "win_id"


# -- people ----------------------------------------------------------------------------


class PersonUpsertedData(EventData):
    """What HR's directory says of a person now (SCIM): every field, not a change."""

    employee_id: Identifier = Field(
        description="the person's id in Chorus: the `sub` of their tokens"
    )
    version: Annotated[int, Field(ge=1)] = Field(
        description="grows with every change of the person: an older version is stale"
    )
    user_name: Annotated[str, Field(min_length=1, max_length=256)]
    display_name: Annotated[str, Field(max_length=256)] = ""
    active: bool = True
    groups: list[Identifier] = Field(
        default_factory=list, description="the directory groups the person is a member of"
    )
    location: Identifier | None = None
    languages: list[Annotated[str, Field(min_length=2, max_length=35)]] = Field(
        default_factory=list, description="BCP 47, the preferred one first"
    )
    department: Annotated[str, Field(max_length=256)] | None = None
    manager_id: Identifier | None = None
    title: Annotated[str, Field(max_length=256)] | None = None
    updated_at: UtcDateTime


class PersonUpserted(CloudEvent[PersonUpsertedData]):
    event_name: ClassVar[str] = "person-upserted"
    topic: ClassVar[str] = PERSON_UPSERTED
    service: ClassVar[str] = "people"
    key_field: ClassVar[str] = "employee_id"


class PersonDeactivatedData(EventData):
    """HR deactivated the person (SCIM `active: false`): they are opted out, their shares
    stop, and they cannot sign in; what they did stays until they are deleted."""

    employee_id: Identifier
    version: Annotated[int, Field(ge=1)]
    deactivated_at: UtcDateTime


class PersonDeactivated(CloudEvent[PersonDeactivatedData]):
    event_name: ClassVar[str] = "person-deactivated"
    topic: ClassVar[str] = PERSON_DEACTIVATED
    service: ClassVar[str] = "people"
    key_field: ClassVar[str] = "employee_id"


class PersonDeletedData(EventData):
    """HR deleted the person: every service erases them, as for an erasure request."""

    employee_id: Identifier
    version: Annotated[int, Field(ge=1)]
    deleted_at: UtcDateTime


class PersonDeleted(CloudEvent[PersonDeletedData]):
    event_name: ClassVar[str] = "person-deleted"
    topic: ClassVar[str] = PERSON_DELETED
    service: ClassVar[str] = "people"
    key_field: ClassVar[str] = "employee_id"


# -- erasure ---------------------------------------------------------------------------
# The visible side of an erasure. Neither event names the person: the request is known by
# the id of the AdvocateOptedOut (with `erase`) that asked every service to erase them, so
# these topics may be read (and kept, audited, shown) by whoever follows erasures without
# becoming one more place that holds the person's id.

# Every service that holds personal data confirms each erasure; an erasure is complete
# when all of them did.
ERASING_SERVICES: tuple[str, ...] = ("content", "share", "rewards", "metrics", "web")


class ErasureOrigin(StrEnum):
    PERSON = "person"  # the person asked (the web app's "erase my data")
    DIRECTORY = "directory"  # HR deleted them from the directory (SCIM)


class ErasureRequestedData(EventData):
    """An erasure began: share announced it (AdvocateOptedOut with `erase`) in the same write."""

    request_id: Identifier = Field(
        description="the id of the AdvocateOptedOut that announced the erasure; every "
        "service's confirmation and pseudonym derive from it"
    )
    requested_at: UtcDateTime
    origin: ErasureOrigin
    services: list[Identifier] = Field(
        default_factory=lambda: list(ERASING_SERVICES),
        description="the services expected to confirm it with ErasureCompleted",
    )


class ErasureRequested(CloudEvent[ErasureRequestedData]):
    event_name: ClassVar[str] = "erasure-requested"
    topic: ClassVar[str] = ERASURE_REQUESTED
    service: ClassVar[str] = "share"
    key_field: ClassVar[str] = "request_id"


class ErasureCompletedData(EventData):
    """A service finished its part of an erasure: nothing it stores names the person."""

    request_id: Identifier
    service: Identifier
    completed_at: UtcDateTime


class ErasureCompleted(CloudEvent[ErasureCompletedData]):
    event_name: ClassVar[str] = "erasure-completed"
    topic: ClassVar[str] = ERASURE_COMPLETED
    service: ClassVar[str] = ""
    publishers: ClassVar[tuple[str, ...]] = ERASING_SERVICES
    key_field: ClassVar[str] = "request_id"

    @classmethod
    def confirming(
        cls, tenant: str, request_id: str, service: str, at: datetime, traceparent: str | None
    ) -> ErasureCompleted:
        """`service`'s confirmation of the request: one id per service and request, so a
        redelivery or a replay confirms once."""
        return cls.create(
            tenant_id=tenant,
            subject=request_id,
            event_id=derived_event_id("erasure-completed", request_id, service),
            time=at,
            traceparent=traceparent,
            service=service,
            data=ErasureCompletedData(request_id=request_id, service=service, completed_at=at),
        )


AnyEvent = CloudEvent[Any]

ALL_EVENTS: tuple[type[AnyEvent], ...] = (
    ContentPublished,
    PostShared,
    EngagementObserved,
    LinkClicked,
    PointsAwarded,
    ContentUpdated,
    ContentRetired,
    GuidelinesPublished,
    GuidelinesAcknowledged,
    AdvocateEnrolled,
    AdvocateOptedOut,
    BadgeEarned,
    RewardRedeemed,
    AudienceMeasured,
    FollowersMeasured,
    BuddyFeedbackGiven,
    OnboardingStepCompleted,
    WinTold,
    PersonUpserted,
    PersonDeactivated,
    PersonDeleted,
    ErasureRequested,
    ErasureCompleted,
)
EVENTS_BY_TYPE: dict[str, type[AnyEvent]] = {e.event_type(): e for e in ALL_EVENTS}
EVENTS_BY_TOPIC: dict[str, type[AnyEvent]] = {e.topic: e for e in ALL_EVENTS}
