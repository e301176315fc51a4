"""The programs the servers need: Java, Maven, Go, PostgreSQL and Prometheus checked on this
machine; Kafka's jars and Keycloak's distribution fetched from Maven Central, FerretDB and
Jaeger built with Go. Each is fetched or built once into the cache folder and reused: a later start
does no network work."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .base import DEPLOY_LOCAL, DevstackError, ToolMissing, cache_dir, file_lock, log_tail

# Pinned here and in kafka/pom.xml (<kafka.version>); tests check that the two agree.
# Why this version and not a newer 4.x: see README.md beside this file.
KAFKA_VERSION = "4.4.0"
FERRETDB_VERSION = "v1.24.2"  # pinned in ferretdb/go.mod
JAVA_MIN_MAJOR = 17
GO_MIN = (1, 24)  # ferretdb/go.mod says go 1.24 (FerretDB v1.24.2 needs it)

KAFKA_POM = DEPLOY_LOCAL / "kafka" / "pom.xml"
FERRETDB_SRC = DEPLOY_LOCAL / "ferretdb"
JAEGER_VERSION = "v1.76.0"  # pinned in jaeger/go.mod (its `jaeger` binary is Jaeger v2)
JAEGER_SRC = DEPLOY_LOCAL / "jaeger"
JAEGER_PACKAGE = "github.com/jaegertracing/jaeger/cmd/jaeger"
KEYCLOAK_VERSION = "26.4.7"
POSTGRESQL_LIB = Path("/usr/lib/postgresql")  # Debian's packages: <major>/bin/postgres


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


def require_postgresql() -> Path:
    """The folder of PostgreSQL's ``initdb`` and ``postgres`` (Debian keeps them out of PATH,
    in ``/usr/lib/postgresql/<major>/bin``; the newest major wins), or ToolMissing."""
    folders = sorted(
        POSTGRESQL_LIB.glob("*/bin"),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        folders.append(Path(on_path).parent)
    for folder in folders:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "postgres")):
            return folder
    raise ToolMissing(
        "PostgreSQL is needed for FerretDB's PostgreSQL backend: apt-get install postgresql"
        " (or start with --mongo-backend=sqlite)"
    )


def require_prometheus() -> str:
    """Path of Debian's ``prometheus`` (the package that also brings promtool), or
    ToolMissing."""
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise ToolMissing(
            "Prometheus is needed to scrape the services: apt-get install prometheus"
            " (`make run RUN_ARGS=--observability` installs it)"
        )
    return prometheus


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
        raise DevstackError(f"{what} failed (exit {proc.returncode}), see {log}:\n{log_tail(log)}")


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
    with file_lock(f"kafka-{version}"):
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
    with file_lock(kind):
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
    with file_lock(f"keycloak-{version}"):
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
