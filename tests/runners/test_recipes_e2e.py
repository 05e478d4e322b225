"""Every bundled offline recipe trains for real (local engine, tiny model) at test size, and its
metric moves the right way. Sizes are cut with the recipe's own keys, nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median

import pytest
from run_helpers import cli, events, mean, reduced_recipe, series

from cookbook_tui.runners import rundir
from cookbook_tui.runners.samples import MAX_GROUPS_PER_STEP

pytestmark = pytest.mark.usefixtures("tiny_model_path")


def _run(recipe: Path, run_dir: Path, *extra: str, timeout: float = 300):
    out = cli("--run", str(recipe), "--log-dir", str(run_dir), *extra, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:] + (run_dir / "logs.log").read_text()[-3000:]
    assert "Traceback" not in out.stderr
    status = rundir.read_status(run_dir)
    assert status.state == "finished" and status.error is None
    return out


def _steps_exactly_once(run_dir: Path, n: int) -> None:
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(n))


def test_sft_loss_falls_with_heldout_samples(tmp_path: Path) -> None:
    recipe = reduced_recipe(
        "arithmetic-sft", tmp_path,
        training={"max_steps": 40, "eval_every": 20, "save_every": 20},
        samples={"every": 20, "count": 4},
    )
    run_dir = tmp_path / "run"
    out = _run(recipe, run_dir, "--json-events")
    _steps_exactly_once(run_dir, 40)
    nll = [v for _, v in series(run_dir, "train_mean_nll")]
    assert mean(nll[-5:]) < 0.5 * nll[0]
    test_nll = series(run_dir, "test/nll")
    assert [s for s, _ in test_nll] == [0, 20] and test_nll[1][1] < test_nll[0][1]
    assert [s for s, _ in series(run_dir, "samples/exact_match")] == [0, 20]
    samples = rundir.read_samples(run_dir)
    assert {(r["step"], r["kind"]) for r in samples} == {(0, "heldout"), (20, "heldout")}
    first = samples[0]
    assert first["prompt"].startswith("<|im_start|>user\nWhat is ") and first["segments"][1][1] == 1.0
    assert first["reference"].isdigit()
    # The run dir: cookbook layout plus ours; library noise in logs.log, not on the terminal.
    assert (run_dir / "recipe.toml").read_text() == recipe.read_text()
    assert json.loads((run_dir / "config.json").read_text())["model_name"] == "cookbook-tui/tiny-chat"
    assert rundir.last_checkpoint(run_dir)["name"] == "final"
    assert "FutureWarning" in (run_dir / "logs.log").read_text()
    assert "FutureWarning" not in out.stdout + out.stderr
    kinds = [e["event"] for e in events(out.stdout)]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("step") == 40
    assert events(out.stdout)[-1]["state"] == "finished"


def test_dpo_accuracy_and_margin_rise(tmp_path: Path) -> None:
    recipe = reduced_recipe("arithmetic-dpo", tmp_path, training={"max_steps": 16, "eval_every": 0}, samples={"every": 8, "count": 2})
    run_dir = tmp_path / "run"
    _run(recipe, run_dir, "--quiet")
    _steps_exactly_once(run_dir, 16)
    margin = [v for _, v in series(run_dir, "margin")]
    accuracy = [v for _, v in series(run_dir, "accuracy")]
    assert abs(margin[0]) < 1e-6  # the policy starts equal to its reference
    assert mean(margin[-4:]) > 0.05
    assert mean(accuracy[-4:]) > mean(accuracy[:2])
    assert {r["step"] for r in rundir.read_samples(run_dir)} == {0, 8}


def test_distillation_teacher_kl_falls(tmp_path: Path) -> None:
    # teacher_kl is noisy step to step (sampling order is not fixed): 16 groups a step and means
    # over 4 steps keep the comparison about the trend.
    recipe = reduced_recipe(
        "arithmetic-distill",
        tmp_path,
        warmup={"steps": 40},
        rollouts={"groups_per_batch": 16},
        training={"max_steps": 16},
        samples={"every": 8, "count": 2},
    )
    run_dir = tmp_path / "run"
    _run(recipe, run_dir, "--quiet")
    _steps_exactly_once(run_dir / "warmup", 40)
    _steps_exactly_once(run_dir, 16)
    # The student started from the warmup's step-10 checkpoint, the teacher from its final one.
    assert [r["name"] for r in rundir.read_checkpoints(run_dir / "warmup")] == ["000010", "000020", "000030", "final"]
    kl = [v for _, v in series(run_dir, "teacher_kl")]
    # Medians: one step can spike (14.5 among ~0.5 was seen in CI) and a mean would follow it.
    assert median(kl[-4:]) < median(kl[:4])
    kinds = {r["kind"] for r in rundir.read_samples(run_dir)}
    assert kinds == {"rollout", "heldout"}


def test_rl_reward_rises(tmp_path: Path) -> None:
    recipe = reduced_recipe("arithmetic-rl", tmp_path, training={"max_steps": 15})
    run_dir = tmp_path / "run"
    _run(recipe, run_dir, "--quiet")
    reward = [v for _, v in series(run_dir, "env/all/reward/total")]
    assert mean(reward[-5:]) > mean(reward[:5])
    rollouts = rundir.read_samples(run_dir)
    assert rollouts and all(r["kind"] == "rollout" and r["reward"] is not None for r in rollouts)
    # whole groups, a bounded number of them a step (the TUI's GRPO group view needs every member)
    groups: dict[tuple[int, int], list[int]] = {}
    for r in rollouts:
        groups.setdefault((r["step"], r["group"]), []).append(r["rollout"])
    assert all(sorted(members) == list(range(len(members))) for members in groups.values())
    assert len({len(members) for members in groups.values()}) == 1  # each group whole (group_size)
    per_step = {step: sum(1 for s, _ in groups if s == step) for step, _ in groups}
    assert set(per_step) == set(range(15)) and max(per_step.values()) <= MAX_GROUPS_PER_STEP


def test_multiturn_guess_number_reward_rises(tmp_path: Path) -> None:
    # The bundled recipe at full size (40 warmup steps, 12 steps of 32 games, ~2 min): RL's first
    # noisy updates often lower the reward before it recovers, so smaller runs do not show the
    # trend reliably (see the recipe). Measured over 5 runs: first 3 steps about -1.3, last 4 about
    # -0.7; the gain comes mostly from fewer malformed guesses.
    recipe = reduced_recipe("guess-number", tmp_path)
    run_dir = tmp_path / "run"
    _run(recipe, run_dir, "--quiet", timeout=900)
    _steps_exactly_once(run_dir, 12)
    reward = [v for _, v in series(run_dir, "env/all/reward/total")]
    assert mean(reward[-4:]) > mean(reward[:3])
    games = rundir.read_samples(run_dir)
    assert {g["step"] for g in games} == set(range(12))
    assert all(1 <= g["turns"] <= 3 and g["reward"] is not None for g in games)
    assert max(g["turns"] for g in games) > 1
