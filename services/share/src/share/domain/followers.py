"""The company page's followers, counted now and then: a history of measurements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts import MeasurementSource, Network


@dataclass(frozen=True, slots=True)
class FollowersMeasurement:
    id: str
    tenant: str
    network: Network
    followers: int
    measured_at: datetime
    source: MeasurementSource
    recorded_by: str | None = None
    recorded_at: datetime | None = None
