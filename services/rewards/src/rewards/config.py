from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chassis.settings import CommaSeparated, ServiceSettings


class RewardsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REWARDS_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "rewards"
    default_api_port: ClassVar[int] = 8083
    default_worker_port: ClassVar[int] = 9083

    # Records per consumed batch: one standing write per employee in it, however many
    # events they have, so bigger batches write less per event.
    batch_size: int = Field(10_000, ge=1)
    # Tenants this deployment scores, comma separated; empty: every tenant. A large tenant
    # can get workers of its own (with a consumer group of their own), the rest share one.
    tenants: CommaSeparated = ()
    # How old a leaderboard snapshot may get before a fresh one is loaded in the background.
    leaderboard_refresh_seconds: float = Field(5.0, gt=0)
    # "Top 10% of the month": a month is decided this long after it ended (UTC), so that
    # events still in flight count; workers look for a month to close this often.
    month_end_grace_seconds: float = Field(3600.0, ge=0)
    month_end_interval_seconds: float = Field(60.0, gt=0)
