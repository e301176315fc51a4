"""How far each erasure got: a request, and the services that confirmed it. Pure.

Every service that holds personal data confirms an erasure request with ErasureCompleted
once nothing it stores names the person; the request is complete when every service it
expects (ErasureRequested's `services`) did. The events come on two topics, so in any
order: a confirmation may arrive before its request, and then the request's own time and
origin are not known yet (nor which services it expects: the platform's list is assumed).
Neither event names the person, and neither does this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from contracts import ERASING_SERVICES


@dataclass(frozen=True, slots=True)
class ErasureStatus:
    request_id: str
    requested_at: datetime | None = None  # None until ErasureRequested is in
    origin: str | None = None
    expected: tuple[str, ...] = ERASING_SERVICES
    confirmed: Mapping[str, datetime] = field(default_factory=dict)

    @property
    def waiting_for(self) -> list[str]:
        """The expected services that have not confirmed yet, in the expected order."""
        return [service for service in self.expected if service not in self.confirmed]

    @property
    def complete(self) -> bool:
        return not self.waiting_for

    @property
    def completed_at(self) -> datetime | None:
        """When the last expected service confirmed, once all did."""
        if not self.complete:
            return None
        times = [self.confirmed[s] for s in self.expected if s in self.confirmed]
        return max(times) if times else None


def requested(
    status: ErasureStatus | None,
    request_id: str,
    at: datetime,
    origin: str,
    services: Sequence[str],
) -> ErasureStatus:
    """`status` once the request itself is known."""
    confirmed = dict(status.confirmed) if status else {}
    return ErasureStatus(request_id, at, origin, tuple(services) or ERASING_SERVICES, confirmed)


def confirmed(
    status: ErasureStatus | None, request_id: str, service: str, at: datetime
) -> ErasureStatus:
    """`status` with `service`'s confirmation; a repeated one keeps the first time."""
    status = status or ErasureStatus(request_id)
    if service in status.confirmed:
        return status
    return ErasureStatus(
        status.request_id,
        status.requested_at,
        status.origin,
        status.expected,
        {**status.confirmed, service: at},
    )


def newest_first(statuses: Sequence[ErasureStatus]) -> list[ErasureStatus]:
    """Requests by the time they were made, newest first; one whose request is not in yet
    (only confirmations so far) is the newest of all."""
    unknown = [s for s in statuses if s.requested_at is None]
    known = [s for s in statuses if s.requested_at is not None]
    known.sort(key=lambda s: (s.requested_at, s.request_id), reverse=True)
    return [*unknown, *known]
