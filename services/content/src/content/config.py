from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import ServiceSettings


class ContentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTENT_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "content"
    default_api_port: ClassVar[int] = 8081
    default_worker_port: ClassVar[int] = 9081
