"""The CloudEvents 1.0 envelope every Chorus event travels in (structured JSON mode)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

CONTENT_TYPE = "application/cloudevents+json"
SCHEMA_BASE_URL = "https://schemas.chorus.dev/events"

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a timezone (RFC 3339)")
    return value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_require_utc)]
"""An RFC 3339 timestamp with a zone, normalised to UTC."""

Identifier = Annotated[str, Field(min_length=1, max_length=200)]


class EventData(BaseModel):
    """Base of every event payload.

    Unknown fields are ignored, not refused: v1 grows by optional fields, and a subscriber
    built against an older contract must keep reading what newer producers send.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)


D = TypeVar("D", bound=EventData)


class CloudEvent(BaseModel, Generic[D]):
    """CloudEvents 1.0 envelope with the Chorus extensions `tenantid` and `traceparent`."""

    # Other CloudEvents extension attributes are tolerated and dropped.
    model_config = ConfigDict(extra="ignore", frozen=True)

    # Set by each concrete event class.
    event_name: ClassVar[str]
    topic: ClassVar[str]
    # The service that publishes it. An event several services publish (each confirming
    # its own part of a flow) leaves this empty and names them in `publishers`; each of
    # them names itself when it creates one (`create(service=...)`).
    service: ClassVar[str]
    publishers: ClassVar[tuple[str, ...]] = ()
    # The data field whose value, after the tenant, makes the Kafka key.
    key_field: ClassVar[str]
    # True for a step inside one service, on Kafka so that it is durable: listed in the
    # catalogue, but not an event for other systems to build on (metrics does not count it).
    internal: ClassVar[bool] = False

    specversion: Literal["1.0"] = "1.0"
    id: Identifier
    source: Identifier = Field(description="/chorus/<service>")
    type: str
    time: UtcDateTime
    subject: Identifier
    dataschema: str
    datacontenttype: Literal["application/json"] = "application/json"
    tenantid: Identifier
    traceparent: Annotated[str | None, Field(pattern=_TRACEPARENT.pattern)] = None
    data: D

    @classmethod
    def event_type(cls) -> str:
        return f"io.chorus.{cls.event_name}.v1"

    @classmethod
    def producers(cls) -> tuple[str, ...]:
        """Every service that publishes this event (mostly just `service`)."""
        return cls.publishers or (cls.service,)

    @classmethod
    def schema_url(cls) -> str:
        return f"{SCHEMA_BASE_URL}/{cls.event_name}.v1.json"

    @classmethod
    def create(
        cls,
        *,
        tenant_id: str,
        subject: str,
        data: D,
        event_id: str | None = None,
        time: datetime | None = None,
        traceparent: str | None = None,
        service: str | None = None,
    ) -> Self:
        """Build an envelope with the class's type, source and schema filled in; `service`
        names the publisher where several publish the event."""
        publisher = service or cls.service
        if publisher not in cls.producers():
            raise ValueError(f"{publisher!r} does not publish {cls.__name__}")
        return cls(
            id=event_id or uuid.uuid4().hex,
            source=f"/chorus/{publisher}",
            type=cls.event_type(),
            time=time or datetime.now(UTC),
            subject=subject,
            dataschema=cls.schema_url(),
            tenantid=tenant_id,
            traceparent=traceparent,
            data=data,
        )

    def partition_key(self) -> str:
        """Kafka key: keeps the events of one advocate (or one content item) in order."""
        return f"{self.tenantid}:{getattr(self.data, self.key_field)}"

    @classmethod
    def key_pattern(cls) -> str:
        """How `partition_key` is made, for the event catalogue; a class that makes its key
        otherwise says so here too."""
        return f"<tenantid>:<data.{cls.key_field}>"

    def to_json(self) -> bytes:
        # CloudEvents leaves an absent optional attribute out rather than writing null.
        absent = {"traceparent"} if self.traceparent is None else None
        return self.model_dump_json(exclude=absent).encode()

    @model_validator(mode="after")
    def _type_matches_class(self) -> Self:
        if type(self) is not CloudEvent and self.type != self.event_type():
            raise ValueError(f"type must be {self.event_type()!r} for this topic")
        return self

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.model_validate_json(raw)


def derived_event_id(*parts: str) -> str:
    """Deterministic id for an event derived from others, so a replay yields the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:32]
