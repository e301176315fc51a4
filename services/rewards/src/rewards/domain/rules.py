"""Point rules: pure functions from an event to the awards it earns."""

from __future__ import annotations

from dataclasses import dataclass

from contracts import PostShared, derived_event_id


@dataclass(frozen=True)
class Award:
    award_id: str
    employee_id: str
    points: int
    rule_id: str
    rule_version: int
    reason: str


@dataclass(frozen=True)
class Rule:
    rule_id: str
    version: int
    points: int
    reason: str


SHARE_RULE = Rule(rule_id="share", version=1, points=10, reason="shared a post")


def awards_for_share(event: PostShared, rule: Rule = SHARE_RULE) -> list[Award]:
    """One award per (rule, source event): its id is derived from both."""
    return [
        Award(
            award_id=derived_event_id(rule.rule_id, event.id),
            employee_id=event.data.employee_id,
            points=rule.points,
            rule_id=rule.rule_id,
            rule_version=rule.version,
            reason=rule.reason,
        )
    ]
