"""Recipes over the whole cookbook, end to end through the real CLI on the tiny model: the bundled
`workflow = "cookbook"` recipes (tinker-cookbook's own recipe modules, unmodified), the `rl`
workflow with a `[cookbook]` table, a user's own module on PYTHONPATH, and a backend = "tinker"
recipe against `cookbook-tui serve` (the service's code path, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from run_helpers import cli, mean, reduced_recipe, series

from cookbook_tui.recipes.paths import BUNDLED_DIR
from cookbook_tui.runners import rundir

pytestmark = pytest.mark.usefixtures("tiny_model_path")


def _finished(recipe: Path, run_dir: Path, *extra: str, env: dict[str, str] | None = None, timeout: float = 300) -> None:
    out = cli("--run", str(recipe), "--log-dir", str(run_dir), "--quiet", *extra, timeout=timeout, env=env)
    logs = (run_dir / "logs.log").read_text()[-3000:] if (run_dir / "logs.log").exists() else ""
    assert out.returncode == 0, out.stderr[-3000:] + logs
    assert "Traceback" not in out.stderr
    status = rundir.read_status(run_dir)
    assert status.state == "finished" and status.error is None, status


def _steps(run_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# (recipe, the step counts it may record): the async loop discards a batch sampled more than
# max_steps_off_policy steps before its training turn (tinker-cookbook's behaviour); whether the
# last of its 4 batches is that stale depends on timing, so it trains 3 or 4 steps (both seen in CI).
MODULE_RECIPES = [
    ("math-rl-async", {3, 4}), ("math-rl-stream", {3}), ("text-arena-tictactoe", {3}), ("preference-shorter", {4}),
]


@pytest.mark.parametrize(("name", "counts"), MODULE_RECIPES, ids=[n for n, _ in MODULE_RECIPES])
def test_bundled_cookbook_module_recipe_records_every_step(tmp_path: Path, name: str, counts: set[int]) -> None:
    run_dir = tmp_path / "run"
    _finished(BUNDLED_DIR / f"{name}.toml", run_dir)
    steps = len(_steps(run_dir))
    assert steps in counts
    assert _steps(run_dir) == list(range(steps))  # every step once, in order
    assert rundir.read_status(run_dir).step == steps
    rows = rundir.read_metrics(run_dir)
    assert all("env/all/reward/total" in r and "optim/entropy" in r for r in rows)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["log_path"] == str(run_dir)  # the runner pointed the module at the run dir
    # The module's own rl.train.Config recorded its rollouts for the Samples pane.
    rollouts = rundir.read_samples(run_dir)
    assert rollouts and all(r["kind"] == "rollout" and r["completion"] is not None for r in rollouts)
    assert {r["step"] for r in rollouts} <= set(range(steps + 1))
    if name == "math-rl-async":
        # No renderer_name in the recipe: math_rl asked tinker_cookbook.model_info, which knows
        # the tiny model inside the runner; async_config came from max_steps_off_policy.
        assert config["renderer_name"] == "qwen3_instruct"
        assert config["async_config"]["max_steps_off_policy"] == 2
    if name == "math-rl-stream":
        assert config["stream_minibatch_config"] == {"groups_per_batch": 4, "num_minibatches": 2}


def test_rl_workflow_with_a_cookbook_table_learns(tmp_path: Path) -> None:
    recipe = BUNDLED_DIR / "arithmetic-rl-stream.toml"  # 15 steps, as bundled
    run_dir = tmp_path / "run"
    _finished(recipe, run_dir)
    assert _steps(run_dir) == list(range(15))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["compute_post_kl"] is True
    assert config["stream_minibatch_config"] == {"groups_per_batch": 8, "num_minibatches": 2}
    reward = [v for _, v in series(run_dir, "env/all/reward/total")]
    assert mean(reward[-5:]) > mean(reward[:5]), reward


USER_MODULE = '''
"""A user's own recipe module, shaped like tinker-cookbook's recipes/*/train.py."""
import asyncio

import chz
from tinker_cookbook import cli_utils
from tinker_cookbook.recipes.math_rl.arithmetic_env import ArithmeticDatasetBuilder
from tinker_cookbook.rl import train


@chz.chz
class CLIConfig:
    model_name: str = "Qwen/Qwen3-8B"
    renderer_name: str = "qwen3_instruct"
    groups_per_batch: int = 8
    group_size: int = 2
    steps: int = 10
    log_path: str = "/nonexistent/never-used"
    base_url: str | None = None
    behavior_if_log_dir_exists: cli_utils.LogdirBehavior = "ask"


def cli_main(cfg: CLIConfig) -> None:
    builder = ArithmeticDatasetBuilder(
        batch_size=cfg.groups_per_batch,
        group_size=cfg.group_size,
        n_batches=cfg.steps,
        model_name_for_tokenizer=cfg.model_name,
        renderer_name=cfg.renderer_name,
    )
    config = train.Config(
        learning_rate=1e-3, dataset_builder=builder, model_name=cfg.model_name, recipe_name="my_recipe",
        max_tokens=4, log_path=cfg.log_path, base_url=cfg.base_url, eval_every=0, save_every=0,
        renderer_name=cfg.renderer_name,
    )
    # "ask" would prompt on stdin: the runner must pass behavior_if_log_dir_exists itself.
    cli_utils.check_log_dir(cfg.log_path, behavior_if_exists=cfg.behavior_if_log_dir_exists)
    asyncio.run(train.main(config))


if __name__ == "__main__":
    cli_main(chz.entrypoint(CLIConfig))
'''


def test_a_users_own_module_runs_through_workflow_cookbook(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "my_cookbook_recipe.py").write_text(USER_MODULE)
    recipe = tmp_path / "mine.toml"
    recipe.write_text(
        textwrap.dedent(
            """\
            name = "mine"
            workflow = "cookbook"
            entry = "my_cookbook_recipe"

            [config]
            model_name = "cookbook-tui/tiny-chat"
            steps = 2
            groups_per_batch = 4
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "mods"))
    # A typo is exit 2 naming the field and its line, with a did-you-mean, and no traceback.
    bad = tmp_path / "bad.toml"
    bad.write_text(recipe.read_text().replace("steps = 2", "step = 2"))
    out = cli("validate", str(bad), env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{bad}:7:1: config.step: my_cookbook_recipe:CLIConfig has no field 'step' (did you mean 'steps'?)" in out.stderr
    run_dir = tmp_path / "run"
    _finished(recipe, run_dir, env=env)
    assert _steps(run_dir) == [0, 1]
    status = rundir.read_status(run_dir)
    assert (status.workflow, status.model) == ("cookbook", "cookbook-tui/tiny-chat")


def test_tinker_backend_against_cookbook_tui_serve(tmp_path: Path) -> None:
    """backend = "tinker" with TINKER_BASE_URL + key: the runner starts no engine of its own."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "cookbook_tui.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "served")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines: dict[str, str] = {}
        assert serve.stdout is not None
        while len(lines) < 2:
            line = serve.stdout.readline()
            assert line, "serve exited before printing its address"
            key, sep, value = line.strip().partition("=")
            if sep and key in ("TINKER_BASE_URL", "TINKER_API_KEY"):
                lines[key] = value
        recipe = reduced_recipe("math-rl-stream", tmp_path)
        recipe.write_text(recipe.read_text().replace('backend = "local"', 'backend = "tinker"'))
        runner_data = tmp_path / "runner-data"
        env = dict(os.environ, **lines, COOKBOOK_TUI_DATA_DIR=str(runner_data))
        no_key = {k: v for k, v in env.items() if k != "TINKER_API_KEY"}
        out = cli("--run", str(recipe), "--log-dir", str(tmp_path / "nokey"), env=no_key)
        assert out.returncode == 2 and "TINKER_API_KEY" in out.stderr and not (tmp_path / "nokey").exists()
        run_dir = tmp_path / "run"
        _finished(recipe, run_dir, env=env)
        assert _steps(run_dir) == [0, 1, 2]
        assert rundir.read_status(run_dir).backend == "tinker"
        assert not runner_data.exists()  # no local engine in the runner: the served one trained
        served = list((tmp_path / "served").rglob("*"))
        assert any("final" in p.name for p in served), served[:20]
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_a_cookbook_module_run_resumes_after_kill_9(tmp_path: Path) -> None:
    import signal
    import time

    from run_helpers import start_cli

    recipe = tmp_path / "stream.toml"
    recipe.write_text(
        (BUNDLED_DIR / "math-rl-stream.toml").read_text().replace("max_steps = 3", "max_steps = 6").replace("save_every = 0", "save_every = 2")
    )
    run_dir = tmp_path / "run"
    proc = start_cli("--run", str(recipe), "--log-dir", str(run_dir), "--quiet")
    deadline = time.monotonic() + 240
    while not (len(rundir.read_metrics(run_dir)) >= 3 and rundir.last_checkpoint(run_dir)):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended or hung before step 3"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(rundir.read_metrics(run_dir)) < 6
    out = cli("--resume", str(run_dir), "--quiet")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert rundir.read_status(run_dir).state == "finished"
    assert _steps(run_dir) == list(range(6))  # every step exactly once across the kill
