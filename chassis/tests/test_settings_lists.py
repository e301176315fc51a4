"""Settings given as comma-separated values read the same way in every service."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from chassis.settings import CommaSeparated, ServiceSettings


class Sample(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMPLE_", extra="ignore")

    service: ClassVar[str] = "sample"
    default_api_port: ClassVar[int] = 8000
    default_worker_port: ClassVar[int] = 9000
    hosts: CommaSeparated = ()
    proxies: CommaSeparated = ("127.0.0.1",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("a", ("a",)),
        ("a,b", ("a", "b")),
        (" a , b ,, c ", ("a", "b", "c")),
        ("10.0.0.0/8, 127.0.0.1", ("10.0.0.0/8", "127.0.0.1")),
        ("localhost:8000", ("localhost:8000",)),
    ],
)
def test_comma_separated_values_from_the_environment(
    raw: str, expected: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMPLE_HOSTS", raw)
    assert Sample().hosts == expected


def test_defaults_and_values_given_in_code() -> None:
    assert Sample().proxies == ("127.0.0.1",)
    assert Sample(hosts="x, y").hosts == ("x", "y")
    assert Sample(hosts=["x", "y"]).hosts == ("x", "y")
