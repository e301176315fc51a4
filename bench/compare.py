"""Every bench twice, on an earlier commit and on this tree, on the same machine and servers.

    uv run python bench/compare.py --before <commit> [--bench feed --bench rewards ...]
        [--args rewards="--events 20000"] [--rounds 1] [--stack "--kafka-port=39792 ..."]
        [--script this]

The earlier commit is checked out in a worktree of its own under `.cache/bench/` with a
virtualenv of its own (`uv sync`, from uv's cache), so each side runs its own code and its
own bench script with the same arguments, against the servers of the environment
(`eval "$(python3 deploy/local/devstack.py env)"`), or with `--stack` against a devstack
on the ports given, started empty (`start --fresh`) before every run, so that no run
reads the topics an earlier one filled. The two runs of a bench follow each
other, the earlier commit first; with `--rounds 2` the order alternates. Each printout is
kept in `.cache/bench/compare-<time>/<bench>-<side>-<round>.txt`, and the result table of
each run is printed beside the other's at the end.

A bench whose load changed (what it sends, how much, to what) cannot be compared with its
own older version: the two sides would measure different things. With `--script this` the
earlier commit runs this tree's bench script instead of its own: bench/<bench>.py and
bench/stats.py are copied into its worktree before its run, and the worktree's own files
are put back afterwards (`git -C <tree> checkout -- bench`, and a copied file the commit
did not have is removed). The script then runs against the earlier commit's services and
its tests/support.py; a bench that needs more of this tree than that fails there, and says
so in its printout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ("feed", "leaderboard", "metrics", "redirect", "rewards", "web")
UV = ROOT / ".cache/tools/bin/uv"


def _run(cmd: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, text=True, check=True, **kwargs)  # type: ignore[call-overload]


def earlier_tree(commit: str) -> Path:
    """A worktree of `commit` with its own virtualenv, made once and reused."""
    rev = _run(["git", "rev-parse", "--short", commit], ROOT, capture_output=True).stdout.strip()
    tree = ROOT / ".cache/bench" / f"tree-{rev}"
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        _run(["git", "worktree", "add", "--detach", str(tree), rev], ROOT)
    if not (tree / ".venv/bin/python").exists():
        print(f"compare: a virtualenv for {rev} (uv sync)...", flush=True)
    # Installed as `make install` installs this tree, with its bytecode compiled, so that
    # neither side compiles its modules at each start (a no-op once done).
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tree / ".venv")}
    _run(
        [str(UV), "sync", "--all-packages", "--frozen", "--quiet", "--compile-bytecode"],
        tree,
        env=env,
    )
    sources = [tree / "contracts/src", tree / "chassis/src", *sorted(tree.glob("services/*/src"))]
    _run(
        [str(tree / ".venv/bin/python"), "-m", "compileall", "-q", "-j", "0", *map(str, sources)],
        tree,
    )
    if (tree / "services/web").is_dir() and not (tree / "services/web/node_modules").exists():
        # The web app's front-end libraries come from npm, not from git: without them its
        # pages load no scripts, and the web bench fails.
        print(f"compare: the web app's libraries for {rev} (make web-assets)...", flush=True)
        _run(["make", "--no-print-directory", "web-assets"], tree)
    return tree


# Where the environment names servers, devstack uses those and leaves its own ports alone:
# a run on a stack of its own must not inherit them.
_SERVER_VARIABLES = ("MONGODB_URL", "KAFKA_BOOTSTRAP_SERVERS", "KEYCLOAK_URL")


def fresh_stack(ports: list[str]) -> dict[str, str]:
    """Stop the devstack on `ports`, start it empty; the environment that reaches it."""
    devstack = [sys.executable, str(ROOT / "deploy/local/devstack.py")]
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_VARIABLES}
    _run([*devstack, "stop", *ports], ROOT, capture_output=True, env=env)
    _run([*devstack, "start", "--fresh", *ports], ROOT, capture_output=True, env=env)
    lines = _run([*devstack, "env", *ports], ROOT, capture_output=True, env=env).stdout.splitlines()
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)
    return {name: shlex.split(value)[0] if value else "" for name, value in pairs}


@contextlib.contextmanager
def scripts_of_this_tree(tree: Path, bench: str) -> Iterator[None]:
    """`tree` runs this tree's bench script (and the table module it uses) meanwhile."""
    copied = [Path("bench") / f"{bench}.py", Path("bench") / "stats.py"]
    had = {name: (tree / name).exists() for name in copied}
    try:
        for name in copied:
            shutil.copyfile(ROOT / name, tree / name)
        yield
    finally:
        for name in copied:
            if not had[name]:
                (tree / name).unlink(missing_ok=True)
        _run(["git", "-C", str(tree), "checkout", "--", "bench"], ROOT)


def run_bench(
    tree: Path,
    bench: str,
    args: list[str],
    out: Path,
    stack: list[str] | None,
    script_of_this_tree: bool = False,
) -> float:
    """Run one bench in `tree`, its printout to `out`; the seconds it took. With
    `script_of_this_tree`, the bench script is this tree's, not `tree`'s own."""
    env = dict(os.environ)
    if stack:
        env = {k: v for k, v in env.items() if k not in _SERVER_VARIABLES} | fresh_stack(stack)
    borrowed = script_of_this_tree and tree != ROOT
    started = time.monotonic()
    with (
        scripts_of_this_tree(tree, bench) if borrowed else contextlib.nullcontext(),
        out.open("w") as sink,
    ):
        if borrowed:
            sink.write(f"compare: this tree's bench/{bench}.py and bench/stats.py\n")
            sink.flush()
        done = subprocess.run(
            [str(tree / ".venv/bin/python"), str(tree / "bench" / f"{bench}.py"), *args],
            cwd=tree,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        )
    took = time.monotonic() - started
    whose = " (this tree's script)" if borrowed else ""
    print(f"compare: {bench} in {tree.name}{whose}: exit {done.returncode} in {took:.0f} s ({out})")
    return took


# A row of bench/stats.py's table: a name, then its six cells (a number, `-` or `inf`).
_TABLE_ROW = re.compile(r"\S(\s+(-|inf|[\d,]+(\.\d+)?)){6}$")


def result_lines(printout: str) -> list[str]:
    """The lines of a printout worth reading side by side: its tables and its verdicts."""
    keep = []
    for line in printout.splitlines():
        text = line.strip()
        if not text:
            continue
        lowered = text.lower()
        marks = ("target", "p50", "p99", "per s", " ms", "/s", "sent to", "outcomes", "kafka")
        if any(mark in lowered for mark in marks) or _TABLE_ROW.search(text):
            keep.append(line.rstrip())
    return keep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--bench", action="append", choices=BENCHES, help="default: all")
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar='BENCH="ARGS"',
        help="arguments for one bench, the same on both sides",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--stack", metavar='"PORTS"', help="devstack ports to start empty before every run"
    )
    parser.add_argument(
        "--script",
        choices=("own", "this"),
        default="own",
        help="the earlier commit runs its own bench script (default) or this tree's",
    )
    options = parser.parse_args(argv)
    extra: dict[str, list[str]] = {}
    for given in options.args:
        name, _, text = given.partition("=")
        extra[name] = shlex.split(text)

    before = earlier_tree(options.before)
    out_dir = ROOT / ".cache/bench" / time.strftime("compare-%Y%m%d-%H%M%S")
    out_dir.mkdir(parents=True)
    sides = {"before": before, "after": ROOT}
    for bench in options.bench or BENCHES:
        for round_ in range(options.rounds):
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for side in order:
                out = out_dir / f"{bench}-{side}-{round_ + 1}.txt"
                stack = shlex.split(options.stack) if options.stack else None
                run_bench(
                    sides[side], bench, extra.get(bench, []), out, stack, options.script == "this"
                )
    scripts = "each side its own bench scripts"
    if options.script == "this":
        scripts = "this tree's bench scripts on both sides"
    print(
        f"\ncompare: {options.before} (before) and this tree (after), {scripts}; "
        f"printouts in {out_dir}"
    )
    for bench in options.bench or BENCHES:
        for round_ in range(options.rounds):
            for side in ("before", "after"):
                out = out_dir / f"{bench}-{side}-{round_ + 1}.txt"
                print(f"\n== {bench}, {side}, round {round_ + 1}")
                print("\n".join(result_lines(out.read_text())) or "(no result lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
