"""Every JSON route of metrics documents its response body in the OpenAPI document."""

from __future__ import annotations

from metrics.bootstrap import DEFINITION
from metrics.config import MetricsSettings
from support import untyped_json_routes


def test_every_json_route_has_a_typed_response_body() -> None:
    untyped = untyped_json_routes(DEFINITION, MetricsSettings(env="local"))
    assert untyped == [], "routes without a response model: " + ", ".join(untyped)
