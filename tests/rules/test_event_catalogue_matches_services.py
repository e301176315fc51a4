"""The event catalogue (`contracts.catalogue`) says what the services do: each worker's
subscribers, as it registers them, and each service's declared topics.

No server is started: a service's `subscribe` only registers its batch subscribers on a
broker, and this broker never connects. Nothing the handlers would use is built."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from chassis.process import Runtime
from contracts.catalogue import SERVICES, published_by, service_names, subscriptions_of

REPO = Path(__file__).resolve().parents[2]


def _definition(service: str) -> Any:
    return importlib.import_module(f"{service}.bootstrap").DEFINITION


def _registered(service: str) -> Counter[tuple[str, frozenset[str]]]:
    """(consumer group, topics) of each subscriber the service's worker registers."""
    definition = _definition(service)
    broker = KafkaBroker()
    runtime = Runtime(
        # The group as in production: the service name, whatever the environment says.
        settings=definition.settings_class(consumer_group=definition.name),
        role="worker",
        mongo=None,
        db=None,
        broker=broker,
        publisher=None,
        services=SimpleNamespace(services=None),
        directory=object() if definition.directory else None,
    )
    if definition.subscribe is not None:
        definition.subscribe(runtime)
    return Counter((s.group_id, frozenset(s.topic_names)) for s in broker.subscribers)


def test_the_catalogue_lists_every_service() -> None:
    with_bootstrap = {
        path.parent.name
        for path in (REPO / "services").glob("*/src/*/bootstrap.py")
        if path.parent.name == path.parents[2].name
    }
    assert set(service_names()) == with_bootstrap


@pytest.mark.parametrize("service", service_names())
def test_subscriptions_are_what_the_worker_registers(service: str) -> None:
    listed = Counter((s.group, frozenset(s.topics)) for s in subscriptions_of(service))
    assert _registered(service) == listed, (
        f"{service}'s worker subscribes otherwise than contracts.catalogue says: update "
        "SUBSCRIPTIONS and run `make schemas`"
    )


@pytest.mark.parametrize("service", service_names())
def test_declared_topics_are_the_catalogue_s(service: str) -> None:
    definition = _definition(service)
    consumed = {topic for s in subscriptions_of(service) for topic in s.topics}
    assert set(definition.consumes) == consumed
    assert set(definition.publishes) == {event.topic for event in published_by(service)}
    described = next(s.description for s in SERVICES if s.name == service)
    assert definition.description == described
