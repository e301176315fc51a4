from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import ServiceSettings


class RewardsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REWARDS_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "rewards"
    default_api_port: ClassVar[int] = 8083
    default_worker_port: ClassVar[int] = 9083
