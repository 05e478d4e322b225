"""A run that dies mid-training inside the TUI (kill -9 of its process group after its first
metrics row: what the OOM killer does) while a second run trains: the dead run reads as failed and
its run screen's failure view says why, the other run trains on to `finished`, and the app keeps
answering keys throughout. Real recipes, runner and local engine."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from textual.widgets import TabbedContent

from cookbook_tui.app.config import AppConfig, list_installed_recipes, validate_with_core
from cookbook_tui.app.cookbook_app import CookbookApp
from cookbook_tui.app.widgets.failure_view import FailureView
from cookbook_tui.runners import rundir
from cookbook_tui.screens.run import RunScreen

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS / "runners"))
sys.path.insert(0, str(TESTS))
from run_helpers import reduced_recipe  # noqa: E402
from tui.waiting import wait_until  # noqa: E402

SURVIVOR_STEPS = 8


def _recipe(tmp_path: Path, folder: str, max_steps: int) -> Path:
    dest = tmp_path / folder
    dest.mkdir()
    return reduced_recipe(
        "arithmetic-sft", dest,
        training={"max_steps": max_steps, "save_every": 4, "eval_every": 0},
        samples={"every": 1000, "count": 1},
    )


def _screen_for(app: CookbookApp, run_dir: Path) -> RunScreen:
    return next(s for s in app.screen_stack if isinstance(s, RunScreen) and s.run_dir == run_dir)


async def test_a_run_killed_mid_training_shows_failed_while_the_other_finishes(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    config = AppConfig(
        runs_dir=tmp_path / "runs",
        recipes_dir=tmp_path / "my-recipes",
        list_recipes=list_installed_recipes,
        validate_recipe_text=validate_with_core,
        poll_interval=0.2,
        validate_delay=0.05,
        run_env={"COOKBOOK_TUI_DATA_DIR": str(tmp_path / "engine-data"), "OMP_NUM_THREADS": "1"},
    )
    app = CookbookApp(config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        doomed = app.launch_run(_recipe(tmp_path, "doomed", max_steps=500), "doomed")
        survivor = app.launch_run(_recipe(tmp_path, "survivor", max_steps=SURVIVOR_STEPS), "survivor")
        await wait_until(pilot, lambda: {doomed, survivor} <= set(app.run_processes), "both runs to start")
        await wait_until(pilot, lambda: rundir.read_metrics(doomed), "the doomed run's first step", polls=1200)
        doomed_process = app.run_processes[doomed]
        os.killpg(doomed_process.pid, signal.SIGKILL)
        await wait_until(pilot, lambda: not doomed_process.running(), "the kill")

        # The survivor's screen is on top and keeps answering keys while its run trains.
        survivor_screen = app.screen
        assert isinstance(survivor_screen, RunScreen) and survivor_screen.run_dir == survivor
        await pilot.press("4")
        assert survivor_screen.query_one(TabbedContent).active == "log"
        await pilot.press("1")
        assert survivor_screen.query_one(TabbedContent).active == "curves"
        ended = lambda: survivor_screen.effective_status().state in ("finished", "failed")  # noqa: E731
        await wait_until(pilot, ended, "the survivor to end", polls=1500)
        status = survivor_screen.effective_status()
        assert status.state == "finished", status.error
        await wait_until(pilot, lambda: not app.run_processes[survivor].running(), "the survivor's exit")
        assert app.run_processes[survivor].popen.returncode == 0
        assert not survivor_screen.query_one(FailureView).has_class("-shown")
        assert len(survivor_screen.run_watch.metrics.columns["train_mean_nll"][0]) == SURVIVOR_STEPS

        # Back to the dead run's screen: failed, and the failure view says why.
        await pilot.press("escape")
        doomed_screen = app.screen
        assert doomed_screen is _screen_for(app, doomed)
        await wait_until(pilot, lambda: doomed_screen.query_one(FailureView).has_class("-shown"), "the failure view")
        dead = doomed_screen.effective_status()
        assert dead.state == "failed" and dead.error == f"{rundir.EXITED_WITHOUT_STATUS} (killed by SIGKILL)"
        failure = doomed_screen.query_one(FailureView)
        assert dead.error in str(failure.render())
        assert failure.border_title == "Run failed"
        steps_before_kill = len(rundir.read_metrics(doomed))
        assert 1 <= steps_before_kill < 500
        assert doomed_screen.run_watch.metrics.steps_done() == steps_before_kill
        assert app.is_running
