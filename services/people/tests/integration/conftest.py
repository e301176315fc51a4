from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from support import ServiceProcess, ref

TOKEN_BYTES = 40


@pytest.fixture(scope="module")
def scim_tenant() -> str:
    return ref("scim")


@pytest.fixture(scope="module")
def scim_token() -> str:
    return ref("token-") + "x" * TOKEN_BYTES


@pytest.fixture(scope="module")
def people_api(
    scim_tenant: str, scim_token: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The people api on a database of its own, with one tenant's SCIM token."""
    api = ServiceProcess(
        "people",
        "api",
        env={
            "PEOPLE_DATABASE": ref("chorus_people_it_"),
            "PEOPLE_SCIM_TOKENS": json.dumps({scim_tenant: scim_token, "other": "o" * 40}),
        },
    ).start(tmp_path_factory.mktemp("people-api"))
    try:
        api.wait_healthy()
        yield api
    finally:
        api.stop()
