"""Share's OpenAPI document: what a connector needs to sign its reports is in it."""

from __future__ import annotations

from chassis.process import create_app
from share.bootstrap import DEFINITION
from share.config import ShareSettings


def test_the_engagement_webhook_documents_its_signature_headers() -> None:
    document = create_app(DEFINITION, "api", ShareSettings(env="local")).openapi()
    operation = document["paths"]["/api/v1/engagements"]["post"]

    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}

    assert list(headers) == [
        "X-Chorus-Tenant",
        "X-Chorus-Connector",
        "X-Chorus-Timestamp",
        "X-Chorus-Signature",
    ]
    assert all(h["required"] and h["description"] for h in headers.values())
    assert "connector's secret" in headers["X-Chorus-Signature"]["description"]
    assert operation["requestBody"]["required"] is True
    connectors = document["paths"]["/api/v1/settings/connectors"]
    assert set(connectors) == {"get", "post"}
    made = connectors["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][made["$ref"].rsplit("/", 1)[-1]]
    assert "secret" in schema["properties"]
