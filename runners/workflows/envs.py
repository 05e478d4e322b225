"""Knobs on tinker-cookbook's bundled RL environments, so they fit a tiny model on a laptop.

The envs themselves (rewards, turns, rendering) are the cookbook's; these builders only change
sizes the cookbook hard-codes: the arithmetic operands' range, and guess-the-number's range and
turn limit.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from functools import partial

import chz
import numpy as np
from tinker_cookbook import renderers
from tinker_cookbook.recipes.math_rl.arithmetic_env import ArithmeticDataset, ArithmeticEnv
from tinker_cookbook.recipes.multiplayer_rl.guess_number import env as guess
from tinker_cookbook.rl.problem_env import ProblemGroupBuilder
from tinker_cookbook.rl.types import Env, EnvGroupBuilder, RLDataset, RLDatasetBuilder, StepResult
from tinker_cookbook.tokenizer_utils import get_tokenizer


class _BoundedArithmeticDataset(ArithmeticDataset):
    def __init__(self, *, max_operand: int, **kwargs):
        super().__init__(**kwargs)
        self.max_operand = max_operand

    def _make_env_group_builder(self, rng: np.random.RandomState) -> ProblemGroupBuilder:
        x = rng.randint(0, self.max_operand + 1)
        y = rng.randint(0, self.max_operand + 1)
        prefix = ArithmeticEnv.standard_fewshot_prefix() if self.include_fewshot else None
        return ProblemGroupBuilder(
            env_thunk=partial(ArithmeticEnv, x, y, convo_prefix=prefix, renderer=self.renderer),
            num_envs=self.group_size,
        )


@chz.chz
class ArithmeticDatasetBuilder(RLDatasetBuilder):
    """tinker-cookbook's arithmetic env (math_rl/arithmetic_env.py) with the operand range as a
    knob: 100 (the cookbook's) for real models, single digits for the tiny one."""

    batch_size: int
    model_name_for_tokenizer: str
    renderer_name: str
    n_batches: int
    group_size: int
    include_fewshot: bool = True
    max_operand: int = 100

    async def __call__(self) -> tuple[RLDataset, None]:
        tokenizer = get_tokenizer(self.model_name_for_tokenizer)
        return (
            _BoundedArithmeticDataset(
                max_operand=self.max_operand,
                batch_size=self.batch_size,
                renderer=renderers.get_renderer(self.renderer_name, tokenizer=tokenizer),
                group_size=self.group_size,
                n_batches=self.n_batches,
                include_fewshot=self.include_fewshot,
            ),
            None,
        )


def guess_system_prompt(upper_bound: int) -> str:
    """The env's own instructions, naming this range instead of 0..1024."""
    return guess.SYSTEM_PROMPT.replace(str(guess._UPPER_BOUND), str(upper_bound))


class _BoundedGuessNumberEnv(guess.GuessNumberEnv):
    def __init__(self, gold_answer: int, renderer: renderers.Renderer, upper_bound: int, max_turns: int):
        super().__init__(gold_answer, renderer)
        self.system_prompt = {"role": "system", "content": guess_system_prompt(upper_bound)}
        self.max_turns = max_turns

    async def step(self, action, *, extra=None) -> StepResult:
        result = await super().step(action, extra=extra)
        if not result.episode_done and len(self.turns) // 2 >= self.max_turns:
            result = dataclasses.replace(result, episode_done=True)
        return result


@dataclasses.dataclass(frozen=True)
class _BoundedGroupBuilder(EnvGroupBuilder):
    answer: int
    renderer: renderers.Renderer
    num_envs: int
    upper_bound: int
    max_turns: int

    async def make_envs(self) -> Sequence[Env]:
        return [
            _BoundedGuessNumberEnv(self.answer, self.renderer, self.upper_bound, self.max_turns)
            for _ in range(self.num_envs)
        ]


@dataclasses.dataclass(frozen=True)
class _BoundedGuessDataset(RLDataset):
    answers: Sequence[int]
    renderer: renderers.Renderer
    batch_size: int
    group_size: int
    upper_bound: int
    max_turns: int

    def get_batch(self, index: int) -> Sequence[EnvGroupBuilder]:
        return [
            _BoundedGroupBuilder(
                self.answers[(index * self.batch_size + i) % len(self.answers)],
                self.renderer,
                self.group_size,
                self.upper_bound,
                self.max_turns,
            )
            for i in range(self.batch_size)
        ]

    def __len__(self) -> int:
        return max(1, len(self.answers) // self.batch_size)


@chz.chz
class GuessNumberDatasetBuilder(RLDatasetBuilder):
    """tinker-cookbook's guess-the-number game (multiplayer_rl/guess_number) over 0..upper_bound
    with at most max_turns guesses; 1024 and 10 are the cookbook's own values."""

    batch_size: int
    group_size: int
    model_name: str
    renderer_name: str
    upper_bound: int = guess._UPPER_BOUND
    max_turns: int = guess.MAX_TURNS
    # Each answer is played this many times over the run (the cookbook plays each once).
    repeats: int = 1

    async def __call__(self) -> tuple[RLDataset, None]:
        renderer = renderers.get_renderer(self.renderer_name, get_tokenizer(self.model_name))
        # Every pass over the range is its own shuffle, so a batch of upper_bound groups holds each
        # answer once: the step-to-step reward then measures the policy, not which answers (some
        # far easier than others: the middle one is binary search's first guess) were drawn.
        rng = random.Random(0)
        passes = [rng.sample(range(self.upper_bound), self.upper_bound) for _ in range(self.repeats)]
        answers = [n for one_pass in passes for n in one_pass]
        return (
            _BoundedGuessDataset(
                answers, renderer, self.batch_size, self.group_size, self.upper_bound, self.max_turns
            ),
            None,
        )
