#!/usr/bin/env python3
"""Local infrastructure for Chorus without Docker: Kafka (KRaft) and a MongoDB wire server.

Standard library only: this runs before the project's virtualenv exists.

    python deploy/local/devstack.py start    # start what is missing, reuse what answers
    python deploy/local/devstack.py status
    eval "$(python deploy/local/devstack.py env)"  # export KAFKA_BOOTSTRAP_SERVERS, MONGODB_URL
    python deploy/local/devstack.py stop     # stops only what `start` started

From Python (tests)::

    kafka = KafkaServer(port=19092, controller_port=19093, data_dir=tmp / "kafka").start()
    ...
    kafka.stop()

Everything downloaded, built or stored goes under one cache folder: ``$CHORUS_CACHE`` or
``<repo>/.cache``. Kafka's jars come from Maven Central through ``kafka/pom.xml`` (Maven),
FerretDB is built from ``ferretdb/`` (Go) unless ``mongod`` is on PATH. Both are done once
and reused: a later start does no network work.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
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
import time
import uuid
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


def require_java() -> str:
    """Path of a Java 17+ ``java``, or ToolMissing."""
    hint = "apt-get install openjdk-17-jre-headless"
    java = find_java()
    if java is None:
        raise ToolMissing(f"Java {JAVA_MIN_MAJOR}+ is needed to run Kafka: {hint}")
    out = _version_output([java, "-version"])
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match is None:
        raise ToolMissing(f"`{java} -version` failed; Java {JAVA_MIN_MAJOR}+ is needed: {hint}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392" style
        major = int(match.group(2))
    if major < JAVA_MIN_MAJOR:
        raise ToolMissing(
            f"Java {JAVA_MIN_MAJOR}+ is needed to run Kafka, found Java {major} at {java}: {hint}"
        )
    return java


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissing(
            "Maven is needed to download Kafka's jars on first use: apt-get install maven"
        )
    return mvn


def require_go() -> str:
    hint = (
        f"Go {GO_MIN[0]}.{GO_MIN[1]}+ is needed to build FerretDB on first use"
        " (or put mongod on PATH, or set MONGODB_URL): install Go from https://go.dev/dl/"
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


def _ferretdb_source_digest() -> str:
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update(name.encode())
        digest.update((FERRETDB_SRC / name).read_bytes())
    return digest.hexdigest()[:12]


def ferretdb_binary_path() -> Path:
    """Where the FerretDB program for the current sources is (or will be) built."""
    name = f"ferretdb-{FERRETDB_VERSION}-{_ferretdb_source_digest()}"
    return cache_dir() / "ferretdb" / "bin" / name


def ensure_ferretdb_binary() -> Path:
    """The FerretDB program; built with Go on first use (and when its sources change)."""
    binary = ferretdb_binary_path()
    if binary.is_file():
        return binary
    with _file_lock("ferretdb"):
        if binary.is_file():
            return binary
        go = require_go()
        gopath = cache_dir() / "ferretdb" / "go"
        env = dict(os.environ)
        env.update(
            GOPATH=str(gopath),
            GOMODCACHE=str(gopath / "pkg" / "mod"),
            GOCACHE=str(gopath / "cache"),
            # -modcacherw: the module cache stays deletable with rm -rf;
            # -buildvcs=false: the repository may have no commit yet.
            GOFLAGS="-mod=mod -modcacherw -buildvcs=false",
            CGO_ENABLED="0",  # modernc.org/sqlite is pure Go: no C compiler needed
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(binary.name + ".partial")
        log = binary.parent.parent / "build.log"
        print(
            f"devstack: building FerretDB {FERRETDB_VERSION} with Go (first use only)...",
            file=sys.stderr,
            flush=True,
        )
        _run_build(
            [go, "build", "-trimpath", "-o", str(tmp), "."],
            what=f"Go build of FerretDB {FERRETDB_VERSION}",
            cwd=FERRETDB_SRC,
            env=env,
            log=log,
        )
        tmp.rename(binary)
        for old in binary.parent.glob("ferretdb-*"):  # builds of older sources
            if old != binary:
                old.unlink(missing_ok=True)
    return binary


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


def _save_state(state: dict[str, Any]) -> None:
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
    return MongoServer(
        entry["port"], entry["data_dir"], use_mongod=entry.get("implementation") == "mongod"
    )


def _say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


class _Service:
    """One of the two services as the CLI sees it, for the ports given on the command line."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind = kind
        if kind == "kafka":
            self.env_var = "KAFKA_BOOTSTRAP_SERVERS"
            self.port = args.kafka_port
            self.default_url = f"{LOCALHOST}:{self.port}"
            self.probe: Callable[..., Any] = kafka_metadata
        else:
            self.env_var = "MONGODB_URL"
            self.port = args.mongo_port
            self.default_url = f"mongodb://{LOCALHOST}:{self.port}"
            self.probe = mongo_ping
        self.controller_port = args.kafka_controller_port
        self.fresh = bool(getattr(args, "fresh", False))
        # Where a server this call starts keeps its data: `<root>/<kind>-<port>`.
        self.data_root: Path | None = getattr(args, "data_root", None)
        self.key = f"{kind}:{self.port}"  # state entry: what `start` started on this port

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

    def start(self, timeout: float, state: dict[str, Any]) -> None:
        if self.external:
            if self.addresses() is None:
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
        state.pop(self.key, None)
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
        state[self.key] = entry
        _save_state(state)
        _say(
            f"{self.kind}: started {server.name} on {server.address} (pid {server.pid},"
            f" {time.monotonic() - began:.1f}s; log {server.log_file})"
        )

    def stop(self, timeout: float, state: dict[str, Any]) -> None:
        recorded = self.recorded(state)
        if recorded is None:
            return
        pid = recorded.pid
        if recorded.stop(timeout=timeout):
            _say(f"{self.kind}: stopped {recorded.name} on {recorded.address} (pid {pid})")
        else:
            _say(f"{self.kind}: {recorded.name} on {recorded.address} was no longer running")
        state.pop(self.key, None)
        _save_state(state)

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
        if self.addresses() is None:
            print(f"{self.kind}: {self.url}: not probed, SRV/TLS ({owner})")
            return True
        up = self.answers()
        print(f"{self.kind}: {self.url}: {'answering' if up else 'NOT answering'} ({owner})")
        return up


def _services(args: argparse.Namespace) -> list[_Service]:
    return [_Service("kafka", args), _Service("mongo", args)]


def cmd_start(args: argparse.Namespace) -> int:
    with _file_lock("devstack-cli"):
        state = _load_state()
        for service in _services(args):
            service.start(args.timeout, state)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    with _file_lock("devstack-cli"):
        state = _load_state()
        for service in reversed(_services(args)):
            service.stop(args.timeout, state)
        if not state:
            state_file().unlink(missing_ok=True)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    for service in _services(args):
        # `export`, so that `eval "$(devstack.py env)"` reaches the commands run after it.
        print(f"export {service.env_var}={shlex.quote(service.url)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _load_state()
    results = [service.status(state) for service in _services(args)]
    return 0 if all(results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devstack", description="Local Kafka and MongoDB wire server for Chorus (no Docker)."
    )
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--kafka-controller-port", type=int, default=9093)
    parser.add_argument("--mongo-port", type=int, default=27017)
    parser.add_argument(
        "--timeout",
        type=float,
        default=180.0,
        help="seconds to wait for a server to answer (start) or to stop (stop)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {
        "start": (cmd_start, "start Kafka and MongoDB as needed (reusing running ones)"),
        "stop": (cmd_stop, "stop what `start` started on these ports, nothing else"),
        "status": (cmd_status, "show what answers (exit 1 if something does not)"),
        "env": (cmd_env, "print export KAFKA_BOOTSTRAP_SERVERS=... and MONGODB_URL=..."),
    }
    for name, (_, help_text) in commands.items():
        command = sub.add_parser(name, help=help_text)
        if name == "start":
            command.add_argument(
                "--fresh",
                action="store_true",
                help="empty the data of a server this call starts (running ones are reused as is)",
            )
            command.add_argument(
                "--data-root",
                type=lambda value: Path(value).expanduser().resolve(),
                default=None,
                help="keep a started server's data in DATA_ROOT/<kafka|mongo>-<port>"
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
