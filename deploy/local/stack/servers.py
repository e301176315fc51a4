"""The servers, each a detached process in its own session and process group with its data,
log and pid file in one folder: Kafka (KRaft), a MongoDB wire server, Keycloak, Jaeger and
Prometheus.

    kafka = KafkaServer(port=19092, controller_port=19093, data_dir=tmp / "kafka").start()
    ...
    kafka.stop()
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import (
    DEPLOY_LOCAL,
    LOCALHOST,
    DevstackError,
    ToolMissing,
    cache_dir,
    file_lock,
    log_tail,
)
from .probes import (
    ProbeError,
    jaeger_services,
    kafka_metadata,
    keycloak_discovery,
    mongo_ping,
    port_open,
    postgres_ready,
    prometheus_ready,
)
from .processes import group_alive, proc_cmdline, wait_until
from .toolchain import (
    JAEGER_SRC,
    KAFKA_VERSION,
    KEYCLOAK_VERSION,
    ensure_ferretdb_binary,
    ensure_jaeger_binary,
    ensure_kafka_libs,
    ensure_keycloak,
    require_java,
    require_postgresql,
    require_prometheus,
)

KAFKA_LOG4J = DEPLOY_LOCAL / "kafka" / "log4j2.properties"
SERVICES_DIR = DEPLOY_LOCAL.parents[1] / "services"
KAFKA_TEMPLATE = DEPLOY_LOCAL / "kafka" / "server.properties.template"
KEYCLOAK_REALMS = DEPLOY_LOCAL / "keycloak"  # *-realm.json: imported at every start
MONGO_BACKENDS = ("sqlite", "postgresql")  # FerretDB's storage
FERRETDB_POOL = 250  # PostgreSQL connections FerretDB may hold
# A local broker lives for a run or a test, on a machine of two cores the services and tests
# need too: the client compiler only and the serial collector (measured: 3.6 s of CPU to be
# ready and 6.2 s under two test modules, against 6.8 s and 10.3 s with C2 and G1).
KAFKA_JVM_OPTS = [
    "-Xmx512m",
    "-Xms256m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
]


class Server:
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

    def _account(self) -> pwd.struct_passwd | None:
        """The account the server process runs as (called after ``_prepare``); None: ours."""
        return None

    def _ask_to_stop(self, pid: int) -> None:
        """Ask the server to end; ``stop`` sends SIGKILL to the group if it has not in time."""
        os.killpg(pid, signal.SIGTERM)

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
        cmdline = proc_cmdline(pid)
        if cmdline is None or self._marker() not in cmdline:
            return None
        return pid

    def is_running(self) -> bool:
        """True while this instance's process is alive (answering or not yet)."""
        return self.pid is not None

    def erase(self) -> None:
        """Remove the server's data, log and pid file (``start --fresh``); not while running."""
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def answers(self, timeout: float = 2.0) -> bool:
        try:
            self.probe(timeout=timeout)
        except (OSError, ProbeError):
            return False
        return True

    def start(self, timeout: float | None = None) -> Server:
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
                account = self._account()
                self._popen = subprocess.Popen(
                    cmd,
                    cwd=self.data_dir,
                    env=self._environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own session and process group; survives us
                    close_fds=True,
                    **_as_account(account),
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
                    + log_tail(self.log_file)
                    + f"\nIf the log shows damaged data, `start --fresh` starts {self.name}"
                    f" on an empty {self.data_dir}."
                )
            if time.monotonic() >= deadline:
                if stop_on_timeout:
                    self.stop()
                raise DevstackError(
                    f"{self.name} did not answer on {self.address} within {timeout:.0f}s"
                    f" ({last_error}){'; stopped it' if stop_on_timeout else ''}."
                    f" Log {self.log_file}:\n" + log_tail(self.log_file)
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
            self._ask_to_stop(pid)
        if not wait_until(lambda: self._gone(pgid), timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            if not wait_until(lambda: self._gone(pgid), 10.0):
                raise DevstackError(f"{self.name} (pid {pid}) survived SIGKILL")
        self._forget()
        return True

    def _gone(self, pgid: int) -> bool:
        if self._popen is not None:
            self._popen.poll()  # reap our own child so it does not linger as a zombie
        return not group_alive(pgid)

    def _forget(self) -> None:
        if self._popen is not None:
            self._popen.poll()
            self._popen = None
        self.pid_file.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address}, data_dir={str(self.data_dir)!r})"


def local_kafka_users() -> dict[str, str]:
    """The devstack Kafka's SCRAM users: `chorus-<service>` for every service of the
    repository, each with a password for this machine's loopback Kafka only (the user name
    and `-local-only`). `deploy/local/kafka_access.py` gives them their ACLs."""
    names = sorted(p.parent.name for p in SERVICES_DIR.glob("*/src/*/bootstrap.py"))
    return {f"chorus-{name}": f"chorus-{name}-local-only" for name in names}


class KafkaServer(Server):
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
        sasl_port: int | None = None,
        scram_users: Mapping[str, str] | None = None,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"kafka-{port}"
        super().__init__(port, data_dir)
        self.controller_port = int(controller_port)
        self.version = version
        # With a SASL port: a second listener where clients sign in with SCRAM-SHA-512 as
        # one of `scram_users` (name -> password, created when the storage is formatted),
        # and Kafka's authorizer, which allows them only what an ACL allows. The plain
        # listener and the controller's stay open to everything (their anonymous user is
        # a super user): for the tools and tests that set the ACLs and read every topic.
        self.sasl_port = sasl_port
        self.scram_users = dict(scram_users or {})
        # Written when the storage is formatted with the users: data formatted without them
        # (before the listener existed) has no users, and gets no SASL listener.
        self.users_marker = self.data_dir / "scram-users"
        self.config_file = self.data_dir / "server.properties"
        self.log_dir = self.data_dir / "kraft-logs"

    @property
    def bootstrap_servers(self) -> str:
        return self.address

    @property
    def sasl_bootstrap_servers(self) -> str:
        if not self.has_sasl:
            raise DevstackError("this Kafka has no SASL listener")
        return f"{self.host}:{self.sasl_port}"

    @property
    def has_sasl(self) -> bool:
        formatted = (self.log_dir / "meta.properties").exists()
        return self.sasl_port is not None and (not formatted or self.users_marker.exists())

    def _ports(self) -> list[int]:
        return [self.port, self.controller_port, *([self.sasl_port] if self.has_sasl else [])]

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
        sasl = self.has_sasl
        if self.sasl_port is not None and sasl:
            config = _with_sasl(config, self.port, self.sasl_port)
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
            users = self.scram_users if sasl else {}
            for name, password in users.items():
                cmd += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
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
                    f" log {self.log_file}:\n" + log_tail(self.log_file)
                )
            if sasl:
                self.users_marker.write_text("\n".join(sorted(users)) + "\n")
        return [*jvm, "kafka.Kafka", str(self.config_file)]


def _with_sasl(config: str, port: int, sasl_port: int) -> str:
    """`config` with a SASL_PLAINTEXT listener named SASL on `sasl_port` and the authorizer."""
    plain = f"PLAINTEXT://127.0.0.1:{port}"
    sasl = f"SASL://127.0.0.1:{sasl_port}"
    config = config.replace(f"listeners={plain},", f"listeners={plain},{sasl},")
    config = config.replace(f"advertised.listeners={plain}", f"advertised.listeners={plain},{sasl}")
    config = config.replace(
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL:SASL_PLAINTEXT",
    )
    if sasl not in config or "SASL:SASL_PLAINTEXT" not in config:
        raise DevstackError("the Kafka template's listeners are not as expected")
    return config + "\n".join(
        [
            "",
            "# The SASL listener (devstack --kafka-sasl-port): SCRAM users and ACLs.",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "listener.name.sasl.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:ANONYMOUS",
            "allow.everyone.if.no.acl.found=false",
            "",
        ]
    )


class PostgresServer(Server):
    """PostgreSQL from Debian's packages, the storage of FerretDB's PostgreSQL backend.

    One cluster in ``data_dir/cluster`` (``initdb`` on the first start), with trust
    authentication for its superuser ``ferretdb``, listening on 127.0.0.1 only and on no Unix
    socket. Log (``server.log``) and pid file live in ``data_dir``. PostgreSQL refuses to
    run as root: started by root, it runs as the ``postgres`` user of Debian's package, and
    where that user may not enter ``data_dir`` (a checkout in a folder closed to others), the
    cluster lives in the temp folder instead, named after ``data_dir``
    (``chorus-postgresql-<hash>``), so that the same ``data_dir`` always finds it again.
    """

    name = "PostgreSQL"
    default_start_timeout = 60.0
    user = "ferretdb"  # the cluster's superuser; trust: no password
    database = "postgres"  # FerretDB keeps each MongoDB database in a schema of this one

    def __init__(self, port: int = 28017, data_dir: Path | str | None = None) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"postgresql-{port}"
        super().__init__(port, data_dir)
        self.cluster_dir = self.data_dir / "cluster"
        account = _postgres_account()
        if account is not None and not _reachable_by(account, self.data_dir):
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            self.cluster_dir = Path(tempfile.gettempdir()) / f"chorus-postgresql-{digest}"

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@{self.address}/{self.database}"

    def _marker(self) -> str:
        return str(self.cluster_dir)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        return postgres_ready(self.host, self.port, self.user, self.database, timeout=timeout)

    def _account(self) -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        account = _postgres_account()
        if account is None:
            raise ToolMissing(
                "PostgreSQL does not run as root and there is no postgres user to run it as:"
                " apt-get install postgresql"
            )
        return account

    def erase(self) -> None:
        super().erase()
        shutil.rmtree(self.cluster_dir, ignore_errors=True)

    def _ask_to_stop(self, pid: int) -> None:
        # SIGINT to the postmaster alone: a fast shutdown, which ends its own processes.
        # SIGTERM would wait for clients to leave, and sent to the group it ends them at once.
        os.kill(pid, signal.SIGINT)

    def _prepare(self) -> list[str]:
        bin_dir = require_postgresql()
        account = self._account()
        if account is not None and self.cluster_dir.parent == self.data_dir:
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        if not (self.cluster_dir / "PG_VERSION").is_file():  # first start (or a broken one)
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            cmd = [
                str(bin_dir / "initdb"),
                f"--pgdata={self.cluster_dir}",
                f"--username={self.user}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
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
                    **_as_account(account),
                )
            if proc.returncode != 0:
                raise DevstackError(
                    f"initdb of {self.cluster_dir} failed (exit {proc.returncode});"
                    f" log {self.log_file}:\n" + log_tail(self.log_file)
                )
        return [
            str(bin_dir / "postgres"),
            "-D",
            str(self.cluster_dir),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"max_connections={FERRETDB_POOL + 20}",  # FerretDB's pool, and a few to look in
            # No Unix socket: Debian's default folder is not writable by every user.
            "-c",
            "unix_socket_directories=",
        ]


def _as_account(account: pwd.struct_passwd | None) -> dict[str, Any]:
    """What ``subprocess`` needs to start a program as ``account`` (None: as we are)."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _postgres_account() -> pwd.struct_passwd | None:
    """Debian's ``postgres`` user where we are root (PostgreSQL refuses root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _reachable_by(account: pwd.struct_passwd, folder: Path) -> bool:
    """Whether ``account`` may enter every folder above ``folder`` (that exists)."""
    for parent in folder.parents:
        try:
            info = parent.stat()
        except OSError:
            continue
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & 0o100
        elif info.st_gid == account.pw_gid:
            allowed = info.st_mode & 0o010
        else:
            allowed = info.st_mode & 0o001
        if not allowed:
            return False
    return True


def default_mongo_backend() -> str:
    """PostgreSQL under FerretDB, unless a ``mongod`` on PATH is to serve (docs/architecture.md,
    "The storage under the benches and the suite")."""
    return "sqlite" if shutil.which("mongod") else "postgresql"


class MongoServer(Server):
    """A MongoDB wire server: ``mongod`` from PATH if present, otherwise FerretDB (SQLite).

    ``use_mongod``: None picks automatically, True requires mongod, False forces FerretDB.
    ``backend="postgresql"``: FerretDB on a PostgreSQL of its own (``PostgresServer`` on
    ``postgres_port``, default the MongoDB port + 1000, its cluster in
    ``data_dir/postgresql``), started before FerretDB and stopped after it.
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
        backend: str = "sqlite",
        postgres_port: int | None = None,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"mongo-{port}"
        super().__init__(port, data_dir)
        if backend not in MONGO_BACKENDS:
            raise ValueError(f"backend {backend!r}: one of {', '.join(MONGO_BACKENDS)}")
        self.backend = backend
        self.postgres: PostgresServer | None = None
        if backend == "postgresql":
            if use_mongod:
                raise ValueError("mongod has no PostgreSQL backend; FerretDB has")
            use_mongod = False
            port_of_postgres = self.port + 1000 if postgres_port is None else postgres_port
            self.postgres = PostgresServer(port_of_postgres, self.data_dir / "postgresql")
        self.mongod = shutil.which("mongod") if use_mongod is not False else None
        if use_mongod and self.mongod is None:
            raise ToolMissing("mongod was asked for but is not on PATH")
        self.implementation = "mongod" if self.mongod else "ferretdb"
        self.name = "MongoDB (mongod)" if self.mongod else "MongoDB (FerretDB)"
        self.db_dir = self.data_dir / self.implementation
        if self.postgres is not None:
            self.name = "MongoDB (FerretDB on PostgreSQL)"
            self.db_dir = self.postgres.data_dir

    @property
    def url(self) -> str:
        return f"mongodb://{self.address}"

    def _marker(self) -> str:
        return self.postgres.url if self.postgres is not None else str(self.db_dir)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        return mongo_ping(self.host, self.port, timeout=timeout)

    def start(self, timeout: float | None = None) -> MongoServer:
        if self.postgres is None:
            super().start(timeout)
            return self
        launched = not self.postgres.is_running()
        self.postgres.start(timeout)
        try:
            super().start(timeout)
        except BaseException:
            if launched:  # no FerretDB to serve: the PostgreSQL started for it goes too
                self.postgres.stop()
            raise
        return self

    def erase(self) -> None:
        super().erase()
        if self.postgres is not None:
            self.postgres.erase()

    def stop(self, timeout: float = 30.0) -> bool:
        """FerretDB, then its PostgreSQL; True if either was running."""
        stopped = super().stop(timeout)
        if self.postgres is not None:
            stopped = self.postgres.stop(timeout) or stopped
        return stopped

    def _prepare(self) -> list[str]:
        if self.postgres is not None:
            binary = ensure_ferretdb_binary()
            return [
                str(binary),
                "-listen-addr",
                self.address,
                "-handler",
                "postgresql",
                "-postgresql-url",
                # FerretDB 1.24 holds a pooled connection per matched update until its
                # command answers, and waits for a free one forever: its default of 50
                # is reached by a few bulk updates at once (chassis.mongo).
                f"{self.postgres.url}?pool_max_conns={FERRETDB_POOL}",
            ]
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


class KeycloakServer(Server):
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
        with file_lock(f"keycloak-{self.version}-build"):
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
            # The client compiler only, as for Kafka: 37 s of CPU to be ready against 54 s.
            # (Keycloak picks its collector itself, and the JVM takes one.)
            JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1",
        )
        if self._java is not None:
            env["JAVA"] = self._java  # kc.sh runs $JAVA, else java from PATH
        return env


class JaegerServer(Server):
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


class PrometheusServer(Server):
    """Prometheus from Debian's ``prometheus`` package, on ``port``, loopback only: ``config``
    is its configuration (written to ``prometheus.yml`` in ``data_dir``), ``files`` the files
    it names, rule files for instance, by name (written beside it). Its storage
    (``tsdb/``), log (``server.log``) and pid file live in ``data_dir`` too (default
    ``<cache>/data/prometheus-<port>``); the configuration is written again at every start.
    """

    name = "Prometheus"
    default_start_timeout = 60.0

    def __init__(
        self,
        port: int = 9090,
        data_dir: Path | str | None = None,
        *,
        config: str = "",
        files: Mapping[str, str] | None = None,
    ) -> None:
        if data_dir is None:
            data_dir = cache_dir() / "data" / f"prometheus-{port}"
        super().__init__(port, data_dir)
        self.config = config
        self.files = dict(files or {})
        self.config_file = self.data_dir / "prometheus.yml"
        self.storage_dir = self.data_dir / "tsdb"

    @property
    def url(self) -> str:
        """The web UI and the HTTP API (``/api/v1/targets``, ``/api/v1/rules``, ...)."""
        return f"http://{self.address}"

    def _marker(self) -> str:
        return str(self.config_file)

    def probe(self, timeout: float = 5.0) -> dict[str, Any]:
        return {"ready": prometheus_ready(self.url, timeout=timeout)}

    def write_config(self) -> Path:
        """The configuration and its files in ``data_dir``; returns the configuration's path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (self.data_dir / name).write_text(text)
        self.config_file.write_text(self.config)
        return self.config_file

    def _prepare(self) -> list[str]:
        binary = require_prometheus()
        self.write_config()
        return [
            binary,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.storage_dir}",
            f"--web.listen-address={self.address}",
        ]


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
