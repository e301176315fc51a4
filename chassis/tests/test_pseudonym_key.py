"""A process keys `contracts.erasure.person_key` with its settings' pseudonym key."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from chassis.process import ServiceDefinition, create_app
from chassis.settings import ServiceSettings
from contracts.erasure import LOCAL_PSEUDONYM_KEY, person_key, use_pseudonym_key


class _Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMPLE_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "sample"
    default_api_port: ClassVar[int] = 8081
    default_worker_port: ClassVar[int] = 9081


async def _no_setup(runtime: object) -> None:
    return None


def test_a_process_keys_person_key_with_its_settings_key() -> None:
    key = "the-pseudonym-key-of-this-installation-0123"
    definition = ServiceDefinition(
        name="sample", settings_class=_Settings, setup=_no_setup, routers=lambda: []
    )
    development = person_key("demo", "alice")
    try:
        for role in ("api", "worker"):
            use_pseudonym_key(LOCAL_PSEUDONYM_KEY)
            create_app(definition, role, _Settings(pseudonym_key=key))
            assert person_key("demo", "alice") == person_key("demo", "alice", key=key)
            assert person_key("demo", "alice") != development
    finally:
        use_pseudonym_key(LOCAL_PSEUDONYM_KEY)
