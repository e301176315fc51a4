"""docker-compose.yml and services/Dockerfile against the runtime contract (docs/runtime.md).

Offline: the files are parsed, not run; the one process started is the image's entrypoint
code, against a stand-in package, to prove it behaves like `python -m`.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from chassis.settings import LOCAL_JWT_SECRET
from contracts.erasure import LOCAL_PSEUDONYM_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
# The development settings a development run names explicitly (`make up`).
DEV_ENV_FILE = REPO_ROOT / "deploy" / "local" / "compose.env"
# What compose must refuse to start without (each service's secrets).
SECRETS = {
    "CHORUS_JWT_SECRET",
    "CHORUS_PSEUDONYM_KEY",
    "SHARE_LINK_SECRET",
    "SHARE_WEBHOOK_SECRET",
    "SHARE_TOKEN_KEY",
    "WEB_TOKEN_KEY",
}
DOCKERFILE = REPO_ROOT / "services" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
WEB_PACKAGE = REPO_ROOT / "services" / "web"
# The stage of services/Dockerfile that runs `npm ci` for the web service.
ASSETS_STAGE = "assets"

# The entrypoint that stands for `python -m $SERVICE_MODULE`: an exec-form ENTRYPOINT does
# no variable expansion, so the module name comes from the environment through runpy.
RUNPY_LAUNCHER = re.compile(
    r"import os, runpy; runpy\.run_module\(os\.environ\['(?P<var>[A-Z_]+)'\], "
    r"run_name='__main__', alter_sys=True\)"
)


# --- Dockerfile ------------------------------------------------------------------------


@dataclass
class Stage:
    name: str | None
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped by Docker
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def parse_dockerfile(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, each with its (INSTRUCTION, arguments) list."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        word, _, args = line.partition(" ")
        word, args = word.upper(), args.strip()
        if word == "FROM":
            parts = args.split()
            parts = [p for p in parts if not p.startswith("--")]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(name=name, base=parts[0]))
        elif not stages:
            if word == "ARG":
                key, _, default = args.partition("=")
                global_args[key] = default
        else:
            stages[-1].instructions.append((word, args))
    return global_args, stages


def _expand(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        return variables.get(match.group(1) or match.group(2), "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, value)


def image_config(build_args: dict[str, str]) -> dict[str, object]:
    """What the final stage of services/Dockerfile sets, with `build_args` applied."""
    global_args, stages = parse_dockerfile()
    final = stages[-1]
    variables = {**global_args, **build_args}
    env: dict[str, str] = {}
    for word, args in final.instructions:
        if word == "ARG":
            key, _, default = args.partition("=")
            variables[key] = build_args.get(key, variables.get(key, default))
        elif word == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = _expand(value, {**variables, **env})
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    return {
        "base": _expand(final.base, variables),
        "user": final.last("USER"),
        "env": env,
        "entrypoint": json.loads(entrypoint) if entrypoint else None,
        "cmd": json.loads(cmd) if cmd else None,
    }


def as_python_m(argv: list[str], env: dict[str, str]) -> list[str]:
    """`argv` as the equivalent `python -m <module> ...` command line."""
    if argv[:2] == ["python", "-m"]:
        return argv
    if argv[:2] == ["python", "-c"]:
        launcher = RUNPY_LAUNCHER.fullmatch(argv[2])
        assert launcher, f"unrecognised python -c entrypoint: {argv[2]!r}"
        return ["python", "-m", env[launcher.group("var")], *argv[3:]]
    raise AssertionError(f"entrypoint is not a python -m equivalent: {argv}")


# --- docker-compose.yml ----------------------------------------------------------------


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])"
    r"(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: object, env: dict[str, str], missing: dict[str, str]) -> object:
    """`value` with compose's variable interpolation applied (`$$`, `$VAR`, `${VAR}`,
    `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`).
    A required variable without a value is recorded in `missing` (name -> error), where
    `docker compose` would refuse to start."""
    if isinstance(value, dict):
        return {key: interpolate(item, env, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, missing) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op") or "", match.group("arg") or ""
        present = name in env
        unset = not env.get(name) if op.startswith(":") else not present
        if op.endswith("-"):
            return arg if unset else env[name]
        if op.endswith("?"):
            if unset:
                missing[name] = arg
                return ""
            return env[name]
        if op.endswith("+"):
            return "" if unset else arg
        return env.get(name, "")

    return _VARIABLE.sub(replace, value)


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a compose env file."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def render_compose(env: dict[str, str]) -> tuple[dict[str, dict], dict[str, str]]:
    """The services of docker-compose.yml with `env` interpolated, and the required
    variables `env` left without a value."""
    missing: dict[str, str] = {}
    services = interpolate(yaml.safe_load(COMPOSE_FILE.read_text())["services"], env, missing)
    assert isinstance(services, dict)
    return services, missing


@pytest.fixture(scope="module")
def compose() -> dict[str, dict]:
    """docker-compose.yml as a development run sees it (`make up`)."""
    services, missing = render_compose(env_file(DEV_ENV_FILE))
    assert not missing, f"{DEV_ENV_FILE.name} leaves required variables unset: {missing}"
    return services


def _environment(definition: dict) -> dict[str, str]:
    environment = definition.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(
            item.split("=", 1) if "=" in item else (item, "") for item in environment
        )
    return {str(key): str(value) for key, value in environment.items()}


def _published_ports(definition: dict) -> set[tuple[int, int]]:
    """(published host port, container port) pairs, short or long syntax."""
    pairs: set[tuple[int, int]] = set()
    for port in definition.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
            continue
        spec = str(port).split("/")[0]
        parts = spec.split(":")
        assert len(parts) in (2, 3), f"port {port!r} is not published on a fixed host port"
        pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def test_every_published_port_binds_loopback_only(compose) -> None:
    """A published port without an address is published on every interface of the host."""
    for name, definition in compose.items():
        for port in definition.get("ports") or []:
            if isinstance(port, dict):
                address = port.get("host_ip")
            else:
                parts = str(port).split("/")[0].rsplit(":", 2)
                address = parts[0] if len(parts) == 3 else None
            assert address == "127.0.0.1", f"{name}: port {port!r} is not bound to 127.0.0.1"


def test_compose_refuses_to_start_without_secrets() -> None:
    _, missing = render_compose({})
    assert SECRETS <= missing.keys(), f"compose starts without {sorted(SECRETS - missing.keys())}"
    for name in SECRETS:
        assert "compose.env" in missing[name], f"{name}: the error names the development path"


def test_the_development_secrets_go_only_with_local_mode(compose) -> None:
    from chassis.settings import local_fernet_key
    from share.config import LOCAL_SECRET
    from web.config import LOCAL_TOKEN_SECRET

    development = {
        LOCAL_JWT_SECRET,
        LOCAL_PSEUDONYM_KEY,
        LOCAL_SECRET,
        local_fernet_key(LOCAL_SECRET),
        local_fernet_key(LOCAL_TOKEN_SECRET),
    }
    # Not a default anywhere in the file: only the development env file names them.
    text = COMPOSE_FILE.read_text()
    assert not [secret for secret in development if secret in text]
    given = {name: f"{name.lower()}-of-a-real-deployment-0123456789" for name in SECRETS}
    services, missing = render_compose(given)
    assert not missing
    for name, definition in services.items():
        environment = _environment(definition)
        assert not development & set(environment.values()), name
        if "CHORUS_JWT_SECRET" in environment:
            # Real secrets, and CHORUS_ENV left alone: the processes check them as production.
            assert environment["CHORUS_ENV"] == "production", name
    # The development run says so: its secrets come with CHORUS_ENV=local.
    assert env_file(DEV_ENV_FILE)["CHORUS_ENV"] == "local"
    for name, definition in compose.items():
        environment = _environment(definition)
        if development & set(environment.values()):
            assert environment["CHORUS_ENV"] == "local", name


def test_every_image_names_a_version(pinned) -> None:
    for env in ({}, {"CHORUS_VERSION": "1.2.3"}):
        services, _ = render_compose(env)
        pinned({name: definition["image"] for name, definition in services.items()})
    services, _ = render_compose({"CHORUS_VERSION": "1.2.3"})
    assert services["content-api"]["image"].endswith(":1.2.3")


def test_compose_has_exactly_the_documented_processes(compose, runtime) -> None:
    expected = {f"{name}-{role}" for name in runtime for role in ("api", "worker")}
    assert expected <= compose.keys(), f"missing: {sorted(expected - compose.keys())}"
    extra = compose.keys() - expected - {"kafka", "mongo"}
    assert not extra, f"undocumented services in docker-compose.yml: {sorted(extra)}"


def test_command_is_python_m_service_role(compose, runtime, service, role) -> None:
    definition = compose[f"{service}-{role}"]
    build = definition["build"]
    assert Path(build["context"]) == Path("."), "build context must be the repository root"
    assert build["dockerfile"] == "services/Dockerfile"
    build_args = {str(k): str(v) for k, v in (build.get("args") or {}).items()}
    assert build_args.get("SERVICE") == runtime[service].package

    config = image_config(build_args)
    assert "entrypoint" not in definition, "compose must not override the image entrypoint"
    assert definition["command"] == [role]
    argv = as_python_m(config["entrypoint"] + definition["command"], config["env"])
    assert argv == shlex.split(runtime[service].commands[role])


def test_image_default_command_is_api(runtime) -> None:
    for contract in runtime.values():
        config = image_config({"SERVICE": contract.package})
        argv = as_python_m(config["entrypoint"] + config["cmd"], config["env"])
        assert argv == shlex.split(contract.commands["api"])


def test_entrypoint_behaves_like_python_m(tmp_path) -> None:
    """Run the image's entrypoint code against a stand-in package and compare with -m."""
    package = tmp_path / "chorus_probe_service"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import json, sys\n"
        "print(json.dumps({'name': __name__, 'spec': __spec__.name,\n"
        "                  'argv0': sys.argv[0], 'args': sys.argv[1:]}))\n"
    )
    config = image_config({"SERVICE": "chorus_probe_service"})
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", **config["env"]}
    env.pop("VIRTUAL_ENV", None)

    def run(argv: list[str]) -> dict:
        assert argv[0] == "python"
        result = subprocess.run(
            [sys.executable, *argv[1:]], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    via_entrypoint = run(config["entrypoint"] + ["worker"])
    via_dash_m = run(["python", "-m", "chorus_probe_service", "worker"])
    assert via_entrypoint == via_dash_m
    assert via_entrypoint["name"] == "__main__" and via_entrypoint["args"] == ["worker"]


def test_published_ports_match_runtime_doc(compose, runtime, service, role) -> None:
    definition = compose[f"{service}-{role}"]
    port = runtime[service].ports[role]
    assert _published_ports(definition) == {(p, p) for p in runtime[service].all_ports(role)}
    assert _environment(definition).get(f"{service.upper()}_{role.upper()}_PORT") == str(port)
    if role == "api":
        ops = _environment(definition).get(f"{service.upper()}_API_OPS_PORT")
        assert ops == str(runtime[service].ops_port(role)) != str(port)


def test_environment_reaches_kafka_and_mongo(compose, service, role) -> None:
    environment = _environment(compose[f"{service}-{role}"])
    assert environment.get("KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092"
    assert environment.get("MONGODB_URL") == "mongodb://mongo:27017"
    assert environment.get("CHORUS_ENV") == "local"


def test_every_process_gets_the_one_pseudonym_key(compose, service, role) -> None:
    """Erased people are remembered under `person_key`: a process keyed otherwise would not
    recognise what the others stored."""
    environment = _environment(compose[f"{service}-{role}"])
    assert environment.get("CHORUS_PSEUDONYM_KEY") == LOCAL_PSEUDONYM_KEY
    key = "a-pseudonym-key-of-a-real-deployment-0123456789"
    services, _ = render_compose({"CHORUS_PSEUDONYM_KEY": key})
    assert _environment(services[f"{service}-{role}"])["CHORUS_PSEUDONYM_KEY"] == key


def test_environment_names_are_read_by_the_code(
    compose, service, role, env_contract: Callable[[str], frozenset[str]]
) -> None:
    unknown = set(_environment(compose[f"{service}-{role}"])) - env_contract(service)
    assert not unknown, f"{service}-{role} sets variables no setting reads: {sorted(unknown)}"


def test_waits_for_healthy_infrastructure(compose, service, role) -> None:
    depends_on = compose[f"{service}-{role}"]["depends_on"]
    assert isinstance(depends_on, dict), "depends_on needs the long form to carry conditions"
    for dependency in ("kafka", "mongo"):
        assert depends_on[dependency]["condition"] == "service_healthy"


def test_healthcheck_probes_readyz_with_python(compose, runtime, service, role) -> None:
    test = compose[f"{service}-{role}"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"], "exec form with python: the slim image has no curl"
    url = f"http://127.0.0.1:{runtime[service].ops_port(role)}/readyz"
    assert url in " ".join(test)


def test_kafka_is_a_single_kraft_node_advertised_as_kafka_9092(compose) -> None:
    kafka = compose["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.")
    env = _environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    listeners = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    internal = [name for name, address in listeners.items() if address == "kafka:9092"]
    assert internal, "containers bootstrap from kafka:9092: it must be an advertised listener"
    protocol_map = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in protocol_map and all(name in protocol_map for name in listeners)
    assert controller in env["KAFKA_LISTENERS"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node_id}@")
    for variable in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[variable] == "1", variable
    assert kafka["healthcheck"]["test"]
    assert any(str(volume).endswith(":" + env["KAFKA_LOG_DIRS"]) for volume in kafka["volumes"])


def test_mongo_is_mongo_8_with_a_ping_healthcheck_and_a_volume(compose) -> None:
    mongo = compose["mongo"]
    assert mongo["image"] == "mongo:8"
    assert "mongosh" in mongo["healthcheck"]["test"] and "ping" in " ".join(
        mongo["healthcheck"]["test"]
    )
    assert any(str(volume).endswith(":/data/db") for volume in mongo["volumes"])


def test_dockerfile_builds_one_service_with_uv_and_runs_unprivileged() -> None:
    global_args, stages = parse_dockerfile()
    python_stages = [stage for stage in stages if stage.name != ASSETS_STAGE]
    assert all(_expand(stage.base, global_args) == "python:3.11-slim" for stage in python_stages)
    build_steps = " ".join(args for stage in stages for args in stage.all("RUN"))
    assert re.search(r"pip install [^;&|]*\buv\b", build_steps)
    assert re.search(
        r'uv sync --frozen --no-dev --no-editable --package "\$\{SERVICE\}"', build_steps
    )
    config = image_config({"SERVICE": "content"})
    assert config["user"] == "10001:10001"
    assert "10001" in " ".join(stages[-1].all("RUN")), "the final stage creates uid 10001"
    assert config["env"]["SERVICE_MODULE"] == "content"
    # exec form only: no shell between the container runtime and the Python process
    assert isinstance(config["entrypoint"], list) and config["cmd"] == ["api"]


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    # node_modules too: the image installs the web service's npm packages itself.
    for required in (".git", ".cache", "**/.venv", "**/__pycache__", "**/node_modules"):
        assert required in patterns, required
    for kept in ("pyproject.toml", "uv.lock", "services", "contracts", "chassis"):
        assert kept not in patterns, f"{kept} is needed in the build context"


def test_every_setting_the_code_reads_is_documented(
    service: str,
    env_contract: Callable[[str], frozenset[str]],
    documented_env: Callable[[str], frozenset[str]],
) -> None:
    undocumented = env_contract(service) - documented_env(service)
    assert not undocumented, f"add to docs/runtime.md: {sorted(undocumented)}"


# --- the web service -------------------------------------------------------------------


def test_web_calls_the_service_apis_by_their_compose_names(compose, runtime, backends) -> None:
    environment = _environment(compose["web-api"])
    for variable, service in backends.items():
        url = f"http://{service}-api:{runtime[service].ports['api']}"
        assert environment.get(variable) == url, variable
        assert f"{service}-api" in compose, f"{variable} names a service compose does not run"


def test_web_is_published_on_8080_and_9080(compose, runtime) -> None:
    assert runtime["web"].ports == {"api": 8080, "worker": 9080}
    # And its api's operations port, 7080 (on 127.0.0.1, as every port).
    assert _published_ports(compose["web-api"]) == {(8080, 8080), (7080, 7080)}
    assert _published_ports(compose["web-worker"]) == {(9080, 9080)}


def test_web_image_carries_its_npm_assets(env_contract: Callable[[str], frozenset[str]]) -> None:
    """`npm ci` from package.json and package-lock.json alone, into WEB_ASSETS_DIR."""
    global_args, stages = parse_dockerfile()
    [assets] = [stage for stage in stages if stage.name == ASSETS_STAGE]
    assert _expand(assets.base, global_args).startswith("node:22"), assets.base
    copied = [args.split() for args in assets.all("COPY")]
    assert copied == [["services/web/package.json", "services/web/package-lock.json", "./"]], (
        "only the manifests, so source changes keep the npm layer cached"
    )
    assert any(re.search(r"\bnpm ci\b", args) for args in assets.all("RUN"))

    config = image_config({"SERVICE": "web"})
    assets_dir = config["env"].get("WEB_ASSETS_DIR")
    assert assets_dir and "WEB_ASSETS_DIR" in env_contract("web")
    copies = [
        args.split()
        for args in stages[-1].all("COPY")
        if args.startswith(f"--from={ASSETS_STAGE} ")
    ]
    assert [copy[-1] for copy in copies] == [assets_dir], "node_modules lands in WEB_ASSETS_DIR"
    workdir = assets.last("WORKDIR")
    assert copies[0][1] == f"{workdir}/node_modules"


def test_web_npm_lockfile_matches_package_json() -> None:
    """`npm ci` refuses a lockfile out of step with package.json: fail here, not in a build."""
    package = json.loads((WEB_PACKAGE / "package.json").read_text())
    lock = json.loads((WEB_PACKAGE / "package-lock.json").read_text())
    wanted = package.get("dependencies") or {}
    assert "htmx.org" in wanted, "the web service serves htmx.org/dist/htmx.min.js"
    assert lock["packages"][""].get("dependencies") == wanted
    for name, version in wanted.items():
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version, f"{name}: pin an exact version"
        assert locked.get("integrity", "").startswith("sha512-"), name
