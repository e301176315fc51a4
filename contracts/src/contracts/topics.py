"""Topic names: one topic per event type and major version, each with a dead-letter twin."""

from __future__ import annotations

CONTENT_PUBLISHED = "chorus.content-published.v1"
POST_SHARED = "chorus.post-shared.v1"
ENGAGEMENT_OBSERVED = "chorus.engagement-observed.v1"
LINK_CLICKED = "chorus.link-clicked.v1"
POINTS_AWARDED = "chorus.points-awarded.v1"
CONTENT_UPDATED = "chorus.content-updated.v1"
CONTENT_RETIRED = "chorus.content-retired.v1"
GUIDELINES_PUBLISHED = "chorus.guidelines-published.v1"
GUIDELINES_ACKNOWLEDGED = "chorus.guidelines-acknowledged.v1"
ADVOCATE_ENROLLED = "chorus.advocate-enrolled.v1"
ADVOCATE_OPTED_OUT = "chorus.advocate-opted-out.v1"
BADGE_EARNED = "chorus.badge-earned.v1"
REWARD_REDEEMED = "chorus.reward-redeemed.v1"
AUDIENCE_MEASURED = "chorus.audience-measured.v1"
FOLLOWERS_MEASURED = "chorus.followers-measured.v1"
WIN_TOLD = "chorus.win-told.v1"
BUDDY_FEEDBACK_GIVEN = "chorus.buddy-feedback-given.v1"
ONBOARDING_STEP_COMPLETED = "chorus.onboarding-step-completed.v1"
PERSON_UPSERTED = "chorus.person-upserted.v1"
PERSON_DEACTIVATED = "chorus.person-deactivated.v1"
PERSON_DELETED = "chorus.person-deleted.v1"
ERASURE_REQUESTED = "chorus.erasure-requested.v1"
ERASURE_COMPLETED = "chorus.erasure-completed.v1"

DLQ_SUFFIX = ".dlq"

# Headers set on a dead-lettered message, next to the original headers.
DLQ_ERROR_HEADER = "chorus-dlq-error"
DLQ_ERROR_TYPE_HEADER = "chorus-dlq-error-type"
DLQ_SOURCE_HEADER = "chorus-dlq-source"  # "<topic>/<partition>/<offset>"
DLQ_CONSUMER_HEADER = "chorus-dlq-consumer"  # the consumer group that refused it


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLQ_SUFFIX
