"""One run of a recipe: run dir, backend, the optional warmup stage, the main stage, status.

The training itself is tinker-cookbook's loop (see runners/workflows); this module only orders
the stages, keeps status.json true, and leaves the run dir resumable: a resumed run continues from
the cookbook's last checkpoint, and metrics.jsonl / samples.jsonl hold each step once.
"""

from __future__ import annotations

import logging
import signal
import traceback
from pathlib import Path
from typing import Any

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.schema import warmup_ref_step
from cookbook_tui.runners import rundir, token_meter
from cookbook_tui.runners.progress import MetricsFollower, Reporter
from cookbook_tui.runners.rundir_resume import named_checkpoint, prepare_resume, resume_step
from cookbook_tui.runners.system_meter import SystemMeter

logger = logging.getLogger("cookbook_tui.run")


class RunCancelled(KeyboardInterrupt):
    """SIGTERM, raised as a KeyboardInterrupt so asyncio and the cookbook unwind as on Ctrl-C
    (asyncio swallows other BaseExceptions raised inside callbacks)."""


class Runner:
    def __init__(self, recipe: Recipe, run_dir: Path, reporter: Reporter, *, resume: bool):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.reporter = reporter
        self.resume = resume
        self.status = rundir.StatusWriter(self.run_dir)

    def _run_stage(self, stage_name: str, log_path: Path, build, base_url: str | None, **ctx_fields: Any) -> None:
        from cookbook_tui.runners.workflows import StageContext

        start = resume_step(log_path) if self.resume else 0
        if self.resume:
            prepare_resume(log_path, self.run_dir, start)
        ctx = StageContext(run_dir=self.run_dir, log_path=log_path, base_url=base_url, start_step=start, **ctx_fields)
        stage = build(self.recipe, ctx)
        if stage_name == "train":
            self.status.update(total_steps=stage.expected_steps)
        self.reporter.stage_started(stage_name, self.recipe.workflow, stage.expected_steps)

        from cookbook_tui.runners.alarms import AlarmWatch, load_thresholds

        alarms = AlarmWatch(load_thresholds())

        def on_row(row: dict[str, Any]) -> None:
            self.reporter.step(row)
            for alarm in alarms.feed(row):
                self.reporter.warning(f"alarm: {alarm.message}")
                logger.warning("alarm (%s) at step %s: %s", alarm.kind, alarm.step, alarm.message)
            if stage_name == "train":
                self.status.update(step=rundir.steps_done(row["step"]))

        follower = MetricsFollower(log_path, on_row)
        follower.skip_steps_before(rundir.read_metrics(log_path))
        follower.start()
        previous_logs = (log_path, self.run_dir / "warmup") if stage_name == "train" else (log_path,)
        token_meter.install(
            token_meter.TokenMeter(
                token_meter.load_prices(self.recipe.model_name), token_meter.last_total_cost(*previous_logs)
            ),
            SystemMeter().take_row,
        )
        try:
            stage.run()
        finally:
            token_meter.uninstall()
            follower.stop()
            rundir.dedupe_metrics(log_path)

    def _warmup(self, base_url: str | None) -> Path:
        from cookbook_tui.runners.workflows import build_warmup

        log_path = self.run_dir / "warmup"
        if named_checkpoint(log_path, "final") is None:
            self._run_stage("warmup", log_path, build_warmup, base_url)
        return log_path

    def _resolve(self, value: str | None, warmup_dir: Path | None, key: str) -> str | None:
        """A checkpoint field's tinker path: "warmup"/"warmup:N" become the warmup stage's own."""
        step = warmup_ref_step(value)
        if step is False or warmup_dir is None:
            return value
        name = "final" if step is None else f"{step:06d}"
        paths = named_checkpoint(warmup_dir, name)
        path = getattr(paths, key) if paths else None
        if not path:
            raise RuntimeError(f"the warmup stage left no checkpoint {name!r} ({key}) in {warmup_dir}")
        return path

    def _execute(self, base_url: str | None) -> None:
        from cookbook_tui.runners.tiny_model_cookbook import register_with_cookbook
        from cookbook_tui.runners.tokenizer_threads import make_tokenizers_thread_safe
        from cookbook_tui.runners.workflows import build_stage

        register_with_cookbook()
        make_tokenizers_thread_safe()  # the cookbook renders from thread pools

        warmup_dir = self._warmup(base_url) if self.recipe.has_warmup else None
        load_checkpoint, teacher_checkpoint = self.recipe.checkpoint_refs
        self._run_stage(
            "train",
            self.run_dir,
            build_stage,
            base_url,
            # The student resumes training weights (state); a teacher only samples (sampler weights).
            load_checkpoint=self._resolve(load_checkpoint, warmup_dir, "state_path"),
            teacher_checkpoint=self._resolve(teacher_checkpoint, warmup_dir, "sampler_path"),
        )

    def run(self) -> str:
        """Run to the end; returns the final state (finished, failed or cancelled)."""
        from cookbook_tui.runners.backends import open_backend

        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not (self.run_dir / rundir.RECIPE_FILE).exists() or not self.resume:
            rundir.write_recipe_copy(self.run_dir, self.recipe.text)
        self.status.start(
            # Where the recipe's relative data paths resolve: --resume reads the run dir's copy.
            recipe_dir=str(self.recipe.base_dir),
            recipe=self.recipe.name,
            workflow=self.recipe.workflow,
            backend=self.recipe.backend,
            model=self.recipe.model_name,
        )
        self.reporter.event("start", run_dir=str(self.run_dir), recipe=self.recipe.name, resume=self.resume)
        previous = signal.signal(signal.SIGTERM, _raise_cancelled)
        state, error = "finished", None
        try:
            with open_backend(self.recipe) as base_url:
                self._execute(base_url)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as RunCancelled
            state = "cancelled"
        except Exception as exc:  # any failure of the loop: recorded, reported, not a traceback
            state, error = "failed", f"{type(exc).__name__}: {exc}"
            logger.error("run failed:\n%s", traceback.format_exc())
        finally:
            signal.signal(signal.SIGTERM, previous)
        for log_path in (self.run_dir, self.run_dir / "warmup"):
            rundir.dedupe_metrics(log_path)
        self.status.finish(state, error)
        cost = token_meter.last_total_cost(self.run_dir, self.run_dir / "warmup")
        if cost:
            self.reporter.info(f"cost: ${cost:.4f} (prices.toml, {self.recipe.model_name})")
        self.reporter.finished(state, self.run_dir, error)
        return state


def _raise_cancelled(signum: int, frame: Any) -> None:
    raise RunCancelled()
