"""Generate the data files the bundled recipes train on (shipped in recipes/data/).

Deterministic: `python -m cookbook_tui.recipes.data_gen` rewrites the same bytes, and a test checks
that the shipped files equal this output. Small on purpose: the tiny model learns from them in
seconds on a laptop CPU.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from cookbook_tui.common.files import write_atomic  # stdlib only
from cookbook_tui.recipes.paths import DATA_DIR

# The guess-the-number env's system prompt (tinker_cookbook.recipes.multiplayer_rl.guess_number)
# for the range the bundled recipe plays (env.options.upper_bound), copied so generating data needs
# no tinker_cookbook import; a test checks it against the runner's env.
GUESS_UPPER_BOUND = 8
GUESS_SYSTEM_PROMPT = (
    f"Your job is to guess a integer between 0 and {GUESS_UPPER_BOUND}. You can output your guess "
    "with the format Guess: <guess> (without the angle brackets), and say nothing else. Then we will "
    "tell you whether you guess is too high, too low, or correct."
)


def _addition_prompt(a: int, b: int) -> str:
    # The phrasing of tinker-cookbook's ArithmeticEnv, so SFT, RL and distillation share one task.
    return f"What is {a} + {b}?"


def arithmetic_chat() -> Iterator[dict]:
    """Every single-digit addition as a chat, in a fixed shuffled order."""
    pairs = [(a, b) for a in range(10) for b in range(10)]
    random.Random(0).shuffle(pairs)
    for a, b in pairs:
        yield {
            "messages": [
                {"role": "user", "content": _addition_prompt(a, b)},
                {"role": "assistant", "content": str(a + b)},
            ]
        }


def arithmetic_prompts() -> Iterator[dict]:
    """Prompts for on-policy distillation: the student answers, the teacher grades token by token.
    Each problem three times, so a run has enough batches; `answer` scores held-out samples."""
    rows = list(arithmetic_chat())
    for _ in range(3):
        for row in rows:
            yield {"prompt": row["messages"][0]["content"], "answer": row["messages"][1]["content"]}


def preference_pairs() -> Iterator[dict]:
    """DPO pairs: the bare right sum preferred over a hedged wrong one ("I think it is 9."), in
    the spirit of tinker-cookbook's synthetic preference/shorter recipe: a preference a tiny
    model can learn from 100 pairs, so accuracy and margin visibly rise."""
    rng = random.Random(1)
    for a in range(10):
        for b in range(10):
            right = a + b
            wrong = right + rng.choice([-3, -2, -1, 1, 2, 3])
            if wrong < 0:
                wrong = right + rng.randint(1, 3)
            chosen = [{"role": "assistant", "content": str(right)}]
            rejected = [{"role": "assistant", "content": f"I think it is {wrong}."}]
            label = rng.choice("AB")
            yield {
                "comparison": {
                    "prompt_conversation": [{"role": "user", "content": _addition_prompt(a, b)}],
                    "completion_A": chosen if label == "A" else rejected,
                    "completion_B": rejected if label == "A" else chosen,
                },
                "label": label,
            }


def guess_number_chat() -> Iterator[dict]:
    """Binary-search games in the guess-the-number env's format, one conversation per turn.

    The env replays the player's earlier turns with role "player" and asks for the next one after
    `<|im_start|>assistant`, so each conversation ends with the guess to learn as "assistant".
    """
    rng = random.Random(2)
    for _ in range(120):
        target = rng.randrange(GUESS_UPPER_BOUND)
        low, high = 0, GUESS_UPPER_BOUND
        history: list[dict] = [{"role": "system", "content": GUESS_SYSTEM_PROMPT}]
        for _turn in range(10):
            guess = (low + high) // 2
            yield {"messages": history + [{"role": "assistant", "content": f"Guess: {guess}"}]}
            if guess == target:
                break
            feedback = "Too low" if guess < target else "Too high"
            if guess < target:
                low = guess + 1
            else:
                high = guess
            history = history + [
                {"role": "player", "content": f"Guess: {guess}"},
                {"role": "user", "content": feedback},
            ]


GENERATORS = {
    "arithmetic_chat.jsonl": arithmetic_chat,
    "arithmetic_prompts.jsonl": arithmetic_prompts,
    "preference_pairs.jsonl": preference_pairs,
    "guess_number_chat.jsonl": guess_number_chat,
}


def render(name: str) -> str:
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in GENERATORS[name]())


def write_all(dest: Path = DATA_DIR) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name in GENERATORS:
        path = dest / name
        write_atomic(path, render(name))
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR):
        print(written_path)
