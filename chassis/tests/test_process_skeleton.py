"""The skeleton every service shares: its command line and its periodic loops."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from chassis.process import ServiceDefinition, main, periodic
from chassis.settings import ServiceSettings


async def _setup(runtime: object) -> None:
    return None


DEFINITION = ServiceDefinition(name="sample", settings_class=ServiceSettings, setup=_setup)


def test_a_command_of_the_services_own_gets_the_rest_of_the_line() -> None:
    got: list[list[str]] = []
    commands = {"replay": ("rebuild", got.append)}
    main(DEFINITION, ["replay", "--since", "2026-01-01T00:00:00Z"], commands=commands)
    assert got == [["--since", "2026-01-01T00:00:00Z"]]


@pytest.mark.parametrize("argv", [[], ["nope"], ["api", "extra"], ["worker", "--since", "x"]])
def test_anything_else_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(DEFINITION, argv, commands={"replay": ("rebuild", lambda rest: None)})
    assert exited.value.code == 2
    assert "usage: python -m sample" in capsys.readouterr().err


async def test_periodic_runs_its_step_then_waits() -> None:
    runs: list[float] = []

    async def step() -> None:
        runs.append(asyncio.get_running_loop().time())

    loop = periodic(0.02, step)
    assert loop.__name__ == "step"
    task = asyncio.create_task(loop())
    async with asyncio.timeout(10):
        while len(runs) < 3:
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(later - earlier >= 0.019 for earlier, later in itertools.pairwise(runs))
