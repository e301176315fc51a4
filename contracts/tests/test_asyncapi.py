"""The committed AsyncAPI documents are the contracts' and the catalogue's, and the catalogue
names only known services, topics and keys."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import (
    ALL_EVENTS,
    EVENTS_BY_TOPIC,
    CloudEvent,
    GuidelinesPublished,
    GuidelinesPublishedData,
    PostShared,
    PostSharedData,
)
from contracts.catalogue import SERVICES, SUBSCRIPTIONS, asyncapi, service_names
from contracts.catalogue.asyncapi import DOCS_DIR, document, documents, file_name, render

SERVICES_WITH_EVENTS = list(documents())


@pytest.mark.parametrize("service", SERVICES_WITH_EVENTS)
def test_committed_document_matches_the_contracts(service: str) -> None:
    path = DOCS_DIR / file_name(service)
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text() == render(document(service)), (
        f"{path.name} drifted from the contracts: run `make schemas` and commit the result"
    )


def test_no_document_without_a_service() -> None:
    expected = {file_name(service) for service in SERVICES_WITH_EVENTS}
    assert {p.name for p in DOCS_DIR.glob("*.asyncapi.yaml")} == expected


def test_a_changed_contract_changes_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    before = render(document("share"))
    generate = asyncapi.generate

    def with_a_new_field(event: Any) -> dict[str, Any]:
        schema = copy.deepcopy(generate(event))
        data = schema["$defs"].get(f"{event.__name__}Data")
        if data is not None:
            data["properties"]["note"] = {"type": "string", "default": ""}
        return schema

    monkeypatch.setattr(asyncapi, "generate", with_a_new_field)
    assert render(document("share")) != before


def test_every_service_publishes_or_subscribes() -> None:
    assert SERVICES_WITH_EVENTS == service_names()


def test_the_catalogue_names_known_services_and_topics() -> None:
    names = set(service_names())
    assert {name for event in ALL_EVENTS for name in event.producers()} <= names
    for subscription in SUBSCRIPTIONS:
        assert subscription.service in names
        assert set(subscription.topics) <= EVENTS_BY_TOPIC.keys(), subscription
    pairs = [(s.group, topic) for s in SUBSCRIPTIONS for topic in s.topics]
    assert len(pairs) == len(set(pairs)), "a group reads a topic once"
    assert len({s.name for s in SERVICES}) == len(SERVICES)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_name)
def test_a_class_that_makes_its_own_key_describes_it(event: Any) -> None:
    own_key = "partition_key" in vars(event)
    own_pattern = "key_pattern" in vars(event)
    assert own_key == own_pattern, (
        f"{event.__name__} overrides partition_key or key_pattern without the other"
    )


def _matches_pattern(event: CloudEvent[Any]) -> bool:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return event.tenantid if name == "tenantid" else str(getattr(event.data, name[5:]))

    return re.sub(r"<([a-z_.]+)>", value, event.key_pattern()) == event.partition_key()


def test_key_patterns_describe_the_keys() -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    share = PostShared.create(
        tenant_id="acme",
        subject="sh1",
        data=PostSharedData(
            share_id="sh1",
            content_id=None,
            employee_id="e1",
            network="linkedin",
            short_code="abc123",
            tracked_url="https://go.example.com/l/abc123",
            shared_at=at,
            method="intent",
        ),
    )
    guidelines = GuidelinesPublished.create(
        tenant_id="acme",
        subject="guidelines",
        data=GuidelinesPublishedData(version=2, title="Be kind", published_at=at, published_by="a"),
    )
    assert _matches_pattern(share) and share.key_pattern() == "<tenantid>:<data.employee_id>"
    assert _matches_pattern(guidelines) and guidelines.partition_key() == "acme:guidelines"
