from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "metrics"
    default_api_port: ClassVar[int] = 8084
    default_worker_port: ClassVar[int] = 9084
