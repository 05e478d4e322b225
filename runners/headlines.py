"""The metrics worth a glance, per workflow: one table for the charts pinned first, the headline
column of the runs table and of `cookbook-tui runs`, and the headless progress line.

The keys are the ones tinker-cookbook's loops log; the first of each workflow's is its headline
metric. A run of unknown workflow (a `workflow = "cookbook"` module, a run dir tinker-cookbook
wrote alone) takes the workflow whose keys its metrics have most of.
"""

from __future__ import annotations

from collections.abc import Iterable

HEADLINE_KEYS: dict[str, tuple[str, ...]] = {
    "sl": ("train_mean_nll", "test/nll", "samples/exact_match"),
    "rl": ("env/all/reward/total", "optim/kl_sample_train_v1", "optim/entropy"),
    "multiturn_rl": ("env/all/reward/total", "env/all/turns_per_episode", "optim/kl_sample_train_v1", "optim/entropy"),
    "dpo": ("dpo_loss", "accuracy", "margin", "samples/exact_match"),
    "distill": ("teacher_kl", "test/samples/exact_match"),  # the distill loop prefixes "test/"
}
# A recipe's [warmup] stage is a short SFT.
WARMUP_KEYS: tuple[str, ...] = HEADLINE_KEYS["sl"][:1]


def infer_workflow(keys: Iterable[str]) -> str | None:
    """The workflow whose headline keys a run logs most of, or None if it logs none."""
    present = set(keys)
    best, best_count = None, 0
    for workflow, headline in HEADLINE_KEYS.items():
        count = sum(key in present for key in headline)
        if count > best_count:
            best, best_count = workflow, count
    return best


def headline_keys(workflow: str | None, keys: Iterable[str]) -> list[str]:
    """The workflow's headline keys that are among `keys`, in the table's order."""
    present = list(keys)
    if workflow not in HEADLINE_KEYS:
        workflow = infer_workflow(present)
    wanted = HEADLINE_KEYS.get(workflow or "", ())
    return [key for key in wanted if key in present]
