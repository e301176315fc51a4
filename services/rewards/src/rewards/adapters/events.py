"""Contracts and documents to and from the domain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contracts import (
    AnyEvent,
    BadgeEarned,
    BadgeEarnedData,
    BuddyFeedbackGiven,
    BuddyFeedbackKind,
    EngagementKind,
    EngagementObserved,
    OnboardingStepCompleted,
    PointsAwarded,
    PointsAwardedData,
    PostShared,
)
from rewards.domain.ledger import (
    Badge,
    Challenge,
    EarnedBadge,
    Standing,
    StandingRecord,
    merged,
)
from rewards.domain.rules import Action, Activity, Award, DailyUse, Multiplier, RuleSet

ENGAGEMENT_ACTIONS: dict[EngagementKind, Action] = {
    EngagementKind.CLICK: Action.CLICK,
    EngagementKind.REACTION: Action.REACTION,
    EngagementKind.COMMENT: Action.COMMENT,
    EngagementKind.RESHARE: Action.RESHARE,
    EngagementKind.CONVERSION: Action.CONVERSION,
}


def activity_of(event: AnyEvent) -> Activity | None:
    """The activity a PostShared, EngagementObserved, BuddyFeedbackGiven or
    OnboardingStepCompleted stands for; None for other events."""
    if isinstance(event, PostShared):
        data = event.data
        return Activity(
            event_id=event.id,
            event_type=event.type,
            employee_id=data.employee_id,
            action=Action.SHARE,
            at=data.shared_at,
            content_id=data.content_id,
            content_kind=data.content_kind.value if data.content_kind else None,
            campaign_id=data.campaign_id,
        )
    if isinstance(event, EngagementObserved):
        engagement = event.data
        excluded = None
        if engagement.kind is EngagementKind.CLICK and not (
            engagement.unique and engagement.visitor
        ):
            # Clicks the redirect could not tell apart from a bot or a repeat visit.
            excluded = "not a unique visitor"
        elif engagement.visitor is not None and engagement.visitor == engagement.employee_id:
            excluded = "self-engagement"
        return Activity(
            event_id=event.id,
            event_type=event.type,
            employee_id=engagement.employee_id,
            action=ENGAGEMENT_ACTIONS.get(engagement.kind),
            at=engagement.observed_at,
            count=engagement.count,
            content_id=engagement.content_id,
            content_kind=engagement.content_kind.value if engagement.content_kind else None,
            campaign_id=engagement.campaign_id,
            excluded=excluded,
        )
    if isinstance(event, BuddyFeedbackGiven):
        feedback = event.data
        # Feedback on a draft is the action; a cheer on a share is encouragement, not scored.
        if feedback.kind is BuddyFeedbackKind.CHEER:
            return None
        return Activity(
            event_id=event.id,
            event_type=event.type,
            employee_id=feedback.employee_id,
            action=Action.BUDDY_FEEDBACK,
            at=feedback.given_at,
        )
    if isinstance(event, OnboardingStepCompleted):
        step = event.data
        return Activity(
            event_id=event.id,
            event_type=event.type,
            employee_id=step.employee_id,
            action=Action.ONBOARDING_STEP,
            at=step.completed_at,
        )
    return None


def activity_doc(activity: Activity) -> dict[str, Any]:
    return {
        "event_id": activity.event_id,
        "employee_id": activity.employee_id,
        "action": activity.action.value if activity.action else None,
        "at": activity.at,
        "count": activity.count,
        "content_id": activity.content_id,
        "content_kind": activity.content_kind,
        "campaign_id": activity.campaign_id,
        "excluded": activity.excluded,
        "event_type": activity.event_type,
    }


def activity_from_doc(doc: dict[str, Any]) -> Activity:
    return Activity(
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        employee_id=doc["employee_id"],
        action=Action(doc["action"]) if doc.get("action") else None,
        at=_utc(doc["at"]),
        count=doc.get("count", 1),
        content_id=doc.get("content_id"),
        content_kind=doc.get("content_kind"),
        campaign_id=doc.get("campaign_id"),
        excluded=doc.get("excluded"),
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ledger_doc(tenant: str, award: Award) -> dict[str, Any]:
    return {
        "_id": award.award_id,
        "tenant": tenant,
        "employee_id": award.employee_id,
        "points": award.points,
        "rule_id": award.rule_id,
        "rule_version": award.rule_version,
        "reason": award.reason,
        "source_event_id": award.source_event_id,
        "source_event_type": award.source_event_type,
        "awarded_at": award.awarded_at,
    }


def award_of(doc: dict[str, Any]) -> Award:
    """A ledger entry as the domain sees it (a reversal's admin aside)."""
    return Award(
        award_id=doc["_id"],
        employee_id=doc["employee_id"],
        points=doc["points"],
        rule_id=doc["rule_id"],
        rule_version=doc["rule_version"],
        reason=doc["reason"],
        source_event_id=doc["source_event_id"],
        source_event_type=doc["source_event_type"],
        awarded_at=_utc(doc["awarded_at"]),
    )


def points_awarded(tenant: str, entry: dict[str, Any], traceparent: str | None) -> PointsAwarded:
    """The event of a ledger entry; its id is the award id, so a replay repeats it exactly."""
    return PointsAwarded.create(
        tenant_id=tenant,
        subject=entry["employee_id"],
        event_id=entry["_id"],
        time=_utc(entry["awarded_at"]),
        traceparent=traceparent,
        data=PointsAwardedData(
            award_id=entry["_id"],
            employee_id=entry["employee_id"],
            points=entry["points"],
            rule_id=entry["rule_id"],
            rule_version=entry["rule_version"],
            reason=entry["reason"],
            source_event_id=entry["source_event_id"],
            source_event_type=entry["source_event_type"],
            awarded_at=_utc(entry["awarded_at"]),
        ),
    )


def badge_earned(tenant: str, badge: Badge, traceparent: str | None) -> BadgeEarned:
    return BadgeEarned.create(
        tenant_id=tenant,
        subject=badge.employee_id,
        event_id=badge.award_id,
        time=badge.earned_at,
        traceparent=traceparent,
        data=BadgeEarnedData(
            award_id=badge.award_id,
            employee_id=badge.employee_id,
            badge=badge.badge,
            name=badge.name,
            earned_at=badge.earned_at,
            source_event_id=badge.source_event_id,
        ),
    )


# -- rules and challenges ----------------------------------------------------------------


def ruleset_from_doc(doc: dict[str, Any]) -> RuleSet:
    return RuleSet(
        version=doc["version"],
        effective_from=_utc(doc["effective_from"]),
        points={Action(k): v for k, v in doc.get("points", {}).items()},
        daily_caps={Action(k): v for k, v in doc.get("daily_caps", {}).items()},
        daily_max=doc.get("daily_max"),
        multipliers=tuple(
            Multiplier(
                factor=m["factor"],
                campaign_id=m.get("campaign_id"),
                content_kind=m.get("content_kind"),
                starts_at=_utc(m["starts_at"]) if m.get("starts_at") else None,
                ends_at=_utc(m["ends_at"]) if m.get("ends_at") else None,
            )
            for m in doc.get("multipliers", [])
        ),
        created_by=doc.get("created_by"),
    )


def ruleset_doc(rules: RuleSet) -> dict[str, Any]:
    """A rule version as a tenant's document lists it."""
    doc: dict[str, Any] = {
        "version": rules.version,
        "effective_from": rules.effective_from,
        "points": {k.value: v for k, v in rules.points.items()},
        "daily_caps": {k.value: v for k, v in rules.daily_caps.items()},
        "daily_max": rules.daily_max,
        "multipliers": [
            {
                "factor": m.factor,
                "campaign_id": m.campaign_id,
                "content_kind": m.content_kind,
                "starts_at": m.starts_at,
                "ends_at": m.ends_at,
            }
            for m in rules.multipliers
        ],
    }
    if rules.created_by is not None:
        doc["created_by"] = rules.created_by
    return doc


def challenge_doc(challenge: Challenge) -> dict[str, Any]:
    return {
        "challenge_id": challenge.challenge_id,
        "name": challenge.name,
        "action": challenge.action.value,
        "target": challenge.target,
        "starts_at": challenge.starts_at,
        "ends_at": challenge.ends_at,
        "content_kind": challenge.content_kind,
        "bonus": challenge.bonus,
        "created_at": challenge.created_at,
    }


def challenge_from_doc(doc: dict[str, Any]) -> Challenge:
    return Challenge(
        challenge_id=doc["challenge_id"],
        name=doc["name"],
        action=Action(doc["action"]),
        target=doc["target"],
        starts_at=_utc(doc["starts_at"]),
        ends_at=_utc(doc["ends_at"]),
        content_kind=doc.get("content_kind"),
        bonus=doc.get("bonus", 0),
        created_at=_utc(doc["created_at"]) if doc.get("created_at") else None,
    )


# -- standings ---------------------------------------------------------------------------


def standing_from_doc(tenant: str, employee_id: str, doc: dict[str, Any] | None) -> Standing:
    if doc is None:
        return Standing(tenant=tenant, employee_id=employee_id)
    return Standing(
        tenant=tenant,
        employee_id=employee_id,
        earned=doc.get("earned", 0),
        month_key=doc.get("month_key", ""),
        month_points=doc.get("month_points", 0),
        week_key=doc.get("week_key", ""),
        week_points=doc.get("week_points", 0),
        days=_days_from_doc(doc.get("days")),
        shares=doc.get("shares", 0),
        streak=doc.get("streak", 0),
        streak_week=doc.get("streak_week", ""),
        badges=frozenset((doc.get("badges") or {}).keys()),
        challenges=dict(doc.get("challenges") or {}),
    )


def standing_record_of(tenant: str, employee_id: str, doc: dict[str, Any]) -> StandingRecord:
    """A standing document as the use cases read it."""
    return StandingRecord(
        standing=standing_from_doc(tenant, employee_id, doc),
        badges={
            badge: EarnedBadge(name=earned["name"], earned_at=_utc(earned["earned_at"]))
            for badge, earned in (doc.get("badges") or {}).items()
        },
        marks=dict(doc.get(WATERMARKS) or {}),
        month_key=doc.get("month_key"),
        week_key=doc.get("week_key"),
        groups=tuple(doc.get("groups") or ()),
        department=doc.get("department"),
        location=doc.get("location"),
        opted_out=bool(doc.get("opted_out", False)),
        folded=tuple(doc.get(FOLDED) or ()),
    )


# Per topic partition, the offset of the last event applied to a standing.
WATERMARKS = "_wm"
# The erasures (by their hashed key) whose standing was folded into a pseudonym's.
FOLDED = "folded"
# What a standing learnt about the person rather than their points: an erasure drops it.
PERSONAL_FIELDS = ("groups", "department", "location")


def erased_standing_doc(
    tenant: str, name: str, erased: StandingRecord, kept: StandingRecord | None, folded: str
) -> dict[str, Any]:
    """The standing of an erased employee as it goes on under their pseudonym `name`:
    folded into the one the pseudonym already has (events that named it) if there is one,
    without the scopes that describe the person, and on no leaderboard.

    The rules' memory (daily use, badges, streak, watermarks) stays, so a late or repeated
    event counts as it would have, once. `folded` (the erasure's hashed key) is listed in
    it, so an erasure done again folds nothing twice."""
    standing = erased.standing
    if kept is not None:
        standing = merged(kept.standing, standing)
    marks: dict[str, int] = dict(kept.marks if kept is not None else {})
    for partition, offset in erased.marks.items():
        marks[partition] = max(marks.get(partition, -1), offset)
    badges = dict(kept.badges if kept is not None else {})
    for badge, earned in erased.badges.items():
        if badge not in badges or earned.earned_at < badges[badge].earned_at:
            badges[badge] = earned
    doc: dict[str, Any] = {
        "_id": f"{tenant}:{name}",
        "tenant": tenant,
        "employee_id": name,
        **standing_fields(standing),
        "earned": standing.earned,
        "badges": {b: {"name": e.name, "earned_at": e.earned_at} for b, e in badges.items()},
        "opted_out": True,
        FOLDED: [*(kept.folded if kept is not None else ()), folded],
    }
    for period in ("month", "week"):
        key = getattr(standing, f"{period}_key")
        if key:
            doc[f"{period}_key"] = key
            doc[f"{period}_points"] = getattr(standing, f"{period}_points")
    if marks:
        doc[WATERMARKS] = marks
    return doc


def _days_from_doc(days: str | dict[str, Any] | None) -> dict[str, DailyUse]:
    if not days:
        return {}
    if isinstance(days, str):
        return {
            day: DailyUse(day, dict(per_action), total)
            for day, (total, per_action) in json.loads(days).items()
        }
    # Written before the map was packed.
    return {
        day: DailyUse(day, dict(use.get("per_action", {})), use.get("total", 0))
        for day, use in days.items()
    }


def standing_fields(standing: Standing) -> dict[str, Any]:
    """The fields the worker owns and sets as a whole (figures move by `$inc`)."""
    return {
        # Packed into one string: nobody queries it, and the MongoDB-wire server we test
        # with decodes every nested field of every document it scans for a conditional
        # update; as a document, this map made a standing's write twice as slow.
        "days": json.dumps(
            {day: [use.total, use.per_action] for day, use in standing.days.items()},
            separators=(",", ":"),
        ),
        "shares": standing.shares,
        "streak": standing.streak,
        "streak_week": standing.streak_week,
        "challenges": standing.challenges,
    }
