#!/usr/bin/env python3
"""Who may do what on the production Kafka: one Strimzi KafkaUser per service, each
process signed in as its own service's user, and the two users no process signs in as:
KEDA's, to measure the workers' lag, and the operators', to read the dead letters.
Rendered from the catalogue.

    .venv/bin/python deploy/k8s/components/kafka-access/generate.py          # write
    .venv/bin/python deploy/k8s/components/kafka-access/generate.py --check  # exit 1 if stale

The access control lists are `contracts.catalogue.access.kafka_acls(service)`: the topics
the service writes (its events, the dead-letter twins of what it reads), the topics it
reads, in consumer groups named after it, and the topics it makes sure of at start. This
writes them as KafkaUsers (users.yaml), one ACL rule per topic or group with the
operations allowed on it, and a patch per Deployment (credentials.yaml) that hands the
process its user's name and the password from the Secret Strimzi's User Operator makes
for that user. Besides them, users.yaml holds `chorus-keda`, which may describe, and only
describe, the topics and consumer groups of every subscription (what KEDA's Kafka scaler
reads to compute a group's lag; components/keda signs it in), and `chorus-operator`,
which may read the dead-letter topics, in consumer groups named `chorus-operator...`
(docs/runbooks.md). Change the catalogue, not these files, and run this again;
tests/deploy/test_kafka_users.py fails when they are not what this renders, and
tests/deploy/test_k8s.py checks what production applies against the catalogue. It imports
the `contracts` package, so it runs in the project's virtualenv (`make install`).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from contracts.catalogue import service_names, subscriptions_of
from contracts.catalogue.access import Acl, kafka_acls, user_name
from contracts.events import ALL_EVENTS
from contracts.topics import dlq_topic

# deploy/k8s, for its tools module.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools import write_or_check

OUT_DIR = Path(__file__).resolve().parent
USERS = "users.yaml"
CREDENTIALS = "credentials.yaml"
# The Kafka resource of components/strimzi, which the User Operator serves.
CLUSTER = "chorus"
ROLES = ("api", "worker")
COMMAND = ".venv/bin/python deploy/k8s/components/kafka-access/generate.py"
# The two users that are no service's: KEDA's operator's and the people on call's.
KEDA = "keda"
OPERATOR = "operator"

Obj = dict[str, Any]


def keda_acls() -> list[Acl]:
    """What KEDA's Kafka scaler needs to compute the lag of a trigger's group on its topic:
    the topic's partitions (Metadata), their last offsets (ListOffsets) and the group's
    committed offsets (FindCoordinator, OffsetFetch). Kafka authorizes each of these with
    Describe on the topic or the group; the scaler never joins a group nor fetches a
    record, so no Read. The triggers of components/keda are the catalogue's subscriptions
    (every worker that consumes is scaled), so these are too."""
    acls: set[Acl] = set()
    for service in service_names():
        for subscription in subscriptions_of(service):
            acls.add(Acl("group", subscription.group, "literal", "Describe"))
            acls |= {Acl("topic", topic, "literal", "Describe") for topic in subscription.topics}
    return sorted(acls)


def operator_acls() -> list[Acl]:
    """A person reading the dead-letter topics (docs/runbooks.md): every topic's `.dlq`
    twin, in consumer groups whose names start with `chorus-operator`. Kafka matches ACL
    names literally or by prefix, never by suffix, so each twin is named."""
    acls = {Acl("group", user_name(OPERATOR), "prefix", op) for op in ("Read", "Describe")}
    for topic in {dlq_topic(event.topic) for event in ALL_EVENTS}:
        acls |= {Acl("topic", topic, "literal", op) for op in ("Read", "Describe")}
    return sorted(acls)


def acl_rules(acls: list[Acl]) -> list[Obj]:
    """Strimzi's ACL rules: the ACLs grouped by resource, each rule with every operation
    allowed there, in the ACLs' order."""
    operations: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for acl in acls:
        operations[(acl.resource, acl.name, acl.pattern)].append(acl.operation)
    return [
        {
            "resource": {"type": resource, "name": name, "patternType": pattern},
            "operations": allowed,
        }
        for (resource, name, pattern), allowed in operations.items()
    ]


def kafka_user(name: str, acls: list[Acl]) -> Obj:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {"name": user_name(name), "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acl_rules(acls)},
        },
    }


def users() -> list[Obj]:
    services = service_names()
    clash = {KEDA, OPERATOR} & set(services)
    if clash:
        raise ValueError(f"a service named {sorted(clash)} would share its Kafka user")
    return [kafka_user(service, kafka_acls(service)) for service in services] + [
        kafka_user(KEDA, keda_acls()),
        kafka_user(OPERATOR, operator_acls()),
    ]


def credentials(service: str, role: str) -> Obj:
    """A strategic merge patch of the Deployment `<service>-<role>`, whose one container
    is named after the service (deploy/k8s/base)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{service}-{role}"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": service,
                            "env": [
                                {"name": "KAFKA_SASL_USERNAME", "value": user_name(service)},
                                {
                                    "name": "KAFKA_SASL_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {
                                            "name": user_name(service),
                                            "key": "password",
                                        }
                                    },
                                },
                            ],
                        }
                    ]
                }
            }
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as the hand-written files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _stream(header: str, documents: list[Obj]) -> str:
    body = "---\n".join(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
        for document in documents
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.strip().splitlines())
    return comment + body


def rendered() -> dict[str, str]:
    """File name -> text of every file this writes."""
    services = service_names()
    generated = (
        "Generated from contracts/catalogue/access.py: do not edit; change the catalogue and\n"
        f"run `{COMMAND}`."
    )
    return {
        USERS: _stream(
            f"{generated}\n"
            "One Kafka user per service, signing in with SCRAM-SHA-512, allowed only what its\n"
            "ACLs name (Kafka's authorizer denies the rest); then chorus-keda, with which KEDA\n"
            "reads the consumer groups' lag (Describe only), and chorus-operator, with which a\n"
            "person reads the dead-letter topics. Strimzi's User Operator keeps each user's\n"
            "password in a Secret of the user's name (key `password`).",
            users(),
        ),
        CREDENTIALS: _stream(
            f"{generated}\n"
            "Each process signs in to Kafka as its service's user, with the password Strimzi\n"
            "keeps in that user's Secret.",
            [credentials(service, role) for service in services for role in ROLES],
        ),
    }


def main(argv: list[str]) -> int:
    return write_or_check(OUT_DIR, rendered(), argv, Path(__file__).name, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
