"""Use cases of rewards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chassis import outbox
from chassis.consumer import Consumed
from chassis.projection import Delta, apply_exactly_once
from contracts import AnyEvent, PointsAwarded, PointsAwardedData, PostShared
from rewards.adapters.mongo import RewardsRepository
from rewards.domain.rules import awards_for_share


@dataclass
class Services:
    repo: RewardsRepository
    outbox: outbox.Outbox


async def on_activity(services: Services, batch: list[Consumed[AnyEvent]]) -> None:
    """Award points for a batch of activity events, exactly once per (rule, event).

    The ledger entry (with its PointsAwarded staged in it) is keyed by the award id, so a
    redelivered event inserts nothing new; the balance moves by partition watermark.
    """
    now = datetime.now(UTC)
    entries, deltas = [], []
    for item in batch:
        event = item.event
        if not isinstance(event, PostShared):
            continue
        for award in awards_for_share(event):
            published = PointsAwarded.create(
                tenant_id=event.tenantid,
                subject=award.employee_id,
                event_id=award.award_id,
                traceparent=event.traceparent,
                data=PointsAwardedData(
                    award_id=award.award_id,
                    employee_id=award.employee_id,
                    points=award.points,
                    rule_id=award.rule_id,
                    rule_version=award.rule_version,
                    reason=award.reason,
                    source_event_id=event.id,
                    source_event_type=event.type,
                    awarded_at=now,
                ),
            )
            doc = {
                "_id": award.award_id,
                "tenant": event.tenantid,
                "employee_id": award.employee_id,
                "points": award.points,
                "rule_id": award.rule_id,
                "rule_version": award.rule_version,
                "reason": award.reason,
                "source_event_id": event.id,
                "source_event_type": event.type,
                "awarded_at": now,
            }
            # Lease 0: the relay of this same worker publishes it on its next pass.
            entries.append(outbox.new_document(doc, [published], lease_seconds=0))
            deltas.append(
                Delta(
                    doc_id=f"{event.tenantid}:{award.employee_id}",
                    topic=item.topic,
                    partition=item.partition,
                    offset=item.offset,
                    inc={"points": award.points},
                    set_on_insert={"tenant": event.tenantid, "employee_id": award.employee_id},
                )
            )
    await services.repo.insert_new(entries)
    await apply_exactly_once(services.repo.balances, deltas)
