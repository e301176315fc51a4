#!/usr/bin/env python3
"""Local infrastructure for Chorus without Docker: Kafka (KRaft), a MongoDB wire server and,
on request, Keycloak as the OpenID Connect provider; Jaeger (traces) from Python.

Standard library only: this runs before the project's virtualenv exists.

    python deploy/local/devstack.py start    # start what is missing, reuse what answers
    python deploy/local/devstack.py start --keycloak  # and Keycloak with keycloak/*-realm.json
    python deploy/local/devstack.py status
    eval "$(python deploy/local/devstack.py env)"  # export KAFKA_BOOTSTRAP_SERVERS, MONGODB_URL
    python deploy/local/devstack.py stop     # stops only what `start` started

From Python (tests)::

    kafka = KafkaServer(port=19092, controller_port=19093, data_dir=tmp / "kafka").start()
    ...
    kafka.stop()

Everything downloaded, built or stored goes under one cache folder: ``$CHORUS_CACHE`` or
``<repo>/.cache``. Kafka's jars come from Maven Central through ``kafka/pom.xml`` (Maven),
FerretDB is built from ``ferretdb/`` (Go) unless ``mongod`` is on PATH, Keycloak's
distribution comes from Maven Central too, and Jaeger is built from ``jaeger/`` (Go). Each is
done once and reused: a later start does no network work.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; without it concurrent first starts are simply not serialised.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

# Pinned here and in kafka/pom.xml (<kafka.version>); tests check that the two agree.
# Why this version and not a newer 4.x: see README.md beside this file.
KAFKA_VERSION = "4.4.0"
FERRETDB_VERSION = "v1.24.2"  # pinned in ferretdb/go.mod
JAVA_MIN_MAJOR = 17
GO_MIN = (1, 24)  # ferretdb/go.mod says go 1.24 (FerretDB v1.24.2 needs it)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
KAFKA_POM = HERE / "kafka" / "pom.xml"
KAFKA_LOG4J = HERE / "kafka" / "log4j2.properties"
KAFKA_TEMPLATE = HERE / "kafka" / "server.properties.template"
FERRETDB_SRC = HERE / "ferretdb"
JAEGER_VERSION = "v1.76.0"  # pinned in jaeger/go.mod (its `jaeger` binary is Jaeger v2)
JAEGER_SRC = HERE / "jaeger"
JAEGER_PACKAGE = "github.com/jaegertracing/jaeger/cmd/jaeger"
KEYCLOAK_VERSION = "26.4.7"
KEYCLOAK_REALMS = HERE / "keycloak"  # *-realm.json: imported at every start

KAFKA_JVM_OPTS = [
    "-Xmx512m",
    "-Xms256m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]
LOCALHOST = "127.0.0.1"


class DevstackError(Exception):
    """A failure explained to a person; the CLI prints it as ``devstack: <message>``."""


class ToolMissing(DevstackError):
    """A program needed on this machine is missing or too old (message is one line)."""


# --------------------------------------------------------------------------- paths, tools


def cache_dir() -> Path:
    """``$CHORUS_CACHE`` or ``<repo>/.cache``; created if missing."""
    raw = os.environ.get("CHORUS_CACHE")
    path = Path(raw).expanduser() if raw else REPO_ROOT / ".cache"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """Serialise a first-time download/build (or the CLI) across processes."""
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _version_output(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return ""
    except subprocess.TimeoutExpired:
        return ""
    return proc.stdout + proc.stderr


def find_java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def require_java(program: str = "Kafka") -> str:
    """Path of a Java 17+ ``java``, or ToolMissing."""
    hint = "apt-get install openjdk-17-jre-headless"
    java = find_java()
    if java is None:
        raise ToolMissing(f"Java {JAVA_MIN_MAJOR}+ is needed to run {program}: {hint}")
    out = _version_output([java, "-version"])
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise ToolMissing(f"`{java} -version` failed; Java {JAVA_MIN_MAJOR}+ is needed: {hint}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    if major < JAVA_MIN_MAJOR:
        raise ToolMissing(
            f"Java {JAVA_MIN_MAJOR}+ is needed to run {program},"
            f" found Java {major} at {java}: {hint}"
        )
    return java


def require_maven(what: str = "Kafka's jars") -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(f"Maven is needed to download {what} on first use: apt-get install maven")
    return mvn


def require_go(
    what: str = "FerretDB on first use (or put mongod on PATH, or set MONGODB_URL)",
) -> str:
    hint = (
        f"Go {GO_MIN[0]}.{GO_MIN[1]}+ is needed to build {what}: install Go from https://go.dev/dl/"
    )
    go = shutil.which("go")
    if go is None:
        raise ToolMissing(hint)
    match = re.search(r"go(\d+)\.(\d+)", _version_output([go, "version"]))
    if match is None or (int(match.group(1)), int(match.group(2))) < GO_MIN:
        raise ToolMissing(hint)
    return go


def _tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return "  | (no log)"
    kept = [line for line in data.splitlines() if line.strip()][-lines:]
    return "\n".join(f"  | {line}" for line in kept) or "  | (log is empty)"


def _run_build(cmd: list[str], *, what: str, cwd: Path, env: dict[str, str], log: Path) -> None:
    """Run a download/build step, its output in ``log``; DevstackError with the tail on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        out.write(f"$ {shlex.join(cmd)}\n")
        out.flush()
        try:
            proc = subprocess.run(
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False
            )
        except OSError as exc:
            raise DevstackError(f"{what} failed to run {cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise DevstackError(f"{what} failed (exit {proc.returncode}), see {log}:\n{_tail(log)}")


# --------------------------------------------------------------------------- artifacts


def pom_kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text())
    if match is None:
        raise DevstackError(f"no <kafka.version> in {KAFKA_POM}")
    return match.group(1).strip()


def kafka_libs_dir(version: str = KAFKA_VERSION) -> Path:
    return cache_dir() / f"kafka-{version}" / "libs"


def ensure_kafka_libs(version: str = KAFKA_VERSION) -> Path:
    """Kafka's runtime classpath folder; resolved with Maven on first use only."""
    libs = kafka_libs_dir(version)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    with _file_lock(f"kafka-{version}"):
        if marker.exists():
            return libs
        mvn = require_maven()
        require_java()  # Maven runs on it
        tmp = libs.with_name("libs.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(KAFKA_POM),
            f"-Dmaven.repo.local={cache_dir() / 'm2'}",
            f"-Dkafka.version={version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ]
        log = libs.parent / "maven.log"
        print(
            f"devstack: downloading Kafka {version} jars with Maven (first use only)...",
            file=sys.stderr,
            flush=True,
        )
        _run_build(
            cmd,
            what=f"Maven download of Kafka {version}",
            cwd=KAFKA_POM.parent,
            env=dict(os.environ),
            log=log,
        )
        if not (tmp / f"kafka_2.13-{version}.jar").is_file():
            raise DevstackError(f"Maven finished but kafka_2.13-{version}.jar is not in {tmp}")
        (tmp / ".complete").write_text(f"kafka {version}\n")
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
    return libs


def _source_digest(src: Path, names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        digest.update((src / name).read_bytes())
    return digest.hexdigest()[:12]


def _ensure_go_binary(
    binary: Path, *, what: str, src: Path, package: str, go_hint: str | None = None
) -> Path:
    """``binary``, built with Go from the module in ``src`` on first use only (and again
    when its sources change: the name holds their digest), the build's output in
    ``build.log`` beside its folder. Modules and compiled packages go to Go's own caches."""
    if binary.is_file():
        return binary
    kind = binary.parent.parent.name
    with _file_lock(kind):
        if binary.is_file():
            return binary
        go = require_go() if go_hint is None else require_go(go_hint)
        env = dict(os.environ)
        # Go's own module and build caches (`go env GOMODCACHE GOCACHE`), shared by every
        # checkout on the machine and trimmed by Go: a second checkout builds in seconds
        # where the first takes minutes (Jaeger links the OpenTelemetry Collector).
        env.update(
            # -modcacherw: the module cache stays deletable with rm -rf;
            # -buildvcs=false: the repository may have no commit yet.
            GOFLAGS="-mod=mod -modcacherw -buildvcs=false",
            CGO_ENABLED="0",  # all pure Go: no C compiler needed
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(binary.name + ".partial")
        log = binary.parent.parent / "build.log"
        print(f"devstack: building {what} with Go (first use only)...", file=sys.stderr, flush=True)
        _run_build(
            [go, "build", "-trimpath", "-o", str(tmp), package],
            what=f"Go build of {what}",
            cwd=src,
            env=env,
            log=log,
        )
        tmp.rename(binary)
        stem = binary.name.split("-", 1)[0]
        for old in binary.parent.glob(f"{stem}-*"):  # builds of older sources
            if old != binary:
                old.unlink(missing_ok=True)
    return binary


def _ferretdb_source_digest() -> str:
    return _source_digest(FERRETDB_SRC, ("go.mod", "go.sum", "main.go"))


def ferretdb_binary_path() -> Path:
    """Where the FerretDB program for the current sources is (or will be) built."""
    name = f"ferretdb-{FERRETDB_VERSION}-{_ferretdb_source_digest()}"
    return cache_dir() / "ferretdb" / "bin" / name


def ensure_ferretdb_binary() -> Path:
    """The FerretDB program; built with Go on first use (and when its sources change)."""
    return _ensure_go_binary(
        ferretdb_binary_path(),
        what=f"FerretDB {FERRETDB_VERSION}",
        src=FERRETDB_SRC,
        package=".",
    )


def jaeger_binary_path() -> Path:
    """Where the Jaeger program for the current ``jaeger/go.mod`` is (or will be) built."""
    name = f"jaeger-{JAEGER_VERSION}-{_source_digest(JAEGER_SRC, ('go.mod', 'go.sum'))}"
    return cache_dir() / "jaeger" / "bin" / name


def ensure_jaeger_binary() -> Path:
    """Jaeger v2 (``cmd/jaeger``, all-in-one); built with Go on first use: minutes on two
    cores, as it links the OpenTelemetry Collector and every storage backend."""
    return _ensure_go_binary(
        jaeger_binary_path(),
        what=f"Jaeger {JAEGER_VERSION}",
        src=JAEGER_SRC,
        package=JAEGER_PACKAGE,
        go_hint=f"Jaeger {JAEGER_VERSION} on first use",
    )


def keycloak_home(version: str = KEYCLOAK_VERSION) -> Path:
    return cache_dir() / f"keycloak-{version}"


def ensure_keycloak(version: str = KEYCLOAK_VERSION) -> Path:
    """Keycloak's distribution folder; downloaded with Maven and unzipped on first use only."""
    home = keycloak_home(version)
    marker = home / ".complete"
    if marker.exists():
        return home
    with _file_lock(f"keycloak-{version}"):
        if marker.exists():
            return home
        mvn = require_maven(f"Keycloak {version}")
        require_java("Keycloak")  # Maven runs on it
        tmp = home.with_name(home.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cmd = [
            mvn,
            "-B",
            "-q",
            f"-Dmaven.repo.local={cache_dir() / 'm2'}",
            # Pinned: without a POM, Maven 3.8 would pick its old default (2.8).
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{version}:zip",
            f"-DoutputDirectory={tmp}",
        ]
        print(
            f"devstack: downloading Keycloak {version} with Maven (first use only)...",
            file=sys.stderr,
            flush=True,
        )
        _run_build(
            cmd,
            what=f"Maven download of Keycloak {version}",
            cwd=tmp,
            env=dict(os.environ),
            log=tmp / "maven.log",
        )
        archive = tmp / f"keycloak-quarkus-dist-{version}.zip"
        if not archive.is_file():
            raise DevstackError(f"Maven finished but {archive.name} is not in {tmp}")
        _unzip(archive, tmp)
        unpacked = tmp / f"keycloak-{version}"
        if not (unpacked / "bin" / "kc.sh").is_file():
            raise DevstackError(f"{archive.name} has no keycloak-{version}/bin/kc.sh")
        (unpacked / ".complete").write_text(f"keycloak {version}\n")
        shutil.rmtree(home, ignore_errors=True)
        unpacked.rename(home)
        shutil.rmtree(tmp)
    return home


def _unzip(archive: Path, target: Path) -> None:
    """Unzip keeping the permission bits stored in the archive (``bin/kc.sh`` is executable)."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


# --------------------------------------------------------------------------- wire probes


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


# --------------------------------------------------------------------------- servers


def _proc_cmdline(pid: int) -> str | None:
    """The command line of a live (non-zombie) process, or None."""
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            if stat[stat.rindex(")") + 2] in "ZX":
                return None
            return (proc / "cmdline").read_bytes().replace(b"\x00", b" ").decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            return None
    try:  # no /proc (macOS): ask ps
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    out = subprocess.run(
        ["ps", "-o", "stat=,command=", "-p", str(pid)], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not out or out.startswith("Z"):
        return None
    return out


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Only zombies left (not yet reaped by their parent) count as gone.
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False


def _wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class _Server:
    """A server process started detached (own session and process group) by devstack."""

    name = "server"
    default_start_timeout = 60.0

    def __init__(self, port: int, data_dir: Path | str, host: str = LOCALHOST) -> None:
        self.host = host
        self.port = int(port)
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.log_file = self.data_dir / "server.log"
        self.pid_file = self.data_dir / "server.pid"
        self._popen: subprocess.Popen[bytes] | None = None

    # -- to be provided by subclasses
    def _prepare(self) -> list[str]:
        """Download/build/configure; return the command to run."""
        raise NotImplementedError

    def _marker(self) -> str:
        """A string in the server's command line that identifies this instance."""
        raise NotImplementedError

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        """A real request to the server; raises OSError or ProbeError."""
        raise NotImplementedError

    def _ports(self) -> list[int]:
        return [self.port]

    def _environment(self) -> dict[str, str] | None:
        """The server process's environment (called after ``_prepare``); None: ours."""
        return None

    # -- public API
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of this instance's server if it is running, else None."""
        if self._popen is not None:
            if self._popen.poll() is None:
                return self._popen.pid
            self._popen = None
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        cmdline = _proc_cmdline(pid)
        if cmdline is None or self._marker() not in cmdline:
            return None
        return pid

    def is_running(self) -> bool:
        """True while this instance's process is alive (answering or not yet)."""
        return self.pid is not None

    def answers(self, timeout: float = 2.0) -> bool:
        try:
            self.probe(timeout=timeout)
        except (OSError, ProbeError):
            return False
        return True

    def start(self, timeout: float | None = None) -> _Server:
        """Start (or reuse this instance's running process) and wait until it answers."""
        timeout = self.default_start_timeout if timeout is None else timeout
        launched = not self.is_running()
        if launched:
            for port in self._ports():
                if port_open(self.host, port):
                    raise DevstackError(
                        f"{self.name}: {self.host}:{port} is already in use by another process"
                    )
            self.data_dir.mkdir(parents=True, exist_ok=True)
            cmd = self._prepare()
            with open(self.log_file, "ab") as log:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                log.write(f"\n=== devstack {stamp}: {shlex.join(cmd)}\n".encode())
                log.flush()
                self._popen = subprocess.Popen(
                    cmd,
                    cwd=self.data_dir,
                    env=self._environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own session and process group; survives us
                    close_fds=True,
                )
            self.pid_file.write_text(f"{self._popen.pid}\n")
        self.wait_ready(timeout, stop_on_timeout=launched)
        return self

    def wait_ready(self, timeout: float, *, stop_on_timeout: bool = False) -> None:
        """Wait until the server answers a real request; DevstackError with the log tail."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            try:
                self.probe(timeout=2.0)
                return
            except (OSError, ProbeError) as exc:
                last_error = str(exc) or type(exc).__name__
            if not self.is_running():
                code = self._popen.returncode if self._popen is not None else None
                self._forget()
                raise DevstackError(
                    f"{self.name} on {self.address} exited during startup"
                    f"{'' if code is None else f' (exit {code})'}; log {self.log_file}:\n"
                    + _tail(self.log_file)
                    + f"\nIf the log shows damaged data, `start --fresh` starts {self.name}"
                    f" on an empty {self.data_dir}."
                )
            if time.monotonic() >= deadline:
                if stop_on_timeout:
                    self.stop()
                raise DevstackError(
                    f"{self.name} did not answer on {self.address} within {timeout:.0f}s"
                    f" ({last_error}){'; stopped it' if stop_on_timeout else ''}."
                    f" Log {self.log_file}:\n" + _tail(self.log_file)
                )
            time.sleep(0.3)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM to the process group, SIGKILL after ``timeout``; True if it was running."""
        pid = self.pid
        if pid is None:
            self._forget()
            return False
        pgid = pid  # start_new_session: the server leads its own process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        if not _wait_until(lambda: self._gone(pgid), timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            if not _wait_until(lambda: self._gone(pgid), 10.0):
                raise DevstackError(f"{self.name} (pid {pid}) survived SIGKILL")
        self._forget()
        return True

    def _gone(self, pgid: int) -> bool:
        if self._popen is not None:
            self._popen.poll()  # reap our own child so it does not linger as a zombie
        return not _group_alive(pgid)

    def _forget(self) -> None:
        if self._popen is not None:
            self._popen.poll()
            self._popen = None
        self.pid_file.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address}, data_dir={str(self.data_dir)!r})"


class KafkaServer(_Server):
    """Single-node KRaft Kafka (broker + controller) from Maven Central jars.

    Data, config, log (``server.log``) and pid file live in ``data_dir``
    (default ``<cache>/data/kafka-<port>``).
    """

    name = "Kafka"
    default_start_timeout = 120.0

    def __init__(
        self,
        port: int = 9092,
        controller_port: int = 9093,
        data_dir: Path | str | None = None,
        *,
        version: str = KAFKA_VERSION,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"kafka-{port}"
        super().__init__(port, data_dir)
        self.controller_port = int(controller_port)
        self.version = version
        self.config_file = self.data_dir / "server.properties"
        self.log_dir = self.data_dir / "kraft-logs"

    @property
    def bootstrap_servers(self) -> str:
        return self.address

    def _ports(self) -> list[int]:
        return [self.port, self.controller_port]

    def _marker(self) -> str:
        return str(self.config_file)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        return kafka_metadata(self.host, self.port, timeout=timeout)

    def _prepare(self) -> list[str]:
        java = require_java()
        libs = ensure_kafka_libs(self.version)
        config = KAFKA_TEMPLATE.read_text()
        for key, value in {
            "@PORT@": str(self.port),
            "@CONTROLLER_PORT@": str(self.controller_port),
            "@LOG_DIR@": str(self.log_dir),
        }.items():
            config = config.replace(key, value)
        self.config_file.write_text(config)
        classpath = f"{libs}{os.sep}*"
        jvm = [
            java,
            *KAFKA_JVM_OPTS,
            f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            classpath,
        ]
        if not (self.log_dir / "meta.properties").exists():  # first start only
            cluster_id = "-"
            # As Kafka's own Uuid.randomUuid: an id starting with "-" would be read by the
            # storage tool as an option ("--cluster-id expected one argument").
            while cluster_id.startswith("-"):
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            cmd = [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
            ]
            with open(self.log_file, "ab") as log:
                log.write(f"\n=== devstack: {shlex.join(cmd)}\n".encode())
                log.flush()
                proc = subprocess.run(
                    cmd,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if proc.returncode != 0:
                raise DevstackError(
                    f"formatting Kafka storage in {self.log_dir} failed (exit {proc.returncode});"
                    f" log {self.log_file}:\n" + _tail(self.log_file)
                )
        return [*jvm, "kafka.Kafka", str(self.config_file)]


class MongoServer(_Server):
    """A MongoDB wire server: ``mongod`` from PATH if present, otherwise FerretDB (SQLite).

    ``use_mongod``: None picks automatically, True requires mongod, False forces FerretDB.
    Data, log (``server.log``) and pid file live in ``data_dir``
    (default ``<cache>/data/mongo-<port>``).
    """

    name = "MongoDB"
    default_start_timeout = 60.0

    def __init__(
        self,
        port: int = 27017,
        data_dir: Path | str | None = None,
        *,
        use_mongod: bool | None = None,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"mongo-{port}"
        super().__init__(port, data_dir)
        self.mongod = shutil.which("mongod") if use_mongod is not False else None
        if use_mongod and self.mongod is None:
            raise ToolMissing("mongod was asked for but is not on PATH")
        self.implementation = "mongod" if self.mongod else "ferretdb"
        self.name = "MongoDB (mongod)" if self.mongod else "MongoDB (FerretDB)"
        self.db_dir = self.data_dir / self.implementation

    @property
    def url(self) -> str:
        return f"mongodb://{self.address}"

    def _marker(self) -> str:
        return str(self.db_dir)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        return mongo_ping(self.host, self.port, timeout=timeout)

    def _prepare(self) -> list[str]:
        self.db_dir.mkdir(parents=True, exist_ok=True)
        if self.mongod:
            return [
                self.mongod,
                "--dbpath",
                str(self.db_dir),
                "--bind_ip",
                self.host,
                "--port",
                str(self.port),
            ]
        binary = ensure_ferretdb_binary()
        return [str(binary), "-listen-addr", self.address, "-data-dir", str(self.db_dir)]


class KeycloakServer(_Server):
    """Keycloak in development mode, serving the realms of ``keycloak/*-realm.json``.

    Its H2 database is emptied at every start and the realm files imported again, so what it
    serves is always what is committed (users, clients and sessions made at run time are gone
    after a restart). Database, transaction log, log (``server.log``) and pid file live in
    ``data_dir`` (default ``<cache>/data/keycloak-<port>``). The bootstrap administrator of
    the master realm is admin/admin: local use only, it listens on 127.0.0.1.
    """

    name = "Keycloak"
    default_start_timeout = 240.0  # ~25 s on an idle machine, far more on 2 busy CI cores

    def __init__(
        self,
        port: int = 8180,
        management_port: int = 9180,
        data_dir: Path | str | None = None,
        *,
        version: str = KEYCLOAK_VERSION,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"keycloak-{port}"
        super().__init__(port, data_dir)
        self.management_port = int(management_port)
        self.version = version
        self.db_dir = self.data_dir / "h2"
        self.transactions_dir = self.data_dir / "transaction-logs"
        self._java: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def _ports(self) -> list[int]:
        return [self.port, self.management_port]

    def _marker(self) -> str:
        return str(self.db_dir)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        return keycloak_discovery(self.url, timeout=timeout)

    def start(self, timeout: float | None = None) -> KeycloakServer:
        home = ensure_keycloak(self.version)
        built = home / ".built-for-start-dev"
        if built.exists():
            super().start(timeout)
            return self
        # The first `start-dev` rebuilds the distribution for development mode (it rewrites
        # lib/quarkus, ~8 s): two first starts at once must not write it together.
        with _file_lock(f"keycloak-{self.version}-build"):
            super().start(timeout)
            built.touch()
        return self

    def _prepare(self) -> list[str]:
        self._java = require_java("Keycloak")
        home = ensure_keycloak(self.version)
        for folder in (self.db_dir, self.transactions_dir):
            shutil.rmtree(folder, ignore_errors=True)
        _install_realms(KEYCLOAK_REALMS, home / "data" / "import")
        # Keycloak's own default for dev-file, in our folder instead of the distribution's.
        db_url = (
            f"jdbc:h2:file:{self.db_dir / 'keycloakdb'}"
            ";NON_KEYWORDS=VALUE;DB_CLOSE_ON_EXIT=FALSE;DB_CLOSE_DELAY=0"
        )
        return [
            str(home / "bin" / "kc.sh"),
            # The transaction log too (a runtime option: no rebuild), not in <home>/data where
            # every Keycloak started from this distribution would share it.
            f"-Dquarkus.transaction-manager.object-store.directory={self.transactions_dir}",
            "start-dev",
            f"--http-host={self.host}",
            f"--http-port={self.port}",
            # Not 9000, its default; Keycloak opens it only once health or metrics are enabled.
            f"--http-management-port={self.management_port}",
            "--import-realm",  # every *-realm.json of <home>/data/import
            f"--db-url={db_url}",
        ]

    def _environment(self) -> dict[str, str]:
        # Keycloak reads every KC_* variable as an option: a developer's own must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KC_")}
        env.pop("JAVA_OPTS", None)  # kc.sh would use it instead of the heap below
        env.update(
            KC_BOOTSTRAP_ADMIN_USERNAME="admin",
            KC_BOOTSTRAP_ADMIN_PASSWORD="admin",
            JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m",
        )
        if self._java is not None:
            env["JAVA"] = self._java  # kc.sh runs $JAVA, else java from PATH
        return env


class JaegerServer(_Server):
    """Jaeger v2 all-in-one, traces in memory (``jaeger/config.yaml``): OTLP over HTTP on
    ``otlp_port`` (the services' ``OTEL_EXPORTER_OTLP_ENDPOINT``), the query API on
    ``port``, the query gRPC API on ``grpc_port``; loopback only. Config, log
    (``server.log``) and pid file live in ``data_dir`` (default ``<cache>/data/jaeger-<port>``).
    """

    name = "Jaeger"
    default_start_timeout = 60.0

    def __init__(
        self,
        port: int = 16686,
        otlp_port: int = 4318,
        grpc_port: int = 16685,
        data_dir: Path | str | None = None,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"jaeger-{port}"
        super().__init__(port, data_dir)
        self.otlp_port = int(otlp_port)
        self.grpc_port = int(grpc_port)
        self.config_file = self.data_dir / "config.yaml"

    @property
    def url(self) -> str:
        """The query API (``/api/traces/<trace id>``); its UI is a placeholder page, the
        assets being built with npm for Jaeger's own release, not in the Go module."""
        return f"http://{self.address}"

    @property
    def otlp_endpoint(self) -> str:
        """For ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter adds ``/v1/traces``)."""
        return f"http://{self.host}:{self.otlp_port}"

    def _ports(self) -> list[int]:
        return [self.port, self.otlp_port, self.grpc_port]

    def _marker(self) -> str:
        return str(self.config_file)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        services = jaeger_services(self.url, timeout=timeout)
        # The query API answers before the OTLP receiver listens: wait for both.
        if not port_open(self.host, self.otlp_port, timeout=timeout):
            raise ProbeError(f"nothing listens for OTLP on {self.host}:{self.otlp_port} yet")
        return {"services": services}

    def _prepare(self) -> list[str]:
        binary = ensure_jaeger_binary()
        config = (JAEGER_SRC / "config.yaml").read_text()
        for key, value in {
            "@QUERY_PORT@": self.port,
            "@QUERY_GRPC_PORT@": self.grpc_port,
            "@OTLP_PORT@": self.otlp_port,
        }.items():
            config = config.replace(key, str(value))
        self.config_file.write_text(config)
        return [str(binary), "--config", str(self.config_file)]


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


def _install_realms(source: Path, import_dir: Path) -> None:
    """Put ``source/*-realm.json`` where ``--import-realm`` reads them, and nothing else.

    The import folder belongs to the shared distribution, so every Keycloak that devstack
    starts reads the same files; each is replaced in one rename, never seen half written.
    """
    realms = sorted(source.glob("*-realm.json"))
    if not realms:
        raise DevstackError(f"no *-realm.json in {source}")
    import_dir.mkdir(parents=True, exist_ok=True)
    for old in import_dir.glob("*.json"):
        if not (source / old.name).is_file():  # a realm file since removed or renamed
            old.unlink(missing_ok=True)
    for realm in realms:
        tmp = import_dir / f".{realm.name}.{os.getpid()}.{threading.get_ident()}"
        shutil.copyfile(realm, tmp)
        tmp.replace(import_dir / realm.name)


# --------------------------------------------------------------------------- CLI


def parse_bootstrap_servers(value: str) -> list[tuple[str, int]]:
    """``"host:port,PLAINTEXT://host2:port"`` -> ``[(host, port), ...]``."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        item = item.split("://", 1)[-1]
        host, _, port = item.rpartition(":")
        out.append((host.strip("[]") or LOCALHOST, int(port or 9092)))
    return out


def parse_mongodb_url(url: str) -> list[tuple[str, int]] | None:
    """Hosts of a ``mongodb://`` URL; None where plain sockets cannot probe it (srv, TLS)."""
    if url.startswith("mongodb+srv://") or re.search(r"[?&](tls|ssl)=true", url, re.I):
        return None
    rest = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    out = []
    for item in rest.rsplit("@", 1)[-1].split(","):
        if item.startswith("["):  # [::1]:27017
            host, _, port = item[1:].partition("]")
            port = port.lstrip(":")
        else:
            host, _, port = item.partition(":")
        out.append((host or LOCALHOST, int(port or 27017)))
    return out


def _any_answers(addresses: list[tuple[str, int]], probe: Callable[..., Any]) -> bool:
    for host, port in addresses:
        try:
            probe(host, port, timeout=2.0)
            return True
        except (OSError, ProbeError, ValueError):
            continue
    return False


def state_file() -> Path:
    return cache_dir() / "devstack-state.json"


def _load_state() -> dict[str, Any]:
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    for kind in ("kafka", "mongo"):  # entries written before they were keyed by port
        entry = data.pop(kind, None)
        if isinstance(entry, dict) and "port" in entry:
            data.setdefault(f"{kind}:{entry['port']}", entry)
    return data


# `start` starts Keycloak in a thread of its own: one writer of the state at a time.
_STATE_LOCK = threading.Lock()


def _record(state: dict[str, Any], key: str, entry: dict[str, Any] | None) -> None:
    """Set (None: remove) one entry of the state and save the state file."""
    with _STATE_LOCK:
        if entry is None:
            state.pop(key, None)
        else:
            state[key] = entry
        path = state_file()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)


def _server_from_state(kind: str, entry: dict[str, Any]) -> _Server:
    if kind == "kafka":
        return KafkaServer(
            entry["port"],
            entry["controller_port"],
            entry["data_dir"],
            version=entry.get("version", KAFKA_VERSION),
        )
    if kind == "keycloak":
        return KeycloakServer(
            entry["port"],
            entry["management_port"],
            entry["data_dir"],
            version=entry.get("version", KEYCLOAK_VERSION),
        )
    return MongoServer(
        entry["port"], entry["data_dir"], use_mongod=entry.get("implementation") == "mongod"
    )


def _say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


class _Service:
    """One of the services as the CLI sees it, for the ports given on the command line."""

    default_timeout = 180.0

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind = kind
        if kind == "kafka":
            self.env_var = "KAFKA_BOOTSTRAP_SERVERS"
            self.port = args.kafka_port
            self.default_url = f"{LOCALHOST}:{self.port}"
            self.probe: Callable[..., Any] = kafka_metadata
        elif kind == "mongo":
            self.env_var = "MONGODB_URL"
            self.port = args.mongo_port
            self.default_url = f"mongodb://{LOCALHOST}:{self.port}"
            self.probe = mongo_ping
        else:  # keycloak: probed over HTTP, see _KeycloakService
            self.env_var = "KEYCLOAK_URL"
            self.port = args.keycloak_port
            self.default_url = f"http://{LOCALHOST}:{self.port}"
        self.controller_port = args.kafka_controller_port
        self.fresh = bool(getattr(args, "fresh", False))
        # Where a server this call starts keeps its data: `<root>/<kind>-<port>`.
        self.data_root: Path | None = getattr(args, "data_root", None)
        self.key = f"{kind}:{self.port}"  # state entry: what `start` started on this port
        self.timeout: float = args.timeout if args.timeout is not None else self.default_timeout

    @property
    def external(self) -> str | None:
        return os.environ.get(self.env_var) or None

    @property
    def url(self) -> str:
        return self.external or self.default_url

    def addresses(self) -> list[tuple[str, int]] | None:
        if self.kind == "kafka":
            return parse_bootstrap_servers(self.url)
        return parse_mongodb_url(self.url)

    @property
    def probed(self) -> bool:
        """False where plain sockets cannot check the server (an SRV or TLS MongoDB URL)."""
        return self.addresses() is not None

    def new_server(self) -> _Server:
        if self.kind == "kafka":
            data = self.data_root / f"kafka-{self.port}" if self.data_root else None
            return KafkaServer(self.port, self.controller_port, data_dir=data)
        data = self.data_root / f"mongo-{self.port}" if self.data_root else None
        return MongoServer(self.port, data_dir=data)

    def recorded(self, state: dict[str, Any]) -> _Server | None:
        entry = state.get(self.key)
        return _server_from_state(self.kind, entry) if entry else None

    def answers(self) -> bool:
        addresses = self.addresses()
        return True if addresses is None else _any_answers(addresses, self.probe)

    def start(self, state: dict[str, Any]) -> None:
        timeout = self.timeout
        if self.external:
            if not self.probed:
                _say(f"{self.kind}: using {self.env_var}={self.external} (SRV/TLS: not probed)")
                return
            if not _wait_until(self.answers, timeout, interval=1.0):
                raise DevstackError(
                    f"{self.env_var}={self.external} does not answer after {timeout:.0f}s"
                )
            _say(f"{self.kind}: using {self.env_var}={self.external}")
            return
        recorded = self.recorded(state)
        if recorded is not None and recorded.is_running():
            wanted = self.new_server().data_dir
            if recorded.data_dir != wanted:
                raise DevstackError(
                    f"{recorded.name} on {recorded.address} runs on the data in"
                    f" {recorded.data_dir}, not {wanted}; stop it first"
                    f" (python3 deploy/local/devstack.py --{self.kind}-port={self.port} stop)"
                )
            recorded.wait_ready(timeout)
            _say(
                f"{self.kind}: already running on {recorded.address}"
                f" (started by devstack, pid {recorded.pid})"
            )
            return
        _record(state, self.key, None)
        server = self.new_server()
        if port_open(server.host, server.port):
            if not _wait_until(server.answers, min(timeout, 30.0), interval=1.0):
                raise DevstackError(
                    f"{server.address} is in use by something that does not answer as"
                    f" {server.name}; stop it, or set {self.env_var}"
                )
            _say(
                f"{self.kind}: using the server already answering on {server.address}"
                " (not started by devstack, will not be stopped by it)"
            )
            return
        if self.fresh and server.data_dir.exists():
            # Tests start from empty topics and databases: no history from earlier runs.
            shutil.rmtree(server.data_dir)
        began = time.monotonic()
        server.start(timeout)
        entry: dict[str, Any] = {
            "port": server.port,
            "data_dir": str(server.data_dir),
            "pid": server.pid,
        }
        if isinstance(server, KafkaServer):
            entry.update(controller_port=server.controller_port, version=server.version)
        if isinstance(server, MongoServer):
            entry.update(implementation=server.implementation)
        entry.update(self._entry_extra(server))
        _record(state, self.key, entry)
        _say(
            f"{self.kind}: started {server.name} on {server.address} (pid {server.pid},"
            f" {time.monotonic() - began:.1f}s; log {server.log_file})"
        )

    def _entry_extra(self, server: _Server) -> dict[str, Any]:
        """What else the state records about a server this call started."""
        return {}

    def stop(self, state: dict[str, Any]) -> None:
        recorded = self.recorded(state)
        if recorded is None:
            return
        pid = recorded.pid
        if recorded.stop(timeout=self.timeout):
            _say(f"{self.kind}: stopped {recorded.name} on {recorded.address} (pid {pid})")
        else:
            _say(f"{self.kind}: {recorded.name} on {recorded.address} was no longer running")
        _record(state, self.key, None)

    def env_line(self, state: dict[str, Any]) -> str | None:
        # `export`, so that `eval "$(devstack.py env)"` reaches the commands run after it.
        return f"export {self.env_var}={shlex.quote(self.url)}"

    def status(self, state: dict[str, Any]) -> bool:
        recorded = self.recorded(state)
        if self.external:
            owner = f"from {self.env_var}"
        elif recorded is not None and recorded.is_running():
            owner = f"started by devstack, pid {recorded.pid}, log {recorded.log_file}"
        elif recorded is not None:
            owner = "started by devstack, process gone"
        else:
            owner = "not started by devstack"
        if not self.probed:
            print(f"{self.kind}: {self.url}: not probed, SRV/TLS ({owner})")
            return True
        up = self.answers()
        print(f"{self.kind}: {self.url}: {'answering' if up else 'NOT answering'} ({owner})")
        return up


class _KeycloakService(_Service):
    """Keycloak as the CLI sees it: started on request only (``start --keycloak``).

    Its state entry names the Kafka and MongoDB ports it was started with, and `stop` and
    `env` act on it only for those ports: `make run` (run.py, its own ports) must neither
    stop nor pick up the Keycloak that `make test` started beside it.
    """

    default_timeout = KeycloakServer.default_start_timeout

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("keycloak", args)
        self.management_port = args.keycloak_management_port
        self.stack = [f"kafka:{args.kafka_port}", f"mongo:{args.mongo_port}"]

    @property
    def probed(self) -> bool:
        return True

    def answers(self) -> bool:
        try:
            keycloak_discovery(self.url, timeout=2.0)
        except (OSError, ProbeError, ValueError):
            return False
        return True

    def new_server(self) -> _Server:
        data = self.data_root / f"keycloak-{self.port}" if self.data_root else None
        return KeycloakServer(self.port, self.management_port, data_dir=data)

    def _entry_extra(self, server: _Server) -> dict[str, Any]:
        assert isinstance(server, KeycloakServer)
        return {
            "management_port": server.management_port,
            "version": server.version,
            "stack": self.stack,
        }

    def _ours(self, state: dict[str, Any]) -> bool:
        entry = state.get(self.key)
        return entry is not None and entry.get("stack") == self.stack

    def stop(self, state: dict[str, Any]) -> None:
        if self._ours(state):
            super().stop(state)

    def env_line(self, state: dict[str, Any]) -> str | None:
        if self.external:
            return super().env_line(state)
        if self.key in state:  # started by devstack: for the ports it was started with
            recorded = self.recorded(state)
            running = recorded is not None and recorded.is_running()
            return super().env_line(state) if running and self._ours(state) else None
        # One that `start --keycloak` found answering and reused.
        return super().env_line(state) if self.answers() else None

    def status(self, state: dict[str, Any]) -> bool:
        if self.external or self.key in state or self.answers():
            return super().status(state)
        print(f"{self.kind}: {self.url}: not started (`start --keycloak` starts it)")
        return True


def _services(args: argparse.Namespace) -> list[_Service]:
    return [_Service("kafka", args), _Service("mongo", args), _KeycloakService(args)]


def _in_background(task: Callable[[], None]) -> Callable[[], None]:
    """Start ``task`` in a thread; the function returned waits for it and raises its error."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            task()
        except BaseException as exc:  # raised again in the thread that waits
            failure.append(exc)

    # A daemon thread: Ctrl-C ends the CLI at once, as it does while Kafka starts.
    thread = threading.Thread(target=run, name="devstack-start", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failure:
            raise failure[0]

    return wait


def cmd_start(args: argparse.Namespace) -> int:
    with _file_lock("devstack-cli"):
        state = _load_state()
        kafka, mongo, keycloak = _services(args)
        waits = []
        if args.keycloak:
            # The slowest to start (~25 s, minutes on busy CI cores): it starts beside Kafka
            # and MongoDB, so that `start` takes as long as the slowest, not the sum.
            waits.append(_in_background(lambda: keycloak.start(state)))
        errors = []
        try:
            kafka.start(state)
            mongo.start(state)
        except DevstackError as exc:
            errors.append(exc)
        for wait in waits:
            try:
                wait()
            except DevstackError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            messages = list(dict.fromkeys(str(error) for error in errors))
            raise DevstackError("\ndevstack: ".join(messages))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    with _file_lock("devstack-cli"):
        state = _load_state()
        for service in reversed(_services(args)):
            service.stop(state)
        if not state:
            state_file().unlink(missing_ok=True)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    state = _load_state()
    for service in _services(args):
        line = service.env_line(state)
        if line is not None:
            print(line)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _load_state()
    results = [service.status(state) for service in _services(args)]
    return 0 if all(results) else 1


def _add_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The ports and the timeout: before the command, or after it (``start --kafka-port=...``)."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS  # after the command: only if given

    parser.add_argument("--kafka-port", type=int, default=default(9092))
    parser.add_argument("--kafka-controller-port", type=int, default=default(9093))
    parser.add_argument("--mongo-port", type=int, default=default(27017))
    parser.add_argument("--keycloak-port", type=int, default=default(8180))
    parser.add_argument("--keycloak-management-port", type=int, default=default(9180))
    parser.add_argument(
        "--timeout",
        type=float,
        default=default(None),
        help="seconds to wait for a server to answer (start) or to stop (stop);"
        " default 180, for Keycloak 240",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack",
        description="Local Kafka, MongoDB wire server and Keycloak for Chorus (no Docker).",
        # Without it `start --keycloak` is "ambiguous" (--keycloak-port, ...) to this parser.
        allow_abbrev=False,
    )
    _add_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        "start": (cmd_start, "start Kafka and MongoDB as needed (reusing running ones)"),
        "stop": (cmd_stop, "stop what `start` started on these ports, nothing else"),
        "status": (cmd_status, "show what answers (exit 1 if something does not)"),
        "env": (
            cmd_env,
            "print export KAFKA_BOOTSTRAP_SERVERS=... and MONGODB_URL=...,"
            " and KEYCLOAK_URL=... when Keycloak runs",
        ),
    }
    for name, (_, help_text) in commands.items():
        command = sub.add_parser(name, help=help_text, allow_abbrev=False)
        _add_options(command, defaults=False)
        if name == "start":
            command.add_argument(
                "--keycloak",
                action="store_true",
                help="also start Keycloak with the realms of deploy/local/keycloak"
                " (in parallel with Kafka and MongoDB)",
            )
            command.add_argument(
                "--fresh",
                action="store_true",
                help="empty the data of a server this call starts (running ones are reused as is)",
            )
            command.add_argument(
                "--data-root",
                type=lambda value: Path(value).expanduser().resolve(),
                default=None,
                help="keep a started server's data in DATA_ROOT/<kafka|mongo|keycloak>-<port>"
                " (default: the cache's data directory)",
            )
    args = parser.parse_args(argv)
    try:
        return commands[args.command][0](args)
    except DevstackError as exc:
        print(f"devstack: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("devstack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
