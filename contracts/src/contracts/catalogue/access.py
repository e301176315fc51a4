"""Who may do what on Kafka: each service's access control list, derived from the catalogue.

Each service signs in to Kafka as a user of its own name (SCRAM-SHA-512; in Kubernetes
the Strimzi KafkaUser of that name, locally the devstack's SASL listener), and may:

- write the topics of the events it publishes, and the dead-letter twins of the topics it
  reads (its consumers put poison records there);
- read the topics it subscribes to, in consumer groups whose names start with its name
  (`rewards`, `share-engagement-counters`, a test's `rewards-<suffix>`);
- describe and create every topic it makes sure of at start: its own, those it reads, and
  their twins. (In production the topics exist as KafkaTopics; a service creates one only
  where nobody declared it, as in development.)

Nothing else: no other service's topic, no other group, no transactional id, no cluster
operation. So a service cannot forge another's events (points, opt-outs, redirect targets)
nor read a topic it has no business with. `deploy/k8s/components/kafka-access` is generated
from this, and `tests/e2e/test_kafka_access.py` holds a SASL Kafka to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.catalogue import published_by, service_names, subscriptions_of
from contracts.topics import dlq_topic

Operation = Literal["Read", "Write", "Describe", "Create"]


@dataclass(frozen=True, order=True)
class Acl:
    """Allow `operation` on the topic or consumer group `name` (`prefix`: every name that
    starts with it)."""

    resource: Literal["topic", "group"]
    name: str
    pattern: Literal["literal", "prefix"]
    operation: Operation


def user_name(name: str) -> str:
    """The Kafka user a service (or another client: KEDA, the people on call) signs in as.
    (`deploy/local/stack`, standard library only, names the local users the same way.)"""
    return f"chorus-{name}"


def writes(service: str) -> list[str]:
    """The topics `service` writes: its events' and the twins of those it reads."""
    own = {event.topic for event in published_by(service)}
    return sorted(own | {dlq_topic(topic) for topic in reads(service)})


def reads(service: str) -> list[str]:
    return sorted({topic for s in subscriptions_of(service) for topic in s.topics})


def ensured(service: str) -> list[str]:
    """The topics the service makes sure exist at start (its `publishes` and `consumes`
    and their twins, as `chassis.kafka.ensure_topics` does)."""
    named = {event.topic for event in published_by(service)} | set(reads(service))
    return sorted(named | {dlq_topic(topic) for topic in named})


def kafka_acls(service: str) -> list[Acl]:
    if service not in service_names():
        raise ValueError(f"no service {service!r} in the catalogue")
    acls = {Acl("topic", t, "literal", "Write") for t in writes(service)}
    acls |= {Acl("topic", t, "literal", "Read") for t in reads(service)}
    for topic in ensured(service):
        acls |= {
            Acl("topic", topic, "literal", "Describe"),
            Acl("topic", topic, "literal", "Create"),
        }
    if reads(service):
        acls.add(Acl("group", service, "prefix", "Read"))
    return sorted(acls)
