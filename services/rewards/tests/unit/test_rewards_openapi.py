"""Every JSON route of rewards documents its response body in the OpenAPI document."""

from __future__ import annotations

from rewards.bootstrap import DEFINITION
from rewards.config import RewardsSettings
from support import untyped_json_routes


def test_every_json_route_has_a_typed_response_body() -> None:
    untyped = untyped_json_routes(DEFINITION, RewardsSettings(env="local"))
    assert untyped == [], "routes without a response model: " + ", ".join(untyped)
