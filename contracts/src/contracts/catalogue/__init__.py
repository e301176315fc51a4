"""The event catalogue: which service publishes each event and which subscribe to it.

The producers of an event are its class's `producers()` (its `service`, or the
`publishers` of an event several services publish, as ErasureCompleted); the subscriptions
are listed here, one
per consumer group and batch subscriber, as each service's worker makes them.
`tests/rules/test_event_catalogue_matches_services.py` starts no server: it lets every
service register its subscribers on a broker that never connects and compares them, and
each service's `publishes` and `consumes`, with this table.

`contracts.catalogue.asyncapi` writes one AsyncAPI document per service from it and from
the event models (docs/events/); `contracts.catalogue.page` renders them as one HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import ALL_EVENTS, AnyEvent
from contracts.topics import (
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    BUDDY_FEEDBACK_GIVEN,
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    ENGAGEMENT_OBSERVED,
    ERASURE_COMPLETED,
    ERASURE_REQUESTED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
    LINK_CLICKED,
    ONBOARDING_STEP_COMPLETED,
    PERSON_DEACTIVATED,
    PERSON_DELETED,
    PERSON_UPSERTED,
    POST_SHARED,
    WIN_TOLD,
)

PERSON_TOPICS = (PERSON_UPSERTED, PERSON_DEACTIVATED, PERSON_DELETED)
# What an erasure's progress is told by: no analytics in them, so metrics leaves them out.
ERASURE_TOPICS = (ERASURE_REQUESTED, ERASURE_COMPLETED)


@dataclass(frozen=True)
class Service:
    name: str
    description: str


# Each description is the service's `ServiceDefinition.description`.
SERVICES: tuple[Service, ...] = (
    Service("content", "Content hub: curated and employee-suggested content worth sharing."),
    Service("share", "Sharing: advocates, one-tap shares, tracked links and engagement capture."),
    Service(
        "rewards",
        "Gamification: transparent points, badges, leaderboards, challenges and rewards.",
    ),
    Service("metrics", "Measurement: live program analytics."),
    Service("people", "The people directory: SCIM 2.0 for the tenants' identity providers."),
    Service("web", "Chorus web app: server-rendered pages for employees and the program team."),
)


@dataclass(frozen=True)
class Subscription:
    """One batch subscriber: `service`'s worker reads `topics` as consumer group `group`."""

    service: str
    group: str
    topics: tuple[str, ...]
    why: str


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription(
        "content",
        "content",
        (POST_SHARED,),
        "popularity of each item and who shared it; a leader's own post is shown to every "
        "colleague",
    ),
    Subscription(
        "content",
        "content",
        (ADVOCATE_OPTED_OUT,),
        "an advocate who opts out and asks for erasure is forgotten",
    ),
    Subscription(
        "content", "content", (WIN_TOLD,), "a win a storyteller told becomes news in every feed"
    ),
    Subscription(
        "content",
        "content",
        PERSON_TOPICS,
        "its copy of the directory: who sees which item follows groups, location and languages",
    ),
    Subscription(
        "share",
        "share",
        (
            CONTENT_PUBLISHED,
            CONTENT_UPDATED,
            CONTENT_RETIRED,
            GUIDELINES_PUBLISHED,
            GUIDELINES_ACKNOWLEDGED,
        ),
        "its copy of shareable content and guidelines, and who acknowledged which version",
    ),
    Subscription(
        "share",
        "share-engagement-counters",
        (ENGAGEMENT_OBSERVED,),
        "engagement counters of each share (a group of its own: the counters are hot)",
    ),
    Subscription(
        "share",
        "share-clicks",
        (LINK_CLICKED,),
        "whether each click is the visitor's first on the link within the hour, decided off "
        "the redirect's path; each click then becomes one EngagementObserved",
    ),
    Subscription(
        "share",
        "share",
        PERSON_TOPICS,
        "its copy of the directory; a deactivated person leaves the program, a deleted one "
        "is erased",
    ),
    Subscription(
        "rewards",
        "rewards",
        (
            POST_SHARED,
            ENGAGEMENT_OBSERVED,
            ADVOCATE_ENROLLED,
            ADVOCATE_OPTED_OUT,
            BUDDY_FEEDBACK_GIVEN,
            ONBOARDING_STEP_COMPLETED,
        ),
        "points and badges, exactly once per rule and source event",
    ),
    Subscription(
        "rewards", "rewards", PERSON_TOPICS, "its copy of the directory: team scopes follow groups"
    ),
    Subscription(
        "metrics",
        "metrics",
        tuple(
            event.topic
            for event in ALL_EVENTS
            if event.service != "people"
            and not event.internal
            and event.topic not in ERASURE_TOPICS
        ),
        "one fact per event, for the program's analytics",
    ),
    Subscription(
        "web",
        "web",
        (PERSON_DEACTIVATED, PERSON_DELETED),
        "a deactivated person is signed out; a deleted one leaves nothing behind",
    ),
    Subscription(
        "web",
        "web",
        (ADVOCATE_OPTED_OUT, *ERASURE_TOPICS),
        "an erased person's sessions and settings go; each erasure's progress, for the "
        "program team's page",
    ),
)


def service_names() -> list[str]:
    return [service.name for service in SERVICES]


def published_by(service: str) -> list[type[AnyEvent]]:
    """The events `service` publishes, in the contracts' order."""
    return [event for event in ALL_EVENTS if service in event.producers()]


def subscriptions_of(service: str) -> list[Subscription]:
    return [s for s in SUBSCRIPTIONS if s.service == service]


def subscriptions_to(topic: str) -> list[Subscription]:
    """Who reads `topic`, one entry per consumer group."""
    return [s for s in SUBSCRIPTIONS if topic in s.topics]


def consumed_by(service: str) -> list[type[AnyEvent]]:
    """The events `service` subscribes to, in the contracts' order."""
    topics = {topic for s in subscriptions_of(service) for topic in s.topics}
    return [event for event in ALL_EVENTS if event.topic in topics]
