"""`workflow = "cookbook"`: any module shaped like tinker-cookbook's `recipes/*/train.py` (a chz
`CLIConfig` that its `__main__` parses), run the one way every such module is run:
`python -m ENTRY key=value …`, with the recipe's `[config]` as the key=value pairs.

The module runs in this process through `runpy.run_module(ENTRY, run_name="__main__")` — what
`python -m` itself does — with `sys.argv` set, rather than in a child interpreter: the local
engine already lives in this process, so status.json, SIGTERM -> cancelled, the metrics follower
and the tiny model's `model_info` entry apply unchanged, and a 2-core machine does not pay a
second interpreter's imports (~3 s of tinker/torch) per run. No per-recipe code: the entry
points differ (`cli_main(cfg)`, async or not, or `build_config` + `train.main` in `__main__`), but
all of them parse `chz.entrypoint(CLIConfig)` from the command line.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.chz_schema import ConfigSchema, schema_for
from cookbook_tui.recipes.schema import ENTRY_CONFIG_CLASS
from cookbook_tui.runners.workflows.common import Stage, StageContext


def _arg(value: Any) -> str:
    """A TOML value as chz parses it from the command line (its `_simplistic_try_cast`)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return ",".join(_arg(v) for v in value)  # chz splits lists and tuples on commas
    return repr(value)  # numbers; tables as Python literals (ast.literal_eval)


def config_argv(fields: dict[str, Any], schema: ConfigSchema | None, prefix: str = "") -> list[str]:
    """`[config]` as `key=value` arguments; a sub-table of a nested chz config becomes dotted keys
    (`stream_minibatch_config.num_minibatches=2`)."""
    argv: list[str] = []
    for key, value in fields.items():
        spec = schema.fields.get(key) if schema is not None else None
        if isinstance(value, dict) and spec is not None and spec.nested is not None:
            argv += config_argv(value, spec.nested, f"{prefix}{key}.")
        else:
            argv.append(f"{prefix}{key}={_arg(value)}")
    return argv


def entry_argv(recipe: Recipe, ctx: StageContext, schema: ConfigSchema) -> list[str]:
    """The module's command line: the recipe's `[config]`, then what the runner supplies."""
    argv = config_argv(recipe.cookbook_fields, schema)
    argv.append(f"log_path={ctx.log_path}")
    if "base_url" in schema.fields and ctx.base_url:
        argv.append(f"base_url={ctx.base_url}")
    if "behavior_if_log_dir_exists" in schema.fields:
        # Our run dir exists before the module starts (status.json, recipe.toml); "resume" finds
        # no checkpoint in a fresh one and starts at step 0, and continues a --resume'd one.
        argv.append("behavior_if_log_dir_exists=resume")
    return argv


@contextlib.contextmanager
def _environment(base_url: str | None) -> Iterator[None]:
    """TINKER_BASE_URL for modules whose CLIConfig has no base_url (text_arena, shorter, …):
    every tinker.ServiceClient they build reads it."""
    saved = os.environ.get("TINKER_BASE_URL")
    if base_url:
        os.environ["TINKER_BASE_URL"] = base_url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TINKER_BASE_URL", None)
        else:
            os.environ["TINKER_BASE_URL"] = saved


ROLLOUTS_PER_STEP = 4


@contextlib.contextmanager
def _recording_rollouts(run_dir: str) -> Iterator[None]:
    """Rollouts into samples.jsonl, as the curated RL workflows write them: an RL module builds
    its own rl.train.Config, so `tinker_cookbook.rl.train.main` is wrapped for the run to record
    through that Config's dataset builder. The module, executed afresh as `__main__`, binds the
    wrapper whether it calls `train.main(...)` or imported `main` by name."""
    import chz
    from tinker_cookbook.rl import train

    from cookbook_tui.runners.samples import RecordingRLDatasetBuilder

    original = train.main

    async def main(config: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(config, train.Config) and config.log_path == run_dir:
            recording = RecordingRLDatasetBuilder(
                inner=config.dataset_builder,
                run_dir=run_dir,
                model_name_for_tokenizer=config.model_name,
                per_step=ROLLOUTS_PER_STEP,
            )
            config = chz.replace(config, dataset_builder=recording)
        return await original(config, *args, **kwargs)

    train.main = main
    try:
        yield
    finally:
        train.main = original


class EntryFailed(RuntimeError):
    """The entry module exited with a non-zero status."""


def run_entry(entry: str, argv: list[str], base_url: str | None, run_dir: str) -> None:
    saved_argv = sys.argv
    sys.argv = [entry, *argv]
    try:
        with _environment(base_url), _recording_rollouts(run_dir), warnings.catch_warnings():
            # The validator imported the module by name; runpy then warns that `__main__` is a
            # second copy, which is exactly what `python -m` would run.
            warnings.filterwarnings("ignore", message=".*found in sys.modules.*", category=RuntimeWarning)
            runpy.run_module(entry, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise EntryFailed(f"{entry} exited with status {exc.code}") from None
    finally:
        sys.argv = saved_argv


def parsed_cli_config(entry: str, argv: list[str]) -> Any:
    """The module's CLIConfig as its `__main__` would parse it (for the dry run and to fail early
    on anything chz refuses that the validator let through)."""
    import chz

    from cookbook_tui.recipes.chz_schema import load_target

    cls = load_target(f"{entry}:{ENTRY_CONFIG_CLASS}")
    return chz.Blueprint(cls).make_from_argv(argv)


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    entry = recipe.entry
    assert entry is not None  # the validator requires it
    schema = schema_for(f"{entry}:{ENTRY_CONFIG_CLASS}", in_process=True)
    argv = entry_argv(recipe, ctx, schema)
    config = parsed_cli_config(entry, argv)
    max_steps = getattr(config, "max_steps", None)
    return Stage(
        "train",
        config,
        lambda: run_entry(entry, argv, ctx.base_url, str(ctx.log_path)),
        max_steps if isinstance(max_steps, int) else None,
        command=["python", "-m", entry, *argv],
    )
