#!/usr/bin/env python3
"""Pinned Kubernetes tooling for deploy/k8s, installed into the repository cache.

    python deploy/k8s/tools.py kustomize          # print the kustomize path (installs if missing)
    python deploy/k8s/tools.py build [NAME ...]   # render overlays / base+component combinations
    python deploy/k8s/tools.py combinations       # list what `build` renders

kustomize is built from source with the local Go toolchain
(`go install sigs.k8s.io/kustomize/kustomize/v5@KUSTOMIZE_VERSION`) into <cache>/bin, with
Go's module and build caches under <cache>/go, where <cache> is $CHORUS_CACHE or
<repo>/.cache (as for deploy/local/devstack.py): nothing lands outside the git-ignored
cache, and once the binary is there no run needs the network or a compiler.
Standard library only: importable by the tests and callable from a Makefile
(`KUSTOMIZE := $(shell python3 deploy/k8s/tools.py kustomize)`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

# v5.8.2 is the newest release whose go.mod accepts Go 1.26 (v5.8.3 requires go >= 1.27).
KUSTOMIZE_VERSION = "v5.8.2"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"

K8S_DIR = Path(__file__).resolve().parent
REPO_ROOT = K8S_DIR.parents[1]
CACHE_DIR = Path(os.environ.get("CHORUS_CACHE") or REPO_ROOT / ".cache").expanduser()
BIN_DIR = CACHE_DIR / "bin"
GO_DIR = CACHE_DIR / "go"

BASE = K8S_DIR / "base"
COMPONENTS_DIR = K8S_DIR / "components"
OVERLAYS_DIR = K8S_DIR / "overlays"


class ToolError(RuntimeError):
    """A tool could not be installed or run."""


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOBIN=str(BIN_DIR),
        GOPATH=str(GO_DIR),
        GOMODCACHE=str(GO_DIR / "mod"),
        GOCACHE=str(GO_DIR / "build"),
        # Never fetch another toolchain: fail clearly if the pinned version needs one.
        GOTOOLCHAIN="local",
        # Writable module cache, so `rm -rf .cache` works.
        GOFLAGS=(env.get("GOFLAGS", "") + " -modcacherw").strip(),
        CGO_ENABLED="0",
    )
    return env


def _installed_version(binary: Path) -> str | None:
    if not binary.is_file():
        return None
    try:
        out = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    with open(BIN_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_kustomize() -> Path:
    """Path of the pinned kustomize; `go install`s it into the cache only when missing.

    The environment variable KUSTOMIZE may name another binary; it must report the
    pinned version too, so every machine renders with the same kustomize.
    """
    override = os.environ.get("KUSTOMIZE")
    if override:
        binary = Path(override)
        version = _installed_version(binary)
        if version != KUSTOMIZE_VERSION:
            raise ToolError(
                f"KUSTOMIZE={override} reports {version!r}, expected {KUSTOMIZE_VERSION}"
            )
        return binary

    binary = BIN_DIR / "kustomize"
    if _installed_version(binary) == KUSTOMIZE_VERSION:
        return binary
    with _lock("kustomize"):
        if _installed_version(binary) == KUSTOMIZE_VERSION:  # another process won the race
            return binary
        go = shutil.which("go")
        if go is None:
            raise ToolError("`go` is not on PATH: it is needed once to build kustomize")
        result = subprocess.run(
            [go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
            cwd=CACHE_DIR,
            env=_go_env(),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ToolError(
                f"go install {KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION} failed:\n{result.stderr}"
            )
        version = _installed_version(binary)
        if version != KUSTOMIZE_VERSION:
            raise ToolError(f"installed kustomize reports {version!r}, not {KUSTOMIZE_VERSION}")
    return binary


def write_or_check(
    out_dir: Path,
    files: Mapping[str, str],
    argv: Sequence[str],
    script: str,
    usage: str,
    owned: str | None = None,
) -> int:
    """The command line of a generator of files that are committed (components/*/
    generate.py): write `files` (name -> text) into `out_dir`, or with `--check` exit 1,
    naming each file that is not what the generator renders. `owned`: a glob of files in
    `out_dir` that only the generator writes; one it no longer renders is named by
    `--check` and removed when writing."""
    left = sorted(p.name for p in out_dir.glob(owned) if p.name not in files) if owned else []
    if list(argv) == ["--check"]:
        stale = sorted(
            name
            for name, text in files.items()
            if not (out_dir / name).is_file() or (out_dir / name).read_text() != text
        )
        for name in stale:
            print(f"{out_dir / name} is not what {script} renders", file=sys.stderr)
        for name in left:
            print(f"{out_dir / name} is not rendered by {script}", file=sys.stderr)
        return 1 if stale or left else 0
    if argv:
        print(usage, file=sys.stderr)
        return 2
    out_dir.mkdir(exist_ok=True)
    for name in left:
        (out_dir / name).unlink()
    for name, text in files.items():
        (out_dir / name).write_text(text)
    return 0


def components() -> list[str]:
    """The components an overlay lists: those of components/ that no other one includes
    (a component another lists, as strimzi lists kafka-access, is rendered with it)."""
    found = {p.name for p in COMPONENTS_DIR.iterdir() if (p / "kustomization.yaml").is_file()}
    return sorted(found - {part for name in found for part in parts_of(name)})


def parts_of(component: str) -> list[str]:
    """The components a component lists under `components:` (each `../<name>`)."""
    text = (COMPONENTS_DIR / component / "kustomization.yaml").read_text()
    # Standard library only: the top-level key `components:` and its block or flow list,
    # read without a YAML parser (tests/deploy/test_k8s.py compares with one).
    paths: list[str] = []
    listing = False
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "-")):
            key, _, value = line.partition(":")
            listing = key == "components"
            paths += [p for p in value.strip().strip("[]").split(",") if listing and p.strip()]
        elif listing:
            paths.append(line.strip().removeprefix("-"))
    return [Path(path.strip().strip("'\"")).name for path in paths]


def overlays() -> list[str]:
    return sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file())


def combinations() -> list[str]:
    """Every rendering CI checks: `base`, `base+<component>` for each component, each overlay."""
    return (
        ["base"]
        + [f"base+{name}" for name in components()]
        + [f"overlays/{name}" for name in overlays()]
    )


def _kustomization_for(combination: str, workdir: Path) -> Path:
    if combination == "base":
        return BASE
    if combination.startswith("overlays/"):
        path = OVERLAYS_DIR / combination.removeprefix("overlays/")
        if not (path / "kustomization.yaml").is_file():
            raise ToolError(f"no overlay {combination}")
        return path
    if combination.startswith("base+"):
        name = combination.removeprefix("base+")
        component = COMPONENTS_DIR / name
        if not (component / "kustomization.yaml").is_file():
            raise ToolError(f"no component {name}")
        target = workdir / combination.replace("+", "-")
        target.mkdir(parents=True, exist_ok=True)
        (target / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\n"
            f"resources:\n  - {os.path.relpath(BASE, target)}\n"
            f"components:\n  - {os.path.relpath(component, target)}\n"
        )
        return target
    raise ToolError(f"unknown combination {combination!r}; see `tools.py combinations`")


def render(combination: str, kustomize: Path | None = None) -> str:
    """The YAML stream `kustomize build` produces for one combination."""
    binary = kustomize or ensure_kustomize()
    with tempfile.TemporaryDirectory(prefix="chorus-kustomize-") as tmp:
        path = _kustomization_for(combination, Path(tmp))
        result = subprocess.run([str(binary), "build", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolError(f"kustomize build {combination} failed:\n{result.stderr}")
    return result.stdout


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "kustomize":
            print(ensure_kustomize())
        elif command == "combinations":
            print("\n".join(combinations()))
        elif command == "build":
            binary = ensure_kustomize()
            for combination in rest or combinations():
                if not rest:
                    print(f"# --- {combination}", flush=True)
                sys.stdout.write(render(combination, binary))
        else:
            print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
            return 2
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
