"""The command line (``deploy/local/devstack.py``): start, stop, env and status for the
ports given, acting only on what ``start`` started and recorded in the state file."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import LOCALHOST, DevstackError, file_lock
from .probes import ProbeError, kafka_metadata, keycloak_discovery, mongo_ping, port_open
from .processes import load_state, record_entry, state_file, wait_until
from .servers import (
    MONGO_BACKENDS,
    KafkaServer,
    KeycloakServer,
    MongoServer,
    Server,
    default_mongo_backend,
    local_kafka_users,
)
from .toolchain import KAFKA_VERSION, KEYCLOAK_VERSION


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


def _server_from_state(kind: str, entry: dict[str, Any]) -> Server:
    if kind == "kafka":
        return KafkaServer(
            entry["port"],
            entry["controller_port"],
            entry["data_dir"],
            version=entry.get("version", KAFKA_VERSION),
            sasl_port=entry.get("sasl_port"),
        )
    if kind == "keycloak":
        return KeycloakServer(
            entry["port"],
            entry["management_port"],
            entry["data_dir"],
            version=entry.get("version", KEYCLOAK_VERSION),
        )
    return MongoServer(
        entry["port"],
        entry["data_dir"],
        use_mongod=entry.get("implementation") == "mongod",
        backend=entry.get("backend", "sqlite"),
        postgres_port=entry.get("postgres_port"),
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
        sasl_port = getattr(args, "kafka_sasl_port", None)
        self.sasl_port: int = sasl_port if sasl_port is not None else args.kafka_port + 2
        self.fresh = bool(getattr(args, "fresh", False))
        # Where a server this call starts keeps its data: `<root>/<kind>-<port>`.
        self.data_root: Path | None = getattr(args, "data_root", None)
        # Given on the command line, or None: then a running server is taken as it is, and a
        # new one gets the default (default_mongo_backend).
        self.mongo_backend_asked: str | None = args.mongo_backend
        self.mongo_backend = args.mongo_backend or default_mongo_backend()
        self.postgres_port: int | None = args.postgres_port
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

    def new_server(self) -> Server:
        if self.kind == "kafka":
            data = self.data_root / f"kafka-{self.port}" if self.data_root else None
            return KafkaServer(
                self.port,
                self.controller_port,
                data_dir=data,
                sasl_port=self.sasl_port,
                scram_users=local_kafka_users(),
            )
        data = self.data_root / f"mongo-{self.port}" if self.data_root else None
        return MongoServer(
            self.port, data_dir=data, backend=self.mongo_backend, postgres_port=self.postgres_port
        )

    def recorded(self, state: dict[str, Any]) -> Server | None:
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
            if not wait_until(self.answers, timeout, interval=1.0):
                raise DevstackError(
                    f"{self.env_var}={self.external} does not answer after {timeout:.0f}s"
                )
            _say(f"{self.kind}: using {self.env_var}={self.external}")
            return
        recorded = self.recorded(state)
        if recorded is not None and recorded.is_running():
            wanted = self.new_server()
            stop_first = (
                f"stop it first (python3 deploy/local/devstack.py --{self.kind}-port={self.port}"
                " stop)"
            )
            if recorded.data_dir != wanted.data_dir:
                raise DevstackError(
                    f"{recorded.name} on {recorded.address} runs on the data in"
                    f" {recorded.data_dir}, not {wanted.data_dir}; {stop_first}"
                )
            if isinstance(recorded, MongoServer) and self.mongo_backend_asked is not None:
                if recorded.backend != self.mongo_backend_asked:
                    raise DevstackError(
                        f"{recorded.name} on {recorded.address} keeps its data in"
                        f" {recorded.backend}, not {self.mongo_backend_asked} (--mongo-backend);"
                        f" {stop_first}"
                    )
            recorded.wait_ready(timeout)
            _say(
                f"{self.kind}: already running on {recorded.address}"
                f" (started by devstack, pid {recorded.pid})"
            )
            return
        record_entry(state, self.key, None)
        server = self.new_server()
        if port_open(server.host, server.port):
            if not wait_until(server.answers, min(timeout, 30.0), interval=1.0):
                raise DevstackError(
                    f"{server.address} is in use by something that does not answer as"
                    f" {server.name}; stop it, or set {self.env_var}"
                )
            _say(
                f"{self.kind}: using the server already answering on {server.address}"
                " (not started by devstack, will not be stopped by it)"
            )
            return
        if self.fresh:
            # Tests start from empty topics and databases: no history from earlier runs.
            server.erase()
        began = time.monotonic()
        server.start(timeout)
        entry: dict[str, Any] = {
            "port": server.port,
            "data_dir": str(server.data_dir),
            "pid": server.pid,
        }
        if isinstance(server, KafkaServer):
            entry.update(controller_port=server.controller_port, version=server.version)
            if server.has_sasl:
                entry.update(sasl_port=server.sasl_port)
        if isinstance(server, MongoServer):
            entry.update(implementation=server.implementation, backend=server.backend)
            if server.postgres is not None:
                entry.update(postgres_port=server.postgres.port)
                _say(
                    f"{self.kind}: PostgreSQL for FerretDB on {server.postgres.address}"
                    f" (pid {server.postgres.pid}; log {server.postgres.log_file})"
                )
        entry.update(self._entry_extra(server))
        record_entry(state, self.key, entry)
        _say(
            f"{self.kind}: started {server.name} on {server.address} (pid {server.pid},"
            f" {time.monotonic() - began:.1f}s; log {server.log_file})"
        )

    def _entry_extra(self, server: Server) -> dict[str, Any]:
        """What else the state records about a server this call started."""
        return {}

    def stop(self, state: dict[str, Any]) -> None:
        recorded = self.recorded(state)
        if recorded is None:
            return
        if self.data_root is not None and recorded.data_dir != self.new_server().data_dir:
            # `make run` stops its own servers, never the tests' that it refused to use.
            _say(
                f"{self.kind}: left {recorded.name} on {recorded.address} running: its data is"
                f" in {recorded.data_dir}, not under {self.data_root}"
            )
            return
        pid = recorded.pid
        if recorded.stop(timeout=self.timeout):
            _say(f"{self.kind}: stopped {recorded.name} on {recorded.address} (pid {pid})")
        else:
            _say(f"{self.kind}: {recorded.name} on {recorded.address} was no longer running")
        record_entry(state, self.key, None)

    def env_line(self, state: dict[str, Any]) -> str | None:
        # `export`, so that `eval "$(devstack.py env)"` reaches the commands run after it.
        line = f"export {self.env_var}={shlex.quote(self.url)}"
        recorded = self.recorded(state) if not self.external else None
        if isinstance(recorded, KafkaServer) and recorded.has_sasl:
            # Where the services sign in as their users (deploy/local/kafka_access.py).
            sasl = shlex.quote(recorded.sasl_bootstrap_servers)
            line += f"\nexport KAFKA_SASL_BOOTSTRAP_SERVERS={sasl}"
        return line

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

    def new_server(self) -> Server:
        data = self.data_root / f"keycloak-{self.port}" if self.data_root else None
        return KeycloakServer(self.port, self.management_port, data_dir=data)

    def _entry_extra(self, server: Server) -> dict[str, Any]:
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
    with file_lock("devstack-cli"):
        state = load_state()
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
    with file_lock("devstack-cli"):
        state = load_state()
        for service in reversed(_services(args)):
            service.stop(state)
        if not state:
            state_file().unlink(missing_ok=True)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    state = load_state()
    for service in _services(args):
        line = service.env_line(state)
        if line is not None:
            print(line)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = load_state()
    results = [service.status(state) for service in _services(args)]
    return 0 if all(results) else 1


def _add_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The ports, the timeout and the MongoDB backend: before the command, or after it
    (``start --kafka-port=...``)."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS  # after the command: only if given

    parser.add_argument("--kafka-port", type=int, default=default(9092))
    parser.add_argument("--kafka-controller-port", type=int, default=default(9093))
    parser.add_argument(
        "--kafka-sasl-port",
        type=int,
        default=default(None),
        help="Kafka's SASL listener, where each service signs in as its own user and Kafka's"
        " authorizer applies the ACLs (default: the Kafka port + 2)",
    )
    parser.add_argument("--mongo-port", type=int, default=default(27017))
    parser.add_argument("--keycloak-port", type=int, default=default(8180))
    parser.add_argument("--keycloak-management-port", type=int, default=default(9180))
    parser.add_argument(
        "--mongo-backend",
        choices=MONGO_BACKENDS,
        default=default(None),
        help="for start: FerretDB's storage, a PostgreSQL of its own from Debian's packages (on"
        " --postgres-port, its data beside FerretDB's; the default) or SQLite files (the"
        " default where mongod is on PATH: mongod then serves instead of FerretDB)",
    )
    parser.add_argument(
        "--postgres-port",
        type=int,
        default=default(None),
        help="PostgreSQL's port with --mongo-backend=postgresql (default: the MongoDB port + 1000)",
    )
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
        if name in ("start", "stop"):
            command.add_argument(
                "--data-root",
                type=lambda value: Path(value).expanduser().resolve(),
                default=None,
                help="start: keep a started server's data in"
                " DATA_ROOT/<kafka|mongo|keycloak>-<port> (default: the cache's data directory);"
                " stop: only servers whose data is there",
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
