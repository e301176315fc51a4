"""Every bench twice, on an earlier commit and on this tree, on the same machine and servers.

    uv run python bench/compare.py --before <commit> [--bench feed --bench rewards ...]
        [--args rewards="--events 20000"] [--rounds 1] [--stack "--kafka-port=39792 ..."]

The earlier commit is checked out in a worktree of its own under `.cache/bench/` with a
virtualenv of its own (`uv sync`, from uv's cache), so each side runs its own code and its
own bench script with the same arguments, against the servers of the environment
(`eval "$(python3 deploy/local/devstack.py env)"`), or with `--stack` against a devstack
on the ports given, started empty (`start --fresh`) before every run, so that no run
reads the topics an earlier one filled. The two runs of a bench follow each
other, the earlier commit first; with `--rounds 2` the order alternates. Each printout is
kept in `.cache/bench/compare-<time>/<bench>-<side>-<round>.txt`, and the result table of
each run is printed beside the other's at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
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
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tree / ".venv")}
        _run([str(UV), "sync", "--all-packages", "--frozen", "--quiet"], tree, env=env)
    return tree


def fresh_stack(ports: list[str]) -> dict[str, str]:
    """Stop the devstack on `ports`, start it empty; the environment that reaches it."""
    devstack = [sys.executable, str(ROOT / "deploy/local/devstack.py")]
    _run([*devstack, "stop", *ports], ROOT, capture_output=True)
    _run([*devstack, "start", "--fresh", *ports], ROOT, capture_output=True)
    lines = _run([*devstack, "env", *ports], ROOT, capture_output=True).stdout.splitlines()
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)
    return {name: shlex.split(value)[0] if value else "" for name, value in pairs}


def run_bench(tree: Path, bench: str, args: list[str], out: Path, stack: list[str] | None) -> float:
    """Run one bench in `tree`, its printout to `out`; the seconds it took."""
    env = {**os.environ, **(fresh_stack(stack) if stack else {})}
    started = time.monotonic()
    with out.open("w") as sink:
        done = subprocess.run(
            [str(tree / ".venv/bin/python"), str(tree / "bench" / f"{bench}.py"), *args],
            cwd=tree,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        )
    took = time.monotonic() - started
    print(f"compare: {bench} in {tree.name}: exit {done.returncode} in {took:.0f} s ({out})")
    return took


def result_lines(printout: str) -> list[str]:
    """The lines of a printout worth reading side by side: its tables and its verdicts."""
    keep = []
    for line in printout.splitlines():
        text = line.strip()
        if not text:
            continue
        lowered = text.lower()
        if any(mark in lowered for mark in ("target", "p50", "p99", "per s", " ms", "/s")):
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
                run_bench(sides[side], bench, extra.get(bench, []), out, stack)
    print(f"\ncompare: {options.before} (before) and this tree (after); printouts in {out_dir}")
    for bench in options.bench or BENCHES:
        for round_ in range(options.rounds):
            for side in ("before", "after"):
                out = out_dir / f"{bench}-{side}-{round_ + 1}.txt"
                print(f"\n== {bench}, {side}, round {round_ + 1}")
                print("\n".join(result_lines(out.read_text())) or "(no result lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
