"""The services' Kafka users and ACLs on a local Kafka with a SASL listener.

Each service signs in as `chorus-<service>` (as the Strimzi KafkaUsers of
deploy/k8s/components/kafka-access do) and gets the ACLs of `contracts.catalogue.access`. The
ACLs are created over the plain listener, whose anonymous user is the local Kafka's super
user (`stack.servers.KafkaServer` with `sasl_port`). aiokafka's admin client has no ACL
method; its protocol has the CreateAcls request (version 1), sent here one ACL at a time.
Runs in the project's virtualenv.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from contracts.catalogue import service_names
from contracts.catalogue.access import Acl, kafka_acls, user_name

# Kafka's protocol codes (org.apache.kafka.common.resource / acl).
_RESOURCE = {"topic": 2, "group": 3}
_PATTERN = {"literal": 3, "prefix": 4}
_OPERATION = {"Read": 3, "Write": 4, "Create": 5, "Describe": 8}
_ALLOW = 3


def sasl_environment(service: str, bootstrap: str, users: Mapping[str, str]) -> dict[str, str]:
    """What a service's process needs to sign in as its own user."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": user_name(service),
        "KAFKA_SASL_PASSWORD": users[user_name(service)],
    }


async def grant(plain_bootstrap: str, services: Iterable[str] | None = None) -> int:
    """Create the catalogue's ACLs of `services` (all by default); returns how many."""
    admin = AIOKafkaAdminClient(bootstrap_servers=plain_bootstrap)
    await admin.start()
    try:
        count = 0
        for service in services if services is not None else service_names():
            for acl in kafka_acls(service):
                await _create(admin, user_name(service), acl)
                count += 1
        return count
    finally:
        await admin.close()


async def _create(admin: AIOKafkaAdminClient, user: str, acl: Acl) -> None:
    request = CreateAclsRequest(
        _RESOURCE[acl.resource],
        acl.name,
        _PATTERN[acl.pattern],
        f"User:{user}",
        "*",
        _OPERATION[acl.operation],
        _ALLOW,
    )
    response = await admin._send_request(request)
    for error_code, message in response.creation_responses:
        if error_code:
            raise RuntimeError(f"Kafka refused the ACL {acl} for {user}: {error_code} {message}")
