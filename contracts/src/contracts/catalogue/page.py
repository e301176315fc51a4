"""The event catalogue as one static HTML page, rendered from the AsyncAPI documents.

`python -m contracts.catalogue.page <directory>` (`make docs`) reads the committed
documents in docs/events/ and writes `<directory>/index.html` beside a copy of them: per
topic its message, producer, subscribers with their consumer groups, key and data fields;
the envelope, headers and dead letters once. The page reads only the documents, as any
AsyncAPI tool would; it needs Jinja2, as the web app does.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from contracts.catalogue.asyncapi import DOCS_DIR

Document = dict[str, Any]
_SCHEMAS = "#/components/schemas/"
_SUFFIX = ".asyncapi.yaml"


@dataclass
class Field:
    name: str
    type: Markup
    required: bool
    rules: str
    default: str
    description: Markup


@dataclass
class Subscriber:
    service: str
    group: str
    why: str


@dataclass
class Topic:
    address: str
    message: str
    title: str
    type: str
    summary: str
    producer: str
    key: Markup
    subscribers: list[Subscriber]
    fields: list[Field]

    @property
    def anchor(self) -> str:
        return "topic-" + self.address


@dataclass
class Type:
    name: str
    description: str
    values: list[str] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)


@dataclass
class ServiceRow:
    name: str
    file: str
    sends: list[str]
    receives: list[tuple[str, str]]


@dataclass
class Catalogue:
    version: str
    introduction: Markup
    services: list[ServiceRow]
    topics: list[Topic]
    envelope: list[Field]
    headers: list[Field]
    dead_letter_headers: list[Field]
    types: list[Type]


def load(directory: Path = DOCS_DIR) -> dict[str, Document]:
    """The documents in `directory`, by service (the file name before `.asyncapi.yaml`)."""
    return {
        path.name.removesuffix(_SUFFIX): yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        for path in sorted(directory.glob("*" + _SUFFIX))
    }


def markdown(text: str) -> Markup:
    """The little Markdown the documents use: paragraphs, `- ` lists, **bold** and `code`."""
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if all(line.startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("\n".join(blocks))


def _inline(text: str) -> Markup:
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return Markup(re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html))


def _resolve(doc: Document, node: Any) -> Any:
    """`node`, or what its local `$ref` points to."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _named(node: Any) -> str | None:
    """The name of the component schema `node` refers to, if it is a reference to one."""
    if isinstance(node, dict) and str(node.get("$ref", "")).startswith(_SCHEMAS):
        return str(node["$ref"]).removeprefix(_SCHEMAS)
    return None


def _type(schema: dict[str, Any]) -> Markup:
    """A field's type in words: `list of Network`, `string (date-time) or null`."""
    name = _named(schema)
    if name is not None:
        return Markup('<a href="#type-{0}">{0}</a>').format(name)
    if "anyOf" in schema:
        branches = [s for s in schema["anyOf"] if s != {"type": "null"}]
        words = Markup(" or ").join(_type(s) for s in branches)
        return words + " or null" if len(branches) < len(schema["anyOf"]) else words
    if "const" in schema:
        return Markup("<code>{}</code>").format(json.dumps(schema["const"]))
    if "enum" in schema:
        return Markup("one of {}").format(", ".join(map(str, schema["enum"])))
    kind = schema.get("type")
    if kind == "array":
        return "list of " + _type(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        keys = _type(schema["propertyNames"]) if "propertyNames" in schema else Markup("string")
        return "map of " + keys + " to " + _type(schema["additionalProperties"])
    if kind is None:
        return Markup("any")
    if "format" in schema:
        return Markup("{} ({})").format(kind, schema["format"])
    return escape(kind)


def _rules(schema: dict[str, Any]) -> str:
    """A field's constraints in words, from the first branch that is not null."""
    for branch in schema.get("anyOf", []):
        if branch != {"type": "null"}:
            return _rules(branch)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        inner = _rules(schema["items"])
        count = _bounds(schema, "minItems", "maxItems", "items")
        return "; ".join(part for part in (count, inner and f"each {inner}") if part)
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = _rules(schema["additionalProperties"])
        return inner and f"each value {inner}"
    rules = [
        _bounds(schema, "minLength", "maxLength", "characters"),
        _bounds(schema, "minimum", "maximum", ""),
    ]
    if "pattern" in schema:
        rules.append(f"matches {schema['pattern']}")
    return "; ".join(rule for rule in rules if rule)


def _bounds(schema: dict[str, Any], low: str, high: str, unit: str) -> str:
    least, most = schema.get(low), schema.get(high)
    unit = f" {unit}" if unit else ""
    if least is not None and most is not None:
        return f"{least:,} to {most:,}{unit}"
    if least is not None:
        return f"at least {least:,}{unit}"
    if most is not None:
        return f"at most {most:,}{unit}"
    return ""


def _fields(schema: dict[str, Any], skip: frozenset[str] = frozenset()) -> list[Field]:
    required = set(schema.get("required", []))
    return [
        Field(
            name=name,
            type=_type(prop),
            required=name in required,
            rules=_rules(prop),
            default=json.dumps(prop["default"]) if "default" in prop else "",
            description=_inline(str(prop.get("description", ""))),
        )
        for name, prop in schema.get("properties", {}).items()
        if name not in skip
    ]


def _service_row(service: str, doc: Document) -> ServiceRow:
    sends, receives = [], []
    for operation in doc.get("operations", {}).values():
        channel = _resolve(doc, operation["channel"])
        if "x-chorus-producer" not in channel:
            continue  # a dead-letter topic
        if operation["action"] == "send":
            sends.append(channel["address"])
        else:
            group = operation["bindings"]["kafka"]["groupId"]["enum"][0]
            receives.append((channel["address"], group))
    return ServiceRow(service, service + _SUFFIX, sends, receives)


def _topic(doc: Document, channel: dict[str, Any]) -> Topic:
    (reference,) = channel["messages"].values()
    message = _resolve(doc, reference)
    envelope = _resolve(doc, message["payload"])
    data = _resolve(doc, envelope["properties"]["data"])
    return Topic(
        address=channel["address"],
        message=message["name"],
        title=message.get("title", message["name"]),
        type=message.get("x-chorus-type", ""),
        summary=message.get("summary", ""),
        producer=channel["x-chorus-producer"],
        key=_inline(message["bindings"]["kafka"]["key"].get("description", "")),
        subscribers=[Subscriber(**s) for s in channel.get("x-chorus-subscribers", [])],
        fields=_fields(data),
    )


def _types(docs: dict[str, Document], topics: list[Topic]) -> list[Type]:
    """The named schemas a data field refers to (enums and nested objects), by name."""
    schemas: dict[str, dict[str, Any]] = {}
    for doc in docs.values():
        schemas |= doc.get("components", {}).get("schemas", {})
    wanted: set[str] = set()
    pending = [f.type for topic in topics for f in topic.fields]
    while pending:
        for name in re.findall(r'href="#type-([^"]+)"', str(pending.pop())):
            if name not in wanted:
                wanted.add(name)
                pending.extend(f.type for f in _fields(schemas[name]))
    return [
        Type(
            name=name,
            description=str(schemas[name].get("description", "")),
            values=[str(v) for v in schemas[name].get("enum", [])],
            fields=_fields(schemas[name]),
        )
        for name in sorted(wanted)
    ]


def catalogue(docs: dict[str, Document]) -> Catalogue:
    """What the page shows, from the documents alone."""
    topics: dict[str, Topic] = {}
    for doc in docs.values():
        for channel in doc.get("channels", {}).values():
            if "x-chorus-producer" in channel and channel["address"] not in topics:
                topics[channel["address"]] = _topic(doc, channel)
    first = next(iter(docs.values()))
    schemas = first["components"]["schemas"]
    # Every event has the same envelope: the attributes of any one, without its data.
    some_event = next(m for m in first["components"]["messages"].values() if "x-chorus-type" in m)
    envelope = _resolve(first, some_event["payload"])
    dead_letters: dict[str, Any] = next(
        (
            doc["components"]["schemas"]["DeadLetterHeaders"]
            for doc in docs.values()
            if "DeadLetterHeaders" in doc["components"]["schemas"]
        ),
        {},
    )
    description = first["info"]["description"]
    ordered = [topics[address] for address in sorted(topics)]
    return Catalogue(
        version=str(first["info"]["version"]),
        # The part every document shares: from the envelope on.
        introduction=markdown(description[description.index("**Envelope.**") :]),
        services=[_service_row(service, doc) for service, doc in docs.items()],
        topics=ordered,
        envelope=[_any_event(f) for f in _fields(envelope, skip=frozenset({"data"}))],
        headers=_fields(schemas["KafkaHeaders"]),
        dead_letter_headers=_fields(dead_letters),
        types=_types(docs, ordered),
    )


def _any_event(attribute: Field) -> Field:
    """An envelope attribute as every event has it: `type` is each event's own."""
    if attribute.name != "type":
        return attribute
    attribute.type = Markup("string")
    attribute.description = _inline("the event's type, `io.chorus.<event>.v1`")
    return attribute


def render(docs: dict[str, Document]) -> str:
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("page.html")
    return template.render(catalogue=catalogue(docs))


def build(out: Path, source: Path = DOCS_DIR) -> Path:
    """Write the page and a copy of the documents it links to into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*" + _SUFFIX)):
        shutil.copyfile(path, out / path.name)
    page = out / "index.html"
    page.write_text(render(load(source)))
    return page


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".cache/docs/events")))
