from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chassis.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "metrics"
    default_api_port: ClassVar[int] = 8084
    default_worker_port: ClassVar[int] = 9084

    # Records per consumed batch: one insert_many each.
    batch_size: int = Field(1000, ge=1, le=10000)
    # How often the worker recomputes the per-tenant gauges (enrolled advocates).
    gauge_interval_seconds: float = Field(60.0, gt=0)
    # How long an api process keeps a tenant's engagement pattern (`/api/v1/moments`).
    moments_cache_seconds: float = Field(600.0, gt=0)
    # How long the worker's fact log keeps a batch. An api reads the log at least this
    # often (a load too, while it scans), or loads again. Short: on FerretDB every read of
    # the log scans all it keeps.
    fact_log_retention_seconds: float = Field(120.0, ge=30)
    # How often an api process reads the fact log when no request asks it to.
    follow_interval_seconds: float = Field(2.0, gt=0)
    # How often the worker rolls up engagement detail older than each tenant's retention
    # (`metrics.service_layer.retention`); a run with nothing to roll up reads one query.
    retention_interval_seconds: float = Field(3600.0, gt=0)
