from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.settings import (
    CommaSeparated,
    ServiceSettings,
    check_fernet_key,
    check_secret,
    local_fernet_key,
)

LOCAL_SECRET = "chorus-share-local-development-only"


def _local_fernet_key() -> str:
    return local_fernet_key(LOCAL_SECRET)


class ShareSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHARE_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "share"
    default_api_port: ClassVar[int] = 8082
    default_worker_port: ClassVar[int] = 9082

    # The api's listener for short links (`/l/{code}`), the port the public reaches.
    links_port: int = Field(8090, ge=1, le=65535)
    # Where short links point: the public address of that listener.
    public_base_url: str = "http://127.0.0.1:8090"
    # Proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For the links
    # listener believes; the visitor's address is the nearest hop not among them.
    trusted_proxies: CommaSeparated = ("127.0.0.1",)
    # Limits of the links listener, which faces the whole internet (its docstring says why
    # each one). A request's head: bytes (request line and headers) and number of headers.
    links_max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    links_max_headers: int = Field(100, ge=8, le=1000)
    # Seconds from a request's first byte until it must be complete (else 408), and that a
    # connection with no request under way stays open.
    links_header_timeout_seconds: float = Field(10.0, gt=0, le=300)
    links_idle_timeout_seconds: float = Field(75.0, gt=0, le=3600)
    # Open connections per api process; more are closed as soon as they arrive.
    links_max_connections: int = Field(10_000, ge=1, le=1_000_000)
    # Shares per employee and UTC day, unless the tenant set its own cap.
    default_daily_cap: int = Field(20, ge=1)
    # Derives the daily visitor salt and signs the advocate cookie.
    link_secret: str = LOCAL_SECRET
    # HMAC key of engagement webhooks (connectors and the network-API poller).
    webhook_secret: str = LOCAL_SECRET
    # Fernet key (32 url-safe base64 bytes) that encrypts advocates' network tokens.
    token_key: str = Field(default_factory=_local_fernet_key)
    linkedin_api_url: str = "https://api.linkedin.com"
    linkedin_version: str = Field("202510", pattern=r"^\d{6}$")
    # How long the api owns the publishing of a click's event before the worker's relay
    # takes it over; long enough to ride out a Kafka outage without publishing twice.
    click_lease_seconds: float = Field(120.0, gt=0)
    # How long a redirect waits for Kafka to acknowledge its click before writing it to
    # MongoDB instead (and, until Kafka answers again, every click after it). 0: every
    # click is written to MongoDB first and published from there.
    click_ack_timeout_seconds: float = Field(0.5, ge=0)
    # How often the worker looks for scheduled shares that are due.
    schedule_interval_seconds: float = Field(1.0, gt=0)
    # How often the worker deletes engagement reports older than each tenant's retention
    # (`share.service_layer.handlers.forget_engagements`).
    retention_interval_seconds: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _no_local_secrets_in_production(self) -> ShareSettings:
        if self.env != "local":
            for name in ("link_secret", "webhook_secret"):
                if getattr(self, name) == LOCAL_SECRET:
                    raise ValueError(f"SHARE_{name.upper()} must be set outside CHORUS_ENV=local")
                check_secret(f"SHARE_{name.upper()}", getattr(self, name))
            if self.token_key == _local_fernet_key():
                raise ValueError("SHARE_TOKEN_KEY must be set outside CHORUS_ENV=local")
        check_fernet_key("SHARE_TOKEN_KEY", self.token_key)
        return self
