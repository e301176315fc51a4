"""Each service's Kafka ACLs, as the catalogue derives them."""

from __future__ import annotations

import pytest

from contracts import ALL_EVENTS, dlq_topic, topics
from contracts.catalogue import service_names, subscriptions_of
from contracts.catalogue.access import kafka_acls, reads, writes


def test_a_service_writes_its_own_events_and_the_twins_of_what_it_reads() -> None:
    assert topics.POINTS_AWARDED in writes("rewards")
    assert dlq_topic(topics.POST_SHARED) in writes("rewards")
    assert topics.POST_SHARED not in writes("rewards")
    assert topics.POINTS_AWARDED not in writes("share")
    assert topics.ADVOCATE_OPTED_OUT in writes("share")
    assert writes("people") == sorted(
        t for t in (topics.PERSON_UPSERTED, topics.PERSON_DEACTIVATED, topics.PERSON_DELETED)
    )


@pytest.mark.parametrize("service", service_names())
def test_every_acl_names_a_topic_of_the_catalogue_or_the_service_s_groups(service: str) -> None:
    known = {t for e in ALL_EVENTS for t in (e.topic, dlq_topic(e.topic))}
    for acl in kafka_acls(service):
        if acl.resource == "topic":
            assert acl.pattern == "literal" and acl.name in known, acl
        else:
            assert (acl.resource, acl.name, acl.pattern, acl.operation) == (
                "group",
                service,
                "prefix",
                "Read",
            )
    groups = {s.group for s in subscriptions_of(service)}
    assert all(group.startswith(service) for group in groups)
    read = {a.name for a in kafka_acls(service) if a.operation == "Read" and a.resource == "topic"}
    assert read == set(reads(service))


def test_an_unknown_service_has_no_acls() -> None:
    with pytest.raises(ValueError, match="no service"):
        kafka_acls("payroll")
