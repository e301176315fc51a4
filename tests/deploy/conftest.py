"""Shared helpers of the deployment tests: the runtime contract of docs/runtime.md.

Everything here reads files of the repository; nothing needs the network or Docker.
"""

from __future__ import annotations

import importlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from chassis.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DOC = REPO_ROOT / "docs" / "runtime.md"

ROLES = ("api", "worker")
# The container port name of every process's operations port (docs/runtime.md).
OPS = "ops"
# The browser's back end: its api calls the other services' apis (WEB_<SVC>_URL).
WEB = "web"


@dataclass(frozen=True)
class ServiceContract:
    """One row of the process table in docs/runtime.md."""

    name: str
    package: str
    commands: dict[str, str]  # role -> "python -m <package> <role>"
    ports: dict[str, int]  # role -> port
    database: str
    # role -> {port name: port}: listeners beside the main one (docs/runtime.md).
    further_ports: dict[str, dict[str, int]] = field(default_factory=dict)

    def all_ports(self, role: str) -> list[int]:
        """The main port first, then the others in the order the doc lists them."""
        return [self.ports[role], *self.further_ports.get(role, {}).values()]

    def ops_port(self, role: str) -> int:
        """Where the process serves /healthz, /readyz and /metrics: the further port named
        `ops`, or, for a process without one (a worker), its main port."""
        return self.further_ports.get(role, {}).get(OPS, self.ports[role])


def _table_rows(text: str) -> list[list[list[str]]]:
    """Markdown tables of `text`: each a list of rows, each a list of stripped cells."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [cell.strip() for cell in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
                continue  # the header separator
            current.append(cells)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _unquote(cell: str) -> str:
    return cell.strip().strip("`").strip()


@cache
def runtime_services() -> dict[str, ServiceContract]:
    """The service table of docs/runtime.md, keyed by service name."""
    for table in _table_rows(RUNTIME_DOC.read_text()):
        header = [cell.lower() for cell in table[0]]
        if "service" in header and "api port" in header and "worker command" in header:
            column = {name: index for index, name in enumerate(header)}
            worker_port = next(name for name in header if name.startswith("worker port"))
            services: dict[str, ServiceContract] = {}
            for row in table[1:]:
                name = _unquote(row[column["service"]])
                services[name] = ServiceContract(
                    name=name,
                    package=_unquote(row[column["package"]]),
                    commands={
                        "api": _unquote(row[column["api command"]]),
                        "worker": _unquote(row[column["worker command"]]),
                    },
                    ports={
                        "api": int(_unquote(row[column["api port"]])),
                        "worker": int(_unquote(row[column[worker_port]])),
                    },
                    database=_unquote(row[column["database"]]),
                )
            assert services, f"empty service table in {RUNTIME_DOC}"
            for name, role, port_name, port in _further_ports():
                services[name].further_ports.setdefault(role, {})[port_name] = port
            return services
    raise AssertionError(f"no service table (service | ... | api port | ...) in {RUNTIME_DOC}")


def _further_ports() -> list[tuple[str, str, str, int]]:
    """(service, role, port name, port) of the table of further listeners, if any."""
    for table in _table_rows(RUNTIME_DOC.read_text()):
        header = [cell.lower() for cell in table[0]]
        if "port name" in header:
            column = {name: index for index, name in enumerate(header)}
            return [
                (
                    _unquote(row[column["service"]]),
                    _unquote(row[column["role"]]),
                    _unquote(row[column["port name"]]),
                    int(_unquote(row[column["port"]])),
                )
                for row in table[1:]
            ]
    return []


def known_env_vars(service: str) -> frozenset[str]:
    """Names of the environment variables the code of `service` reads: the fields of its
    `chassis.settings.ServiceSettings` subclass (in `<service>.config`), with their prefix."""
    module = importlib.import_module(f"{service}.config")
    [settings_class] = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value is not ServiceSettings
    ]
    return frozenset(settings_class.env_var_names())


def documented_env_vars(service: str) -> frozenset[str]:
    """Every backquoted upper-case name in the first column of the tables of
    docs/runtime.md, with `<SVC>` replaced by the service's upper-cased name."""
    names: set[str] = set()
    for table in _table_rows(RUNTIME_DOC.read_text()):
        for row in table[1:]:
            match = re.fullmatch(r"`([A-Z0-9_<>]+)`", row[0])
            if match and (
                "<SVC>" in match.group(1) or not match.group(1).startswith(_other_prefixes(service))
            ):
                names.add(match.group(1).replace("<SVC>", service.upper()))
    assert names, f"no environment variable tables in {RUNTIME_DOC}"
    return frozenset(names)


def _other_prefixes(service: str) -> tuple[str, ...]:
    # A row like `SHARE_PUBLIC_BASE_URL` belongs to share only.
    return tuple(f"{other.upper()}_" for other in runtime_services() if other != service)


def web_backends() -> dict[str, str]:
    """WEB_<SVC>_URL -> <svc>: the settings naming the apis the web service calls, from
    the names its settings class reads, so a backend added in code is checked too."""
    backends = {}
    for name in known_env_vars(WEB):
        match = re.fullmatch(r"WEB_([A-Z0-9]+)_URL", name)
        if match and match.group(1).lower() in runtime_services():
            backends[name] = match.group(1).lower()
    assert backends, "the web service reads no WEB_<SVC>_URL setting"
    return backends


@pytest.fixture(scope="session")
def runtime() -> dict[str, ServiceContract]:
    return runtime_services()


@pytest.fixture(scope="session")
def env_contract() -> Callable[[str], frozenset[str]]:
    """`known_env_vars` as a fixture, so test modules need not import this conftest."""
    return known_env_vars


@pytest.fixture(scope="session")
def documented_env() -> Callable[[str], frozenset[str]]:
    """`documented_env_vars` as a fixture."""
    return documented_env_vars


@pytest.fixture(scope="session")
def backends() -> dict[str, str]:
    """`web_backends()` as a fixture."""
    return web_backends()


def image_tag(image: str) -> str | None:
    """The tag of an image reference (`name[:tag][@digest]`), None when it has none."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def assert_pinned(images: dict[str, str]) -> None:
    """Every image (where -> reference) names an explicit version tag: not `latest`, not
    missing (which means `latest`), so a deployment runs what was tested."""
    floating = {
        where: image for where, image in images.items() if image_tag(image) in (None, "latest")
    }
    assert images, "no images found"
    assert not floating, f"images without a version tag: {floating}"


@pytest.fixture(scope="session")
def pinned() -> Callable[[dict[str, str]], None]:
    """`assert_pinned` as a fixture."""
    return assert_pinned


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool, for the rule and dashboard tests (`make promtool` installs it)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not on PATH: `make promtool` installs Debian's prometheus package")
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `service` over the documented services and `role` over api/worker."""
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", sorted(runtime_services()))
    if "role" in metafunc.fixturenames:
        metafunc.parametrize("role", ROLES)
