"""`--dry-run`: the tinker-cookbook config a recipe resolves to, the dataset's size and the first
training example with its loss mask, without starting a backend or training anything."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from cookbook_tui.recipes import Recipe

MASKED_STYLE = "dim"
TRAINED_STYLE = "bold green"


def datum_segments(datum: Any, tokenizer: Any) -> list[tuple[str, float]]:
    """A rendered example as (text, loss weight) runs: weight 0 is context, > 0 is trained on.

    A Datum holds tokens[:-1] as input and tokens[1:] as targets with per-target weights, so the
    first token has no weight (context) and token i+1 carries weights[i].
    """
    inputs = datum.model_input.to_ints()
    targets = datum.loss_fn_inputs["target_tokens"].to_numpy().tolist()
    weights = datum.loss_fn_inputs["weights"].to_numpy().tolist()
    tokens = inputs[:1] + targets
    token_weights = [0.0] + [float(w) for w in weights]
    runs: list[tuple[list[int], float]] = []
    for token, weight in zip(tokens, token_weights):
        if runs and (runs[-1][1] > 0) == (weight > 0):
            runs[-1][0].append(token)
        else:
            runs.append(([token], weight))
    return [(tokenizer.decode(ids), weight) for ids, weight in runs]


def _render_segments(console: Console, segments: list[tuple[str, float]]) -> None:
    text = Text()
    for chunk, weight in segments:
        text.append(chunk, style=TRAINED_STYLE if weight > 0 else MASKED_STYLE)
    console.print(text)


def _first_examples(recipe: Recipe, config: Any) -> tuple[str, list[list[tuple[str, float]]], str]:
    """(size line, examples as segments, note) for the main stage's dataset."""
    from tinker_cookbook.tokenizer_utils import get_tokenizer

    tokenizer = get_tokenizer(recipe.model_name)
    if recipe.workflow in ("sl", "dpo"):
        train, test = config.dataset_builder()
        batch = train.get_batch(0)
        held = len(test.get_batch(0)) if test is not None else 0
        unit = "pairs" if recipe.workflow == "dpo" else "examples"
        per_batch = len(batch) // 2 if recipe.workflow == "dpo" else len(batch)
        held = held // 2 if recipe.workflow == "dpo" else held
        size = f"{len(train)} batches of {per_batch} {unit}; {held} held out"
        shown = batch[:2] if recipe.workflow == "dpo" else batch[:1]
        note = "chosen, then rejected" if recipe.workflow == "dpo" else ""
        return size, [datum_segments(d, tokenizer) for d in shown], note
    builder = config.dataset_builder if recipe.workflow != "distill" else config.dataset_configs[0].dataset_builder
    dataset, _ = asyncio.run(builder())
    groups = dataset.get_batch(0)
    size = f"{len(dataset)} batches of {len(groups)} prompts x {recipe.rollouts.group_size} rollouts"

    from cookbook_tui.runners.samples import decode_text

    async def first_prompt() -> str:
        envs = await groups[0].make_envs()
        observation, _ = await envs[0].initial_observation()
        return decode_text(tokenizer, observation.to_ints())

    prompt = asyncio.run(first_prompt())
    return size, [[(prompt, 0.0)]], "the prompt; the policy's sampled tokens are what the loss covers"


@contextlib.contextmanager
def _quiet_libraries():
    """Library chatter (FutureWarnings, the tiny model's first-build progress bar) stays off the
    dry run's output; there is no run dir to send it to."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _show_entry(console: Console, stage: Any, dump_config: Any) -> None:
    """workflow "cookbook": the command the runner runs and the CLIConfig it parses to."""
    console.print(Text("runs, in the runner process:", style="bold"))
    console.print(Text(" ".join(stage.command)), soft_wrap=True)
    console.print(Text(f"parsed {type(stage.config).__name__}:", style="bold"))
    console.print_json(json.dumps(dump_config(stage.config), default=str))
    if stage.expected_steps:
        console.print(Text.assemble(("steps: ", "bold"), str(stage.expected_steps)))


def show_dry_run(recipe: Recipe, console: Console) -> None:
    from tinker_cookbook.utils.ml_log import dump_config

    from cookbook_tui.runners.tiny_model_cookbook import register_with_cookbook
    from cookbook_tui.runners.workflows import StageContext, build_stage, build_warmup

    register_with_cookbook()

    if recipe.backend == "local":
        from cookbook_tui.common.tiny_model import ensure_tiny_model, is_tiny_model, set_offline_env

        set_offline_env()
        if is_tiny_model(recipe.model_name):
            with _quiet_libraries():
                ensure_tiny_model()
    console.print(
        Text.assemble(
            ("recipe ", "bold"), recipe.name, "  workflow ", (recipe.workflow, "cyan"),
            "  backend ", (recipe.backend, "cyan"), "  model ", (recipe.model_name, "cyan"),
        )
    )
    for warning in recipe.warnings:
        console.print(Text(str(warning), style="yellow"))
    with tempfile.TemporaryDirectory(prefix="cookbook-tui-dry-run-") as tmp:
        ctx = StageContext(run_dir=Path(tmp), log_path=Path(tmp), base_url=None)
        if recipe.has_warmup:
            warm = build_warmup(recipe, ctx)
            console.print(Text(f"warmup stage ({warm.expected_steps} SFT steps, then the main stage):", style="bold"))
            console.print_json(json.dumps(dump_config(warm.config), default=str))
        stage = build_stage(recipe, ctx)
        if stage.command is not None:
            _show_entry(console, stage, dump_config)
            return
        console.print(Text("resolved tinker-cookbook config:", style="bold"))
        console.print_json(json.dumps(dump_config(stage.config), default=str))
        hub_unreachable = any(w.field in ("dataset.hub", "env.name") for w in recipe.warnings)
        if hub_unreachable:
            console.print(Text("dataset: not loaded (the hub is unreachable from here)", style="yellow"))
            return
        with _quiet_libraries():
            size, examples, note = _first_examples(recipe, stage.config)
    console.print(Text.assemble(("dataset: ", "bold"), size))
    if stage.expected_steps:
        console.print(Text.assemble(("steps: ", "bold"), str(stage.expected_steps)))
    console.print(
        Text.assemble(
            ("first training example", "bold"), f" ({note}) " if note else " ",
            ("trained on", TRAINED_STYLE), " / ", ("context (no loss)", MASKED_STYLE), ":",
        )
    )
    for segments in examples:
        _render_segments(console, segments)
