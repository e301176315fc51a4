"""Real requests that tell whether a server answers, from plain sockets and the standard
library: Kafka's ApiVersions and Metadata, MongoDB's ping over OP_MSG, PostgreSQL's startup
handshake, Keycloak's OpenID Connect discovery, Jaeger's list of services and Prometheus's
readiness. They run before the virtualenv exists."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import urllib.error
import urllib.request
from typing import Any


class ProbeError(Exception):
    """The server answered, but not as expected (or not at all)."""


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 16))
        if not chunk:
            raise ProbeError("connection closed by the server")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ProbeError("truncated response")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> Any:
        values = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return values[0] if len(values) == 1 else values

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.take(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def string(self, flexible: bool) -> str | None:
        size = self.uvarint() - 1 if flexible else self.unpack(">h")
        return None if size < 0 else self.take(size).decode("utf-8", "replace")

    def array_len(self, flexible: bool) -> int:
        return self.uvarint() - 1 if flexible else self.unpack(">i")

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


_KAFKA_CLIENT_ID = b"chorus-devstack"


def _kafka_call(
    sock: socket.socket, api_key: int, version: int, corr: int, body: bytes, flexible: bool
) -> _Reader:
    header = struct.pack(">hhih", api_key, version, corr, len(_KAFKA_CLIENT_ID)) + _KAFKA_CLIENT_ID
    if flexible:
        header += b"\x00"  # request header v2: no tagged fields
    request = header + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    reader = _Reader(_recv_exact(sock, size))
    if reader.unpack(">i") != corr:
        raise ProbeError("correlation id mismatch")
    if flexible:
        reader.skip_tags()  # response header v1
    return reader


def kafka_metadata(host: str, port: int, timeout: float = 5.0) -> dict[str, Any]:
    """ApiVersions then Metadata over the Kafka wire protocol, plain sockets.

    Returns ``{"brokers": [(node_id, host, port), ...], "cluster_id": str | None,
    "controller_id": int, "metadata_version": int}``; raises OSError or ProbeError.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        # ApiVersions v0 (key 18): empty body; response: error_code, [api_key min max].
        reader = _kafka_call(sock, 18, 0, 1, b"", flexible=False)
        error = reader.unpack(">h")
        ranges = {}
        for _ in range(reader.array_len(False)):
            key, low, high = reader.unpack(">hhh")
            ranges[key] = (low, high)
        if error not in (0, 35) or 3 not in ranges:  # 35: UNSUPPORTED_VERSION still lists them
            raise ProbeError(f"ApiVersions failed with error code {error}")
        low, high = ranges[3]
        # Metadata (key 3) for no topic: v4..v8 are plain, v9+ use the flexible encoding.
        if low <= 8 and high >= 4:
            version, flexible = min(high, 8), False
            body = struct.pack(">i", 0) + b"\x00"  # topics: [], allow_auto_topic_creation
            if version >= 8:
                body += b"\x00\x00"  # include cluster/topic authorized operations
        elif high >= 9:
            version, flexible = max(low, 9), True
            body = b"\x01\x00"  # topics: compact [], allow_auto_topic_creation
            if version <= 10:
                body += b"\x00"  # include_cluster_authorized_operations
            body += b"\x00\x00"  # include_topic_authorized_operations, tagged fields
        else:
            raise ProbeError(f"no usable Metadata version (broker offers v{low}..v{high})")
        reader = _kafka_call(sock, 3, version, 2, body, flexible=flexible)
        reader.unpack(">i")  # throttle_time_ms
        brokers = []
        for _ in range(reader.array_len(flexible)):
            node_id = reader.unpack(">i")
            broker_host = reader.string(flexible)
            broker_port = reader.unpack(">i")
            reader.string(flexible)  # rack
            if flexible:
                reader.skip_tags()
            brokers.append((node_id, broker_host, broker_port))
        cluster_id = reader.string(flexible)
        controller_id = reader.unpack(">i")
    if not brokers:
        raise ProbeError("Metadata lists no broker yet")
    return {
        "brokers": brokers,
        "cluster_id": cluster_id,
        "controller_id": controller_id,
        "metadata_version": version,
    }


def _bson_encode(doc: dict[str, Any]) -> bytes:
    body = b""
    for key, value in doc.items():
        name = key.encode() + b"\x00"
        if isinstance(value, bool):
            body += b"\x08" + name + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            body += b"\x10" + name + struct.pack("<i", value)
        elif isinstance(value, str):
            raw = value.encode() + b"\x00"
            body += b"\x02" + name + struct.pack("<i", len(raw)) + raw
        else:  # pragma: no cover - only what the probe sends
            raise TypeError(type(value))
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


_BSON_FIXED = {1: 8, 6: 0, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8, 19: 16, 127: 0, 255: 0}


def _bson_decode_top(data: bytes) -> dict[str, Any]:
    """Top-level fields of a BSON document: numbers, strings and booleans decoded."""
    out: dict[str, Any] = {}
    pos, end = 4, struct.unpack_from("<i", data)[0] - 1
    while pos < end:
        kind = data[pos]
        name_end = data.index(b"\x00", pos + 1)
        name = data[pos + 1 : name_end].decode("utf-8", "replace")
        pos = name_end + 1
        if kind == 1:
            out[name] = struct.unpack_from("<d", data, pos)[0]
        elif kind == 16:
            out[name] = struct.unpack_from("<i", data, pos)[0]
        elif kind == 18:
            out[name] = struct.unpack_from("<q", data, pos)[0]
        elif kind == 8:
            out[name] = data[pos] == 1
        elif kind == 2:
            size = struct.unpack_from("<i", data, pos)[0]
            out[name] = data[pos + 4 : pos + 3 + size].decode("utf-8", "replace")
        if kind in _BSON_FIXED:
            pos += _BSON_FIXED[kind]
        elif kind in (2, 13, 14):  # string, code, symbol
            pos += 4 + struct.unpack_from("<i", data, pos)[0]
        elif kind in (3, 4, 15):  # document, array, code with scope
            pos += struct.unpack_from("<i", data, pos)[0]
        elif kind == 5:  # binary
            pos += 5 + struct.unpack_from("<i", data, pos)[0]
        elif kind == 11:  # regex: two C strings
            pos = data.index(b"\x00", data.index(b"\x00", pos) + 1) + 1
        elif kind == 12:  # DBPointer
            pos += 4 + struct.unpack_from("<i", data, pos)[0] + 12
        else:
            raise ProbeError(f"unknown BSON type {kind}")
    return out


def mongo_command(
    host: str, port: int, command: dict[str, Any], timeout: float = 5.0
) -> dict[str, Any]:
    """One command over OP_MSG (opcode 2013) with plain sockets; top-level reply fields."""
    section = b"\x00" + _bson_encode(command)  # kind 0: the body document
    payload = struct.pack("<I", 0) + section  # flagBits
    request_id = 1
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack("<iiii", 16 + len(payload), request_id, 0, 2013) + payload)
        length, _, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        data = _recv_exact(sock, length - 16)
    if opcode != 2013 or response_to != request_id:
        raise ProbeError(f"unexpected reply (opcode {opcode})")
    if len(data) < 5 or data[4] != 0:  # flagBits, then section kind 0 (body)
        raise ProbeError("reply does not start with a body section")
    return _bson_decode_top(data[5:])


def mongo_ping(host: str, port: int, timeout: float = 5.0) -> dict[str, Any]:
    """``{ping: 1}`` on the admin database; raises OSError or ProbeError unless ok == 1."""
    reply = mongo_command(host, port, {"ping": 1, "$db": "admin"}, timeout=timeout)
    if reply.get("ok") != 1:
        raise ProbeError(f"ping answered {reply}")
    return reply


def postgres_ready(
    host: str, port: int, user: str, database: str, timeout: float = 5.0
) -> dict[str, str]:
    """A startup message over PostgreSQL's protocol (3.0), accepted without a password and
    answered with ReadyForQuery; returns the parameters the server reported
    (``server_version``, ...). Raises OSError or ProbeError ("the database system is
    starting up" while it recovers)."""
    body = struct.pack(">i", 3 << 16) + f"user\0{user}\0database\0{database}\0\0".encode()
    parameters: dict[str, str] = {}
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(body) + 4) + body)
        while True:
            kind = _recv_exact(sock, 1)
            payload = _recv_exact(sock, struct.unpack(">i", _recv_exact(sock, 4))[0] - 4)
            if kind == b"E":  # fields: a type byte, then a C string; M is the message
                fields = {f[:1]: f[1:].decode("utf-8", "replace") for f in payload.split(b"\0")}
                raise ProbeError(fields.get(b"M") or "PostgreSQL refused the connection")
            if kind == b"R" and struct.unpack(">i", payload[:4])[0] != 0:
                raise ProbeError("PostgreSQL asks for a password (trust expected)")
            if kind == b"S":  # ParameterStatus: name, value
                name, value = payload.split(b"\0")[:2]
                parameters[name.decode()] = value.decode("utf-8", "replace")
            if kind == b"Z":  # ReadyForQuery
                sock.sendall(b"X" + struct.pack(">i", 4))  # Terminate
                return parameters


def keycloak_discovery(url: str, realm: str = "demo", timeout: float = 5.0) -> dict[str, Any]:
    """The realm's OpenID Connect discovery document; raises OSError or ProbeError.

    ``url`` is Keycloak's base URL (``http://127.0.0.1:8180``). The realm answers only once
    its import is done, so this is also the proof that the realm files were read.
    """
    address = f"{url.rstrip('/')}/realms/{realm}/.well-known/openid-configuration"
    # No proxy: an http_proxy meant for the internet must not swallow a loopback probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(address, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise ProbeError(f"GET {address} answered {exc.code}") from exc
    except http.client.HTTPException as exc:  # not HTTP at all
        raise ProbeError(f"GET {address}: {exc!r}") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ProbeError(f"GET {address} answered no JSON") from exc
    if not isinstance(document, dict) or "issuer" not in document:
        raise ProbeError(f"GET {address} answered no issuer")
    return document


def jaeger_services(url: str, timeout: float = 5.0) -> list[str]:
    """The services Jaeger's query API knows (``GET /api/services``); raises OSError or
    ProbeError."""
    address = f"{url.rstrip('/')}/api/services"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(address, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise ProbeError(f"GET {address} answered {exc.code}") from exc
    except http.client.HTTPException as exc:
        raise ProbeError(f"GET {address}: {exc!r}") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ProbeError(f"GET {address} answered no JSON") from exc
    # Before the first span arrives the list is null.
    if not isinstance(document, dict) or not isinstance(document.get("data") or [], list):
        raise ProbeError(f"GET {address} answered no list of services")
    return list(document.get("data") or [])


def prometheus_ready(url: str, timeout: float = 5.0) -> str:
    """Prometheus's answer to ``GET /-/ready`` (200 once its storage is open and its
    configuration loaded); raises OSError or ProbeError."""
    address = f"{url.rstrip('/')}/-/ready"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(address, timeout=timeout) as response:
            return response.read().decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:  # 503 while it starts
        raise ProbeError(f"GET {address} answered {exc.code}") from exc
    except http.client.HTTPException as exc:
        raise ProbeError(f"GET {address}: {exc!r}") from exc
