"""samples.jsonl writers, hooked into tinker-cookbook's own extension points.

- `HeldoutSampler`: a cookbook `SamplingClientEvaluator` (the loops call it every N steps with a
  sampling client on the current weights). It answers held-out prompts greedily, writes them with
  their loss-mask segments, and returns `samples/exact_match` when references are known.
- `RecordingRLDatasetBuilder`: wraps an RL dataset builder so the envs it makes record whole
  groups of rollouts (prompt, completion, reward, `group`, `rollout`) as they happen, so the TUI can
  show a GRPO group view (advantage = reward - the group's mean). The bound: the first
  min(samples.count, MAX_GROUPS_PER_STEP) groups of each step, at most MAX_ROLLOUTS_PER_GROUP
  rollouts each (<= 4 x 32 rows a step), which keeps samples.jsonl small on long runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chz
import tinker
from tinker_cookbook import renderers
from tinker_cookbook.eval.evaluators import SamplingClientEvaluator
from tinker_cookbook.rl.types import Env, EnvGroupBuilder, RLDataset, RLDatasetBuilder, StepResult
from tinker_cookbook.tokenizer_utils import get_tokenizer

from cookbook_tui.runners.rundir import append_samples, sample_row

EXACT_MATCH_KEY = "samples/exact_match"
MAX_GROUPS_PER_STEP = 4
MAX_ROLLOUTS_PER_GROUP = 32


def decode_text(tokenizer: Any, tokens: Sequence[int]) -> str:
    """One sequence's text (transformers types `decode` as `str | list[str]`, the list for batches)."""
    text = tokenizer.decode(tokens)
    if not isinstance(text, str):  # pragma: no cover - a flat list of ids decodes to one string
        raise TypeError(f"the tokenizer decoded one sequence to {type(text).__name__}")
    return text


@dataclass(frozen=True)
class HeldoutPrompt:
    prompt: tinker.ModelInput
    reference: str | None


def eval_steps(start_step: int, every: int):
    """The steps at which a loop calling its evaluators `step % every == 0` does so, from
    `start_step` on (a resumed run starts mid-way). The k-th call is at the k-th of these."""
    step = -(-start_step // every) * every
    while True:
        yield step
        step += every


def heldout_from_datums(data: Sequence[tinker.Datum], renderer: renderers.Renderer, stride: int = 1) -> list[HeldoutPrompt]:
    """Held-out prompts cut from rendered supervised examples: the tokens before the first one
    that carries loss are the prompt, the weighted ones the reference (DPO: stride 2, chosen)."""
    prompts = []
    for datum in list(data)[::stride]:
        tokens = datum.model_input.to_ints()
        targets = datum.loss_fn_inputs["target_tokens"].to_numpy().tolist()
        weights = datum.loss_fn_inputs["weights"].to_numpy().tolist()
        first = next((i for i, w in enumerate(weights) if w > 0), None)
        if first is None:
            continue
        answer_tokens = [t for t, w in zip(targets, weights) if w > 0]
        reference, _ = renderer.parse_response(answer_tokens)
        prompts.append(
            HeldoutPrompt(
                prompt=tinker.ModelInput.from_ints(tokens[: first + 1]),
                reference=renderers.get_text_content(reference).strip(),
            )
        )
    return prompts


class HeldoutSampler(SamplingClientEvaluator):
    def __init__(
        self,
        *,
        prompts: Callable[[renderers.Renderer], list[HeldoutPrompt]],
        model_name: str,
        renderer_name: str,
        run_dir: Path,
        start_step: int,
        every: int,
        count: int,
        max_tokens: int,
    ):
        self._prompts_fn = prompts
        self._prompts: list[HeldoutPrompt] | None = None
        self._tokenizer = get_tokenizer(model_name)
        self._renderer = renderers.get_renderer(renderer_name, tokenizer=self._tokenizer)
        self._run_dir = run_dir
        self._steps = eval_steps(start_step, every)
        self._count = count
        self._max_tokens = max_tokens

    async def __call__(self, sampling_client: tinker.SamplingClient) -> dict[str, float]:
        step = next(self._steps)
        if self._prompts is None:
            self._prompts = self._prompts_fn(self._renderer)[: self._count]
        if not self._prompts:
            return {}
        params = tinker.SamplingParams(
            max_tokens=self._max_tokens, temperature=0.0, stop=self._renderer.get_stop_sequences()
        )
        responses = await asyncio.gather(
            *[sampling_client.sample(p.prompt, num_samples=1, sampling_params=params) for p in self._prompts]
        )
        rows, matches = [], []
        for item, response in zip(self._prompts, responses):
            tokens = response.sequences[0].tokens
            message, _ = self._renderer.parse_response(tokens)
            answer = renderers.get_text_content(message).strip()
            prompt_text = decode_text(self._tokenizer, item.prompt.to_ints())
            completion_text = decode_text(self._tokenizer, tokens)
            match = None if item.reference is None else answer == item.reference
            if match is not None:
                matches.append(match)
            rows.append(
                sample_row(
                    step,
                    "heldout",
                    prompt_text,
                    completion_text,
                    reward=None if match is None else float(match),
                    segments=[(prompt_text, 0.0), (completion_text, 1.0)],
                    reference=item.reference,
                )
            )
        append_samples(self._run_dir, rows)
        return {EXACT_MATCH_KEY: sum(matches) / len(matches)} if matches else {}


# ------------------------------------------------------------------------------------ RL rollouts


class _Recorder:
    """Collects one episode's turns and writes the row when it ends."""

    def __init__(self, run_dir: Path, tokenizer: Any, step: int):
        self.run_dir = run_dir
        self.tokenizer = tokenizer
        self.step = step


class _RecordingEnv(Env):
    def __init__(self, inner: Env, recorder: _Recorder, group: int, rollout: int):
        self._inner = inner
        self._recorder = recorder
        self._group = group
        self._rollout = rollout
        self._prompt = ""
        self._turns: list[str] = []
        self._reward = 0.0

    def __getattr__(self, name: str) -> Any:  # group builders may read their envs' attributes
        return getattr(self._inner, name)

    async def initial_observation(self):
        observation, stop = await self._inner.initial_observation()
        self._prompt = self._recorder.tokenizer.decode(observation.to_ints())
        return observation, stop

    async def step(self, action, *, extra=None) -> StepResult:
        result = await self._inner.step(action, extra=extra)
        self._turns.append(self._recorder.tokenizer.decode(list(action)))
        self._reward += float(result.reward)
        if result.episode_done:
            segments = [(self._prompt, 0.0)] + [(turn, 1.0) for turn in self._turns]
            append_samples(
                self._recorder.run_dir,
                [
                    sample_row(
                        self._recorder.step,
                        "rollout",
                        self._prompt,
                        "\n".join(self._turns),
                        reward=self._reward,
                        segments=segments,
                        turns=len(self._turns),
                        group=self._group,
                        rollout=self._rollout,
                    )
                ],
            )
        return result


class _RecordingGroupBuilder(EnvGroupBuilder):
    """Delegates to the wrapped builder; the group's envs (up to the bound) record their episodes."""

    def __init__(self, inner: EnvGroupBuilder, recorder: _Recorder, group: int):
        self._inner = inner
        self._recorder = recorder
        self._group = group

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def make_envs(self) -> Sequence[Env]:
        envs = list(await self._inner.make_envs())
        return [
            _RecordingEnv(env, self._recorder, self._group, index) if index < MAX_ROLLOUTS_PER_GROUP else env
            for index, env in enumerate(envs)
        ]

    async def compute_group_rewards(self, trajectory_group, env_group):
        inner_envs = [e._inner if isinstance(e, _RecordingEnv) else e for e in env_group]
        return await self._inner.compute_group_rewards(trajectory_group, inner_envs)

    async def cleanup(self) -> None:
        await self._inner.cleanup()

    def logging_tags(self) -> list[str]:
        return self._inner.logging_tags()


class _RecordingDataset(RLDataset):
    def __init__(self, inner: RLDataset, run_dir: Path, tokenizer: Any, per_step: int):
        self._inner = inner
        self._run_dir = run_dir
        self._tokenizer = tokenizer
        self._per_step = per_step

    def get_batch(self, index: int) -> Sequence[EnvGroupBuilder]:
        builders = list(self._inner.get_batch(index))
        # Synchronous training asks for batch i at step i: that is the step the rows carry.
        recorder = _Recorder(self._run_dir, self._tokenizer, index)
        groups = min(self._per_step, MAX_GROUPS_PER_STEP)
        return [_RecordingGroupBuilder(b, recorder, i) if i < groups else b for i, b in enumerate(builders)]

    def __len__(self) -> int:
        return len(self._inner)

    def __getattr__(self, name: str) -> Any:  # e.g. CompositeDataset reads datasets' attributes
        return getattr(self._inner, name)


@chz.chz
class RecordingRLDatasetBuilder(RLDatasetBuilder):
    """An RL dataset builder whose training envs write the first `per_step` groups of each step
    (at most MAX_GROUPS_PER_STEP, each whole up to MAX_ROLLOUTS_PER_GROUP rollouts) to
    samples.jsonl. The test set (if any) passes through unrecorded."""

    inner: RLDatasetBuilder
    run_dir: str
    model_name_for_tokenizer: str
    per_step: int = 4

    async def __call__(self) -> tuple[RLDataset, RLDataset | None]:
        train, test = await self.inner()
        tokenizer = get_tokenizer(self.model_name_for_tokenizer)
        return _RecordingDataset(train, Path(self.run_dir), tokenizer, self.per_step), test
