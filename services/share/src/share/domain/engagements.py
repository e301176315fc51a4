"""EngagementObserved for a stored share: one place that maps a share onto the event."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from cachetools import LRUCache

from contracts import (
    EngagementKind,
    EngagementObserved,
    EngagementObservedData,
    EngagementSource,
    LinkClicked,
)
from share.domain.shares import Share


def engagement_on_share(
    share: Share,
    *,
    event_id: str,
    engagement_id: str,
    kind: EngagementKind,
    source: EngagementSource,
    observed_at: datetime,
    count: int = 1,
    visitor: str | None = None,
    unique: bool = False,
    traceparent: str | None = None,
) -> EngagementObserved:
    """The event for an engagement with `share`, carrying what rewards and metrics need."""
    return EngagementObserved.create(
        tenant_id=share.tenant,
        subject=share.id,
        event_id=event_id,
        time=observed_at,
        traceparent=traceparent,
        data=EngagementObservedData(
            engagement_id=engagement_id,
            share_id=share.id,
            content_id=share.content_id,
            employee_id=share.employee_id,
            network=share.network,
            kind=kind,
            count=count,
            observed_at=observed_at,
            source=source,
            visitor=visitor,
            unique=unique,
            campaign_id=share.campaign_id,
            content_kind=share.content_kind,
        ),
    )


class ClickEvents:
    """The LinkClicked of a redirect click, encoded without building the model.

    The redirect encodes one per click; the model takes several times as long to build and
    dump. Everything that comes from the share is encoded once per share. The output is the
    model's own JSON byte for byte, and its key the model's (a unit test holds the two
    together).
    """

    def __init__(self, max_shares: int = 100_000) -> None:
        self._parts: LRUCache[str, tuple[bytes, bytes, bytes, str]] = LRUCache(maxsize=max_shares)
        self._second: tuple[int, ...] = ()
        self._second_text = b""

    def encode(
        self,
        share: Share,
        *,
        event_id: str,
        engagement_id: str,
        observed_at: datetime,
        visitor: str,
    ) -> tuple[str, bytes]:
        """(Kafka key, event JSON); `unique` is false until share's worker decides it."""
        parts: tuple[bytes, bytes, bytes, str] | None = self._parts.get(share.id)
        if parts is None:
            parts = self._parts[share.id] = _click_parts(share)
        head, middle, tail, tenant = parts
        at = self._timestamp(observed_at)
        return tenant + visitor, b"".join(
            (
                b'{"specversion":"1.0","id":',
                _json_id(event_id),
                _TYPE,
                at,
                head,
                _json_id(engagement_id),
                middle,
                at,
                b'","source":"redirect","visitor":',
                _json_id(visitor),
                b',"unique":false',
                tail,
            )
        )

    def _timestamp(self, at: datetime) -> bytes:
        """`_rfc3339(at)`, its date and time of day formatted once per second."""
        if at.tzinfo is not UTC:
            return _rfc3339(at)
        second = (at.second, at.minute, at.hour, at.day, at.month, at.year)
        if second != self._second:
            self._second, self._second_text = second, _rfc3339(at.replace(microsecond=0))[:-1]
        if at.microsecond:
            return b"%s.%06dZ" % (self._second_text, at.microsecond)
        return self._second_text + b"Z"


_TYPE = b',"source":"/chorus/share","type":"%s","time":"' % LinkClicked.event_type().encode()


def _click_parts(share: Share) -> tuple[bytes, bytes, bytes, str]:
    share_id = _json(share.id)
    head = b"".join(
        (
            b'","subject":',
            share_id,
            b',"dataschema":',
            _json(LinkClicked.schema_url()),
            b',"datacontenttype":"application/json","tenantid":',
            _json(share.tenant),
            b',"data":{"engagement_id":',
        )
    )
    middle = b"".join(
        (
            b',"share_id":',
            share_id,
            b',"content_id":',
            _json(share.content_id),
            b',"employee_id":',
            _json(share.employee_id),
            b',"network":',
            _json(share.network),
            b',"kind":"click","count":1,"observed_at":"',
        )
    )
    tail = b"".join(
        (
            b',"campaign_id":',
            _json(share.campaign_id),
            b',"content_kind":',
            _json(share.content_kind),
            b"}}",
        )
    )
    return head, middle, tail, f"{share.tenant}:"


def _json(value: str | None) -> bytes:
    # Pydantic writes non-ASCII characters as they are, not as \\u escapes.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


_PLAIN = re.compile(r"[A-Za-z0-9_.-]*")


def _json_id(value: str) -> bytes:
    """An identifier as a JSON string; ours need no escaping, anything else gets it."""
    if value.isalnum() or _PLAIN.fullmatch(value):
        return b'"%s"' % value.encode()
    return _json(value)


def _rfc3339(at: datetime) -> bytes:
    """`at` in UTC as pydantic writes it: microseconds only when there are any, then Z."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond:06d}"
    return (text + "Z").encode()
