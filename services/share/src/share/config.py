from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.settings import ServiceSettings


class ShareSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHARE_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "share"
    default_api_port: ClassVar[int] = 8082
    default_worker_port: ClassVar[int] = 9082

    # Where short links point: the public address of the share api's /l/{code}.
    public_base_url: str = "http://127.0.0.1:8082"
