"""The tenant's sharing guidelines, who acknowledged which version, and its settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Guidelines:
    """One version of a tenant's sharing guidelines (versions count from 1)."""

    tenant: str
    version: int
    title: str
    body: str
    acknowledgement_required: bool
    published_at: datetime
    published_by: str


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """An employee read one version of the guidelines."""

    tenant: str
    employee_id: str
    version: int
    acknowledged_at: datetime


@dataclass(frozen=True, slots=True)
class TenantSettings:
    tenant: str
    # Added to every suggested text when missing (e.g. #employee); None for none.
    disclosure_hashtag: str | None = None
