from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chassis.settings import CommaSeparated, ServiceSettings


class ContentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTENT_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "content"
    default_api_port: ClassVar[int] = 8081
    default_worker_port: ClassVar[int] = 9081

    # How often the worker publishes scheduled items and expires old ones.
    schedule_interval_seconds: float = Field(1.0, gt=0)
    # The feed's read model (api): how often each process looks for other processes'
    # changes, how often it reloads a tenant in full regardless (a safety net for a change
    # whose writer died before announcing it), how long it waits for a change number that
    # was taken but not yet logged, and how long the worker keeps the change log.
    feed_refresh_seconds: float = Field(0.5, gt=0)
    feed_reload_seconds: float = Field(600.0, gt=0)
    feed_gap_grace_seconds: float = Field(5.0, gt=0)
    feed_log_retention_seconds: float = Field(600.0, gt=0)
    preview_timeout_seconds: float = Field(5.0, gt=0)
    preview_max_bytes: int = Field(1_000_000, ge=1024)
    preview_max_redirects: int = Field(5, ge=0, le=20)
    # Comma-separated `host` or `host:port` entries fetched even though they resolve to a
    # non-public address (an intranet page, a test server). Empty: only public addresses.
    preview_allowed_hosts: CommaSeparated = ()

    @property
    def preview_allowed(self) -> frozenset[str]:
        return frozenset(host.lower() for host in self.preview_allowed_hosts)
