"""Which metrics go on which plot, and the smoothing the plots offer.

tinker-cookbook's keys differ per workflow (SFT `train_mean_nll`/`test/nll`, DPO `dpo_loss`, RL
`optim/kl_sample_train_v1`, distillation `teacher_kl`, ...): a plot shows whichever its run has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


def _is_loss(key: str) -> bool:
    last = key.rsplit("/", 1)[-1]
    # "num_loss_tokens" counts tokens: only names that end in the quantity are losses.
    return not key.startswith("time/") and (last.endswith("nll") or last.endswith("loss"))


def _is_kl(key: str) -> bool:
    last = key.rsplit("/", 1)[-1]
    return not key.startswith("time/") and (last.startswith("kl") or "_kl" in last)


def _is_reward(key: str) -> bool:
    return key.endswith("reward/total") or key == "accuracy" or key.endswith("/accuracy")


@dataclass(frozen=True)
class MetricGroup:
    id: str
    title: str
    matches: Callable[[str], bool]


METRIC_GROUPS = (
    MetricGroup("loss", "Loss", _is_loss),
    MetricGroup("kl", "KL", _is_kl),
    MetricGroup("reward", "Reward / accuracy", _is_reward),
)


def keys_for(group: MetricGroup, keys: list[str]) -> list[str]:
    return [key for key in keys if group.matches(key)]


def primary_loss_key(keys: list[str]) -> str | None:
    """The key to overlay when comparing runs: the first training loss the run has."""
    preferred = ("train_mean_nll", "dpo_loss", "loss")
    for key in preferred:
        if key in keys:
            return key
    losses = keys_for(METRIC_GROUPS[0], keys)
    return losses[0] if losses else None


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with TensorBoard's bias correction, so the start is not pulled to 0."""
    out: list[float] = []
    average = 0.0
    for count, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**count))
    return out


def thin(steps: list[int], values: list[float], limit: int = 1000) -> tuple[list[int], list[float]]:
    """At most `limit` points for plotting: a terminal plot has fewer columns than that anyway."""
    if len(steps) <= limit:
        return steps, values
    stride = len(steps) / limit
    picks = sorted({int(i * stride) for i in range(limit)} | {len(steps) - 1})
    return [steps[i] for i in picks], [values[i] for i in picks]
