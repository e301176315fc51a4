"""AsyncAPI 3.0 documents of the events, one per service, generated from the contracts.

`python -m contracts.catalogue.asyncapi` (part of `make schemas`) rewrites
docs/events/<service>.asyncapi.yaml; a test fails when they drift from the models or from
the catalogue, and another has the AsyncAPI parser from npm check them.

A document holds what one service publishes (a `send` operation per topic) and subscribes
to (a `receive` operation per topic and consumer group, and the dead letters it writes),
and for each topic its producer and every subscriber. Each message's payload is the
event's JSON Schema (`contracts.schemas`), its `$defs` moved to the document's
`components.schemas`, so that a document stands on its own. Generating needs PyYAML, as
the other development tools do.
"""

from __future__ import annotations

import inspect
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from contracts.catalogue import (
    SERVICES,
    Subscription,
    consumed_by,
    published_by,
    subscriptions_of,
    subscriptions_to,
)
from contracts.envelope import CONTENT_TYPE
from contracts.events import AnyEvent
from contracts.schemas import generate, schema_file_name
from contracts.topics import (
    DLQ_CONSUMER_HEADER,
    DLQ_ERROR_HEADER,
    DLQ_ERROR_TYPE_HEADER,
    DLQ_SOURCE_HEADER,
    dlq_topic,
)

DOCS_DIR = Path(__file__).resolve().parents[4] / "docs" / "events"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
HEADER = "# Generated from contracts/ by `make schemas`: do not edit.\n"

_ENVELOPE = f"""\
**Envelope.** Every message is a CloudEvents 1.0 event in structured JSON mode (Kafka
header `content-type: {CONTENT_TYPE}`): the attributes `specversion`, `id`, `source`
(`/chorus/<service>`), `type` (`io.chorus.<event>.v1`), `time`, `subject`, `dataschema`,
`datacontenttype`, the extension `tenantid`, and `traceparent` (W3C trace context) when the
event belongs to a trace; the payload is in `data`. Readers ignore fields they do not know:
a v1 contract only gains optional fields, and a breaking change is a new `.v2` topic.

**Topics and keys.** One topic per event and major version (`chorus.<event>.v1`). The
Kafka key is `<tenantid>:<a data field>`, named in each message's key binding, so that the
events of one key (mostly one employee, or one content item) stay in order on one
partition.

**Delivery.** At least once: events are published through an outbox, and a publish can be
repeated with the same `id`; subscribers are idempotent by `id`. Each service reads as the
consumer group named in its receive operations, from the earliest offset, and commits
only once the effect is durable.

**Dead letters.** A record a subscriber cannot parse, or fails to handle after its retries,
goes to the topic's `<topic>.dlq` twin with its key, value and headers, and the headers
`{DLQ_ERROR_HEADER}`, `{DLQ_ERROR_TYPE_HEADER}`, `{DLQ_SOURCE_HEADER}`
(`<topic>/<partition>/<offset>`) and `{DLQ_CONSUMER_HEADER}` (the group that refused it).
"""


def file_name(service: str) -> str:
    return f"{service}.asyncapi.yaml"


def channel_id(event: type[AnyEvent]) -> str:
    return event.event_name


def dlq_channel_id(event: type[AnyEvent]) -> str:
    return f"{event.event_name}.dlq"


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(path)}


def _doc(obj: object) -> str:
    """A class's own docstring (not one it inherits), each paragraph on one line; or ''."""
    raw = getattr(obj, "__dict__", {}).get("__doc__")
    if not isinstance(raw, str) or not raw.strip():
        return ""
    paragraphs = inspect.cleandoc(raw).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _summary(event: type[AnyEvent]) -> str:
    data_class = event.model_fields["data"].annotation
    return _doc(event) or _doc(data_class)


def _title(event: type[AnyEvent]) -> str:
    return event.event_name.replace("-", " ").capitalize()


def _key(event: type[AnyEvent]) -> dict[str, Any]:
    return {
        "type": "string",
        "description": f"`{event.key_pattern()}`: the events of one key keep their order.",
    }


def _group_binding(subscription: Subscription) -> dict[str, Any]:
    return {
        "groupId": {"type": "string", "enum": [subscription.group]},
        "clientId": {"type": "string", "enum": [f"chorus-{subscription.service}"]},
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def _subscriber_lines(event: type[AnyEvent]) -> list[str]:
    return [
        f"- {s.service} (group `{s.group}`): {s.why}" for s in subscriptions_to(event.topic)
    ] or ["- none"]


def _payload_schemas(event: type[AnyEvent]) -> dict[str, dict[str, Any]]:
    """The event's envelope schema and its definitions, with references rewritten to
    `#/components/schemas/`."""
    schema = generate(event)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    # The document is the schema's home now; its `$id` would rebase the references.
    schema.pop("$schema", None)
    schema.pop("$id", None)
    schema["description"] = (
        f"The CloudEvents envelope of {event.__name__}; its JSON Schema is "
        f"contracts/schemas/{schema_file_name(event)} (`dataschema` {event.schema_url()})."
    )
    found = {name: _rewrite_refs(value) for name, value in definitions.items()}
    found[event.__name__] = _rewrite_refs(schema)
    return found


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/$defs/", "#/components/schemas/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The Kafka headers of an event record.",
        "required": ["content-type"],
        "properties": {
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            "traceparent": {
                "type": "string",
                "description": "W3C trace context of the publish span, set by the producer's "
                "tracing; the envelope's `traceparent` is the event's own.",
            },
            "correlation_id": {
                "type": "string",
                "description": "Set by the producers' messaging framework (FastStream); not "
                "part of the contract.",
            },
        },
        "additionalProperties": {"type": "string"},
    }


def _dead_letter_headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The refused record's headers, and why it was refused.",
        "required": [
            DLQ_ERROR_HEADER,
            DLQ_ERROR_TYPE_HEADER,
            DLQ_SOURCE_HEADER,
            DLQ_CONSUMER_HEADER,
        ],
        "properties": {
            DLQ_ERROR_HEADER: {
                "type": "string",
                "maxLength": 4000,
                "description": "why: the parse error, or the handler's exception message",
            },
            DLQ_ERROR_TYPE_HEADER: {
                "type": "string",
                "description": "the error's class, e.g. PoisonRecord for a record that does "
                "not parse as its topic's event",
            },
            DLQ_SOURCE_HEADER: {
                "type": "string",
                "description": "where the record was read: `<topic>/<partition>/<offset>`",
            },
            DLQ_CONSUMER_HEADER: {
                "type": "string",
                "description": "the consumer group that refused it",
            },
        },
        "additionalProperties": {"type": "string"},
    }


def _message(event: type[AnyEvent]) -> dict[str, Any]:
    summary = _summary(event)
    return {
        "name": event.__name__,
        "title": _title(event),
        **({"summary": summary} if summary else {}),
        "contentType": CONTENT_TYPE,
        "headers": _ref("components", "schemas", "KafkaHeaders"),
        "payload": _ref("components", "schemas", event.__name__),
        "bindings": {"kafka": {"key": _key(event), "bindingVersion": KAFKA_BINDING_VERSION}},
        "x-chorus-type": event.event_type(),
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record a subscriber refused, as it was read, with the reason in its headers.",
        # The value as it came, which need not be the CloudEvent it should have been.
        "contentType": "application/octet-stream",
        "headers": _ref("components", "schemas", "DeadLetterHeaders"),
        "payload": {
            "description": "The refused record's value, byte for byte: usually the event, "
            "but it may not be JSON at all."
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the refused record's key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _producers(event: type[AnyEvent]) -> str:
    """Who publishes `event`: one service, or each of several (for its own part)."""
    return ", ".join(event.producers())


def _channel(event: type[AnyEvent]) -> dict[str, Any]:
    subscribers = subscriptions_to(event.topic)
    return {
        "address": event.topic,
        "title": event.__name__,
        "description": "\n".join(
            [
                f"{event.__name__} events (`{event.event_type()}`), published by "
                f"{_producers(event)}. Subscribers:",
                "",
                *_subscriber_lines(event),
            ]
        ),
        "messages": {event.__name__: _ref("components", "messages", event.__name__)},
        "bindings": {"kafka": {"topic": event.topic, "bindingVersion": KAFKA_BINDING_VERSION}},
        "x-chorus-producer": _producers(event),
        "x-chorus-subscribers": [
            {"service": s.service, "group": s.group, "why": s.why} for s in subscribers
        ],
    }


def _dlq_channel(event: type[AnyEvent]) -> dict[str, Any]:
    topic = dlq_topic(event.topic)
    return {
        "address": topic,
        "title": f"{event.__name__} dead letters",
        "description": f"Records of `{event.topic}` that a subscriber refused; nothing "
        "subscribes, operators read and replay them.",
        "messages": {"DeadLetter": _ref("components", "messages", "DeadLetter")},
        "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _operations(service: str) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for event in published_by(service):
        operations[f"send-{event.event_name}"] = {
            "action": "send",
            "channel": _ref("channels", channel_id(event)),
            "title": f"Publish {event.__name__}",
            "summary": f"{service} publishes {event.__name__} through its outbox.",
            "messages": [_ref("channels", channel_id(event), "messages", event.__name__)],
            "bindings": {
                "kafka": {
                    "clientId": {"type": "string", "enum": [f"chorus-{service}"]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
    for subscription in subscriptions_of(service):
        own_group = subscription.group == service
        for event in consumed_by(service):
            if event.topic not in subscription.topics:
                continue
            suffix = "" if own_group else f"-as-{subscription.group}"
            operations[f"receive-{event.event_name}{suffix}"] = {
                "action": "receive",
                "channel": _ref("channels", channel_id(event)),
                "title": f"Receive {event.__name__}",
                "summary": subscription.why,
                "messages": [_ref("channels", channel_id(event), "messages", event.__name__)],
                "bindings": {"kafka": _group_binding(subscription)},
            }
    for event in consumed_by(service):
        operations[f"dead-letter-{event.event_name}"] = {
            "action": "send",
            "channel": _ref("channels", dlq_channel_id(event)),
            "title": f"Dead-letter {event.__name__}",
            "summary": f"{service} sends the {event.__name__} records it refuses to "
            f"{dlq_topic(event.topic)}.",
            "messages": [_ref("channels", dlq_channel_id(event), "messages", "DeadLetter")],
        }
    return operations


def document(service: str) -> dict[str, Any]:
    """The AsyncAPI document of `service`: what it publishes and what it subscribes to."""
    description = next(s.description for s in SERVICES if s.name == service)
    published = published_by(service)
    consumed = consumed_by(service)
    events = [*published, *(e for e in consumed if e not in published)]
    channels: dict[str, Any] = {channel_id(e): _channel(e) for e in events}
    channels |= {dlq_channel_id(e): _dlq_channel(e) for e in consumed}

    schemas: dict[str, Any] = {}
    for event in events:
        for name, schema in _payload_schemas(event).items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas named {name} in {service}'s events")
    schemas["KafkaHeaders"] = _headers_schema()
    messages: dict[str, Any] = {e.__name__: _message(e) for e in events}
    if consumed:
        schemas["DeadLetterHeaders"] = _dead_letter_headers_schema()
        messages["DeadLetter"] = _dead_letter_message()

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:chorus:events:{service}",
        "info": {
            "title": f"Chorus {service} events",
            "version": version("contracts"),
            "description": f"What the {service} service publishes and subscribes to on "
            f"Kafka. {description}\n\n{_ENVELOPE}",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The Kafka cluster every Chorus service shares.",
                "variables": {
                    "bootstrap": {
                        "default": "127.0.0.1:9092",
                        "description": "host:port of a broker: the services' "
                        "KAFKA_BOOTSTRAP_SERVERS",
                    }
                },
            }
        },
        "channels": channels,
        "operations": _operations(service),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
        },
    }


def documents() -> dict[str, dict[str, Any]]:
    """Every service's document, by service, for those that publish or subscribe."""
    return {
        s.name: document(s.name)
        for s in SERVICES
        if published_by(s.name) or subscriptions_of(s.name)
    }


class _Dumper(yaml.CSafeDumper):
    """Plain YAML: no anchors for repeated parts, long texts as literal blocks (libyaml's
    emitter: five times faster than PyYAML's, and the same text)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.CSafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render(doc: dict[str, Any]) -> str:
    return HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write_all(directory: Path = DOCS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service, doc in documents().items():
        path = directory / file_name(service)
        path.write_text(render(doc))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS_DIR):
        print(path)
