"""deploy/local/devstack.py and its package `stack`: tool checks, wire probes, and real
servers on free ports.

The ``infra`` tests start their own Kafka / MongoDB wire server on free ports with their own
data folders (the jars and the FerretDB binary come from the shared cache, downloaded or
built on first use), so they never touch a server a developer already runs on 9092/27017.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest

from stack import base, cli, probes, servers, toolchain

REPO = Path(__file__).resolve().parents[2]
DEVSTACK_PATH = REPO / "deploy" / "local" / "devstack.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_gone(pid: int) -> bool:
    """No live process with this pid (a zombie waiting for its parent counts as gone)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.exists():
        try:
            text = stat.read_text()
        except OSError:
            return True
        return text[text.rindex(")") + 2] in "ZX"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "KEYCLOAK_URL", "JAVA_HOME")
    }
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEVSTACK_PATH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------- fast checks


def test_kafka_version_is_pinned_in_one_place_and_the_pom() -> None:
    assert toolchain.pom_kafka_version() == toolchain.KAFKA_VERSION


def test_devstack_imports_only_the_standard_library() -> None:
    stdlib = sys.stdlib_module_names
    import ast

    for path in [DEVSTACK_PATH, *sorted((DEVSTACK_PATH.parent / "stack").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue  # relative: within the package
            for name in names:
                root = name.split(".")[0]
                assert root in ("__future__", "stack") or root in stdlib, f"{path}: {name}"


def test_missing_java_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(base.ToolMissing) as caught:
        toolchain.require_java()
    message = str(caught.value)
    assert "\n" not in message
    assert "Java 17+" in message and "apt-get install" in message


def test_cli_without_java_fails_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = clean_env(PATH=str(empty), CHORUS_CACHE=str(tmp_path / "cache"))
    result = run_cli(
        "--kafka-port",
        str(free_port()),
        "--kafka-controller-port",
        str(free_port()),
        "--mongo-port",
        str(free_port()),
        "start",
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("devstack: Java 17+ is needed to run Kafka"), lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_maven_is_one_line_when_jars_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    java = toolchain.find_java()
    if java is None:
        pytest.skip("no java here")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "java").symlink_to(Path(java).resolve())
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("CHORUS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(base.ToolMissing) as caught:
        toolchain.ensure_kafka_libs()
    assert "\n" not in str(caught.value) and "Maven" in str(caught.value)


def test_missing_go_is_one_line_when_ferretdb_is_not_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("CHORUS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(base.ToolMissing) as caught:
        toolchain.ensure_ferretdb_binary()
    assert "\n" not in str(caught.value) and "Go " in str(caught.value)


def test_missing_postgresql_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "POSTGRESQL_LIB", tmp_path / "no-postgresql")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(base.ToolMissing) as caught:
        toolchain.require_postgresql()
    message = str(caught.value)
    assert "\n" not in message and "apt-get install postgresql" in message


def test_missing_prometheus_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(base.ToolMissing) as caught:
        toolchain.require_prometheus()
    message = str(caught.value)
    assert "\n" not in message and "apt-get install prometheus" in message


def test_probes_fail_cleanly_on_a_closed_port() -> None:
    port = free_port()
    with pytest.raises(OSError):
        probes.kafka_metadata("127.0.0.1", port, timeout=1)
    with pytest.raises(OSError):
        probes.mongo_ping("127.0.0.1", port, timeout=1)
    with pytest.raises(OSError):
        probes.keycloak_discovery(f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(OSError):
        probes.postgres_ready("127.0.0.1", port, "ferretdb", "postgres", timeout=1)
    with pytest.raises(OSError):
        probes.prometheus_ready(f"http://127.0.0.1:{port}", timeout=1)


def test_unzip_keeps_the_executable_bits(tmp_path: Path) -> None:
    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, mode in (("kc/bin/kc.sh", 0o755), ("kc/conf/keycloak.conf", 0o644)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            zipped.writestr(info, "#\n")
    toolchain._unzip(archive, tmp_path / "out")
    assert os.access(tmp_path / "out" / "kc" / "bin" / "kc.sh", os.X_OK)
    assert not os.access(tmp_path / "out" / "kc" / "conf" / "keycloak.conf", os.X_OK)


def test_the_realm_files_are_what_is_imported(tmp_path: Path) -> None:
    import_dir = tmp_path / "import"
    import_dir.mkdir()
    (import_dir / "removed-realm.json").write_text("{}")
    servers._install_realms(servers.KEYCLOAK_REALMS, import_dir)
    assert sorted(path.name for path in import_dir.iterdir()) == [
        "demo-realm.json",
        "elsewhere-realm.json",
    ]


def _realm(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((servers.KEYCLOAK_REALMS / f"{name}-realm.json").read_text())
    return data


def test_realm_files_keep_the_built_in_scopes_beside_chorus() -> None:
    """A realm file that declares client scopes gets none of Keycloak's built-in ones."""
    for name in ("demo", "elsewhere"):
        realm = _realm(name)
        assert realm["realm"] == name and realm["sslRequired"] == "none"
        scopes = {scope["name"]: scope for scope in realm["clientScopes"]}
        assert {"profile", "email", "roles", "web-origins", "acr", "basic", "chorus"} <= set(scopes)
        mappers = {m["name"]: m for m in scopes["chorus"]["protocolMappers"]}
        assert mappers["chorus audience"]["config"]["included.custom.audience"] == "chorus"
        assert mappers["groups"]["config"]["full.path"] == "false"
        for client in realm["clients"]:
            assert ("chorus" in client["defaultClientScopes"]) == (
                client["clientId"] != "other-app"
            )


def test_demo_realm_users_and_clients() -> None:
    realm = _realm("demo")
    users = {user["username"]: user for user in realm["users"]}
    assert set(users) == {"alice", "bob", "carol", "dave", "erin", "mallory"}
    assert users["alice"]["realmRoles"] == ["employee", "admin"]
    assert users["mallory"]["attributes"]["tenant"] == ["acme"]
    for user in users.values():
        assert user["credentials"] == [{"type": "password", "value": "chorus", "temporary": False}]
    clients = {client["clientId"]: client for client in realm["clients"]}
    web = clients["chorus-web"]
    assert web["attributes"]["pkce.code.challenge.method"] == "S256"
    assert not web["directAccessGrantsEnabled"] and not web["implicitFlowEnabled"]
    # Keycloak ignores the port of a loopback redirect URI: the tests' random ports match.
    assert web["redirectUris"] == ["http://127.0.0.1/*", "http://localhost/*"]
    assert clients["chorus-tests-short"]["attributes"]["access.token.lifespan"] == "2"
    assert clients["chorus-web-short"]["attributes"]["access.token.lifespan"] == "10"


def test_options_may_follow_the_command(tmp_path: Path) -> None:
    env = clean_env(CHORUS_CACHE=str(tmp_path / "cache"))
    ports = [f"--kafka-port={free_port()}", f"--mongo-port={free_port()}"]
    ports.append(f"--keycloak-port={free_port()}")
    before = run_cli(*ports, "env", env=env, timeout=60)
    after = run_cli("env", *ports, env=env, timeout=60)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout
    assert "KEYCLOAK_URL" not in after.stdout  # none runs: not handed out


def test_parse_addresses() -> None:
    assert cli.parse_bootstrap_servers("a:1, PLAINTEXT://b:2") == [("a", 1), ("b", 2)]
    assert cli.parse_mongodb_url("mongodb://u:p@h1:1,h2/db?x=y") == [("h1", 1), ("h2", 27017)]
    assert cli.parse_mongodb_url("mongodb://[::1]:5/") == [("::1", 5)]
    assert cli.parse_mongodb_url("mongodb+srv://cluster.example/db") is None


def test_bson_round_trip_of_what_the_probe_reads() -> None:
    doc = probes._bson_encode({"ok": 1, "s": "x", "b": True})
    assert probes._bson_decode_top(doc) == {"ok": 1, "s": "x", "b": True}


# --------------------------------------------------------------------------- real servers


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[Any]:
    server = servers.KafkaServer(
        port=free_port(), controller_port=free_port(), data_dir=tmp_path / "kafka"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.infra
@pytest.mark.timeout(900)
def test_second_kafka_starts_answers_restarts_and_stops(kafka: Any, tmp_path: Path) -> None:
    server = kafka
    assert not server.is_running() and server.pid is None

    server.start()
    pid = server.pid
    assert pid is not None and server.is_running()
    meta = probes.kafka_metadata("127.0.0.1", server.port)
    assert meta["brokers"] == [(1, "127.0.0.1", server.port)]
    cluster_id = meta["cluster_id"]

    # The same instance again does not start a second process.
    server.start()
    assert server.pid == pid
    # Another instance on a busy port refuses to start instead of probing the first one.
    other = servers.KafkaServer(
        port=server.port, controller_port=free_port(), data_dir=tmp_path / "other"
    )
    with pytest.raises(base.DevstackError, match="already in use"):
        other.start(timeout=5)

    assert server.stop() is True
    assert process_gone(pid)
    assert not server.is_running() and server.pid is None
    assert not probes.port_open("127.0.0.1", server.port)
    assert server.stop() is False

    # Restart: storage is formatted on the first start only, so the cluster id stays.
    server.start()
    assert server.pid != pid
    assert probes.kafka_metadata("127.0.0.1", server.port)["cluster_id"] == cluster_id
    pid = server.pid
    server.stop()
    assert process_gone(pid)


@pytest.mark.infra
@pytest.mark.timeout(900)
def test_mongo_server_starts_answers_ping_and_stops(tmp_path: Path) -> None:
    server = servers.MongoServer(port=free_port(), data_dir=tmp_path / "mongo")
    try:
        server.start()
        pid = server.pid
        assert pid is not None and server.is_running()
        assert probes.mongo_ping("127.0.0.1", server.port)["ok"] == 1
    finally:
        server.stop()
    assert process_gone(pid)
    assert not server.is_running()
    assert not probes.port_open("127.0.0.1", server.port)


@pytest.mark.infra
@pytest.mark.timeout(900)
def test_cli_starts_reuses_and_stops_only_what_it_started(tmp_path: Path) -> None:
    # A Kafka that the CLI did not start: `start` must use it and `stop` must leave it alone.
    outside = servers.KafkaServer(
        port=free_port(), controller_port=free_port(), data_dir=tmp_path / "outside-kafka"
    ).start()
    mongo_port = free_port()
    ports = ["--kafka-port", str(outside.port), "--mongo-port", str(mongo_port)]
    ports += ["--keycloak-port", str(free_port())]  # not the one `make test` may run
    env = clean_env()
    started_pid = None
    try:
        result = run_cli(*ports, "start", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "not started by devstack" in result.stdout
        assert "started MongoDB" in result.stdout

        again = run_cli(*ports, "start", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "mongo: already running" in again.stdout

        status = run_cli(*ports, "status", env=env)
        assert status.returncode == 0, status.stdout
        started_pid = servers.MongoServer(mongo_port, backend=servers.default_mongo_backend()).pid
        assert started_pid is not None

        printed = run_cli(*ports, "env", env=env).stdout.split()
        assert printed.count("export") == 2  # so that `eval` reaches child processes
        assert f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{outside.port}" in printed
        assert f"MONGODB_URL=mongodb://127.0.0.1:{mongo_port}" in printed

        stopped = run_cli(*ports, "stop", env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert process_gone(started_pid)
        assert outside.is_running() and outside.answers()

        down = run_cli(*ports, "status", env=env)
        assert down.returncode == 1 and "NOT answering" in down.stdout
    finally:
        run_cli(*ports, "stop", env=env, timeout=120)
        outside.stop()
        leftover = servers.MongoServer(mongo_port, backend=servers.default_mongo_backend())
        leftover.stop()
        leftover.erase()


@pytest.mark.infra
@pytest.mark.timeout(400)
def test_a_data_root_keeps_a_servers_data_apart(tmp_path: Path) -> None:
    """`make run` keeps the demo's data apart from the tests' (`--data-root`): a server running
    on the tests' data is named, not reused, and a `stop` for the demo's data leaves it
    running; on the same ports, the demo's servers see nothing the tests wrote."""
    kafka_port, mongo_port = free_port(), free_port()
    ports = [
        f"--kafka-port={kafka_port}",
        f"--kafka-controller-port={free_port()}",
        f"--mongo-port={mongo_port}",
    ]
    mongo_url = f"mongodb://127.0.0.1:{mongo_port}"
    env = clean_env()
    tests, demo = tmp_path / "tests", tmp_path / "demo"
    try:
        started = run_cli(*ports, "start", f"--data-root={tests}", env=env, timeout=240)
        assert started.returncode == 0, started.stdout + started.stderr
        tests_cluster = probes.kafka_metadata("127.0.0.1", kafka_port)["cluster_id"]
        with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=10_000) as client:
            client.left_by_the_tests.events.insert_one({"_id": "an event"})

        refused = run_cli(*ports, "start", f"--data-root={demo}", env=env, timeout=60)
        assert refused.returncode == 1
        assert f"runs on the data in {tests}" in refused.stderr, refused.stderr
        kept = run_cli(*ports, "stop", f"--data-root={demo}", env=env, timeout=60)
        assert kept.returncode == 0, kept.stdout + kept.stderr
        assert "left Kafka" in kept.stdout and "left MongoDB" in kept.stdout, kept.stdout
        assert probes.kafka_metadata("127.0.0.1", kafka_port)["cluster_id"] == tests_cluster
        assert probes.mongo_ping("127.0.0.1", mongo_port)["ok"] == 1

        stopped = run_cli(*ports, "stop", env=env, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        demo_started = run_cli(*ports, "start", f"--data-root={demo}", env=env, timeout=240)
        assert demo_started.returncode == 0, demo_started.stdout + demo_started.stderr
        assert (demo / f"kafka-{kafka_port}" / "server.log").exists()
        assert (demo / f"mongo-{mongo_port}" / "server.log").exists()
        # Another Kafka storage (its own cluster id, so none of the tests' topics) and
        # another database.
        assert probes.kafka_metadata("127.0.0.1", kafka_port)["cluster_id"] != tests_cluster
        with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=10_000) as client:
            assert "left_by_the_tests" not in client.list_database_names()
        again = run_cli(*ports, "start", f"--data-root={demo}", env=env, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "mongo: already running" in again.stdout
    finally:
        run_cli(*ports, "stop", env=env, timeout=120)
        for root in (tests, demo):
            backend = servers.default_mongo_backend()
            servers.MongoServer(mongo_port, root / f"mongo-{mongo_port}", backend=backend).erase()


@pytest.mark.infra
@pytest.mark.timeout(300)
def test_ferretdb_on_postgresql_keeps_documents_across_a_restart(tmp_path: Path) -> None:
    """pytest's tmp_path is closed to other users: started by root, PostgreSQL runs as the
    postgres user, and keeps its cluster in the temp folder, where the same data folder
    finds it again."""
    ports = {"port": free_port(), "postgres_port": free_port()}
    server = servers.MongoServer(data_dir=tmp_path / "mongo", backend="postgresql", **ports)
    postgres = server.postgres
    assert postgres is not None and server.name == "MongoDB (FerretDB on PostgreSQL)"
    if os.geteuid() == 0:
        assert not postgres.cluster_dir.is_relative_to(tmp_path)
    again = servers.MongoServer(data_dir=tmp_path / "mongo", backend="postgresql", **ports)
    assert again.postgres is not None and again.postgres.cluster_dir == postgres.cluster_dir
    try:
        server.start()
        ready = probes.postgres_ready("127.0.0.1", postgres.port, postgres.user, postgres.database)
        assert "server_version" in ready
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=10_000) as client:
            client.devstack.docs.insert_one({"_id": "kept", "n": 1})
        postgres_pid, ferretdb_pid = postgres.pid, server.pid
        assert postgres_pid is not None and ferretdb_pid is not None

        assert server.stop() is True  # FerretDB, then its PostgreSQL
        assert process_gone(ferretdb_pid) and process_gone(postgres_pid)
        assert not probes.port_open("127.0.0.1", postgres.port)

        server.start()  # the same cluster: no initdb, the document is still there
        with pymongo.MongoClient(server.url, serverSelectionTimeoutMS=10_000) as client:
            assert client.devstack.docs.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
    finally:
        server.stop()
        server.erase()
    assert not postgres.is_running() and not postgres.cluster_dir.exists()


@pytest.mark.infra
@pytest.mark.timeout(300)
def test_second_start_does_no_download_or_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # After the tests above, the jars and the binary are cached: no Maven, no Go needed.
    toolchain.ensure_kafka_libs()
    toolchain.ensure_ferretdb_binary()
    monkeypatch.setenv("PATH", "/nonexistent")
    began = time.monotonic()
    assert toolchain.ensure_kafka_libs().is_dir()
    assert toolchain.ensure_ferretdb_binary().is_file()
    assert time.monotonic() - began < 5
