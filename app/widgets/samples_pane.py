"""Samples of one step at a time (scrub with [ and ], or move the chart cursor): prompt, completion,
reward, loss mask; RL rollouts recorded in whole groups show as a GRPO group view (each rollout's
reward and advantage = reward - its group's mean) under a reward histogram of the step."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from cookbook_tui.app.loss_mask import legend, segments_content
from cookbook_tui.app.printable import printable

# A large RL batch has hundreds of rollouts a step; a pane of widgets that long helps nobody.
SHOWN_PER_STEP = 32


def sample_content(sample: dict[str, Any]) -> Content:
    reward = sample.get("reward")
    head = Content.assemble(
        (f"{sample.get('kind', 'sample')}", "bold $text-accent"),
        "  reward ",
        (f"{reward:.3f}" if isinstance(reward, (int, float)) else "–", "bold"),
        "\n",
    )
    if sample.get("segments"):
        body = segments_content(sample["segments"])
    else:
        body = Content.assemble(
            (printable(str(sample.get("prompt", ""))), "$text-muted"),
            (printable(str(sample.get("completion", ""))), "bold $text-success"),
        )
    reference = sample.get("reference")
    expected = Content.assemble(("\nexpected ", "$text-muted"), printable(str(reference))) if reference is not None else ""
    return Content.assemble(head, body, expected)


HISTOGRAM_BINS = 10
BARS = " ▁▂▃▄▅▆▇█"


def reward_histogram(rewards: list[float]) -> Content:
    """One line: the step's rewards in HISTOGRAM_BINS bins between their min and max, with counts."""
    if not rewards:
        return Content("")
    low, high = min(rewards), max(rewards)
    span = (high - low) or 1.0
    counts = [0] * HISTOGRAM_BINS
    for reward in rewards:
        counts[min(int((reward - low) / span * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
    top = max(counts)
    bars = "".join(BARS[round(c / top * (len(BARS) - 1))] if c else "·" for c in counts)
    mean = sum(rewards) / len(rewards)
    return Content.assemble(
        (" rewards ", "$text-muted"), (f"{low:.3g} ", "$text-muted"), (bars, "bold $text-accent"),
        (f" {high:.3g}", "$text-muted"), "   mean ", (f"{mean:.3f}", "bold"), f"  n={len(rewards)}",
    )


def group_rows(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(int(row["group"]), []).append(row)
    for members in groups.values():
        members.sort(key=lambda r: r.get("rollout", 0))
    return dict(sorted(groups.items()))


def group_content(group: int, members: list[dict[str, Any]]) -> Content:
    rewards = [r["reward"] for r in members if isinstance(r.get("reward"), (int, float))]
    mean = sum(rewards) / len(rewards) if rewards else 0.0
    head = Content.assemble(
        (f"group {group}", "bold $text-accent"), f"  {len(members)} rollouts  mean reward ",
        (f"{mean:.3f}", "bold"), "  ", (printable(str(members[0].get("prompt", ""))).strip().replace("\n", " ⏎ ")[-100:], "$text-muted"), "\n",
    )
    lines = [head]
    for row in members:
        reward = row.get("reward")
        advantage = reward - mean if isinstance(reward, (int, float)) else None
        style = "$text-success" if advantage is not None and advantage > 0 else "$text-error" if advantage is not None and advantage < 0 else ""
        lines.append(Content.assemble(
            (f"  #{row.get('rollout', '?')}", "$text-muted"),
            "  reward ", (f"{reward:.3f}" if isinstance(reward, (int, float)) else "–", "bold"),
            "  adv ", (f"{advantage:+.3f}" if advantage is not None else "–", f"bold {style}"),
            "  ", (printable(str(row.get("completion", ""))).replace("\n", " ⏎ ")[:160], ""), "\n",
        ))
    return Content.assemble(*lines)


def step_summary(rows: list[dict[str, Any]]) -> str:
    """The step's score at a glance: `9/16 exact` for held-out answers scored right or wrong,
    else the mean reward; empty when nothing is scored."""
    rewards = [row["reward"] for row in rows if isinstance(row.get("reward"), (int, float))]
    if not rewards:
        return ""
    if all(row.get("kind") == "heldout" for row in rows) and set(rewards) <= {0, 1}:
        return f"{int(sum(rewards))}/{len(rewards)} exact"
    return f"mean reward {sum(rewards) / len(rewards):.3f}"


class SamplesPane(Vertical, can_focus=True):
    DEFAULT_CSS = """
    SamplesPane { height: 1fr; }
    SamplesPane #samples-header { height: 1; background: $panel; }
    SamplesPane .sample { margin-bottom: 1; padding: 0 1; border-left: tall $primary-muted; }
    """

    BINDINGS = [
        Binding("left_square_bracket", "previous_step", "Earlier step", id="samples.previous"),
        Binding("right_square_bracket", "next_step", "Later step", id="samples.next"),
    ]

    step_index: reactive[int] = reactive(-1, init=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.samples: list[dict[str, Any]] = []
        self.steps: list[int] = []
        self.follow = True  # stay on the newest step until the user scrubs back

    def compose(self) -> ComposeResult:
        yield Static(id="samples-header")
        yield VerticalScroll(id="samples-body")

    def add_samples(self, rows: list[dict[str, Any]]) -> None:
        self.samples.extend(rows)
        self.steps = sorted({row["step"] for row in self.samples if isinstance(row.get("step"), int)})
        index = len(self.steps) - 1 if self.follow or self.step_index < 0 else self.step_index
        if index != self.step_index:
            self.step_index = index  # its watcher shows the step
        else:
            self.show_step()  # same step, more samples

    def show_step_at(self, step: float | None) -> None:
        """Follow the chart cursor: the latest sampled step at or before `step` (None: the newest)."""
        if not self.steps:
            return
        if step is None:
            self.follow = True
            index = len(self.steps) - 1
        else:
            index = max(bisect_right(self.steps, step) - 1, 0)
            self.follow = index == len(self.steps) - 1 and step >= self.steps[-1]
        if index != self.step_index:
            self.step_index = index

    def action_previous_step(self) -> None:
        if self.step_index > 0:
            self.follow = False
            self.step_index -= 1

    def action_next_step(self) -> None:
        if self.step_index < len(self.steps) - 1:
            self.step_index += 1
            self.follow = self.step_index == len(self.steps) - 1

    def watch_step_index(self) -> None:
        self.show_step()

    def show_step(self) -> None:
        header = self.query_one("#samples-header", Static)
        body = self.query_one("#samples-body", VerticalScroll)
        body.remove_children()
        if not self.steps:
            header.update(Content(" no samples yet"))
            return
        step = self.steps[self.step_index]
        rows = [row for row in self.samples if row.get("step") == step]
        grouped = [row for row in rows if isinstance(row.get("group"), int)]
        if grouped:
            self.show_groups(step, grouped)
            return
        count = f"{len(rows)} samples" if len(rows) <= SHOWN_PER_STEP else f"first {SHOWN_PER_STEP} of {len(rows)} samples"
        summary = step_summary(rows)
        header.update(
            Content.assemble(
                f" step {step} ({self.step_index + 1} of {len(self.steps)}), {count}",
                (f", {summary}", "bold") if summary else "",
                "   [ earlier   ] later   ",
                legend(),
            )
        )
        body.mount_all(Static(sample_content(row), classes="sample") for row in rows[:SHOWN_PER_STEP])

    def show_groups(self, step: int, rows: list[dict[str, Any]]) -> None:
        groups = group_rows(rows)
        header = self.query_one("#samples-header", Static)
        header.update(Content(
            f" step {step} ({self.step_index + 1} of {len(self.steps)}), {len(groups)} groups, "
            f"{len(rows)} rollouts   [ earlier   ] later   (the chart cursor moves it too)"
        ))
        rewards = [r["reward"] for r in rows if isinstance(r.get("reward"), (int, float))]
        body = self.query_one("#samples-body", VerticalScroll)
        body.mount(Static(reward_histogram(rewards), classes="histogram"))
        body.mount_all(Static(group_content(g, members), classes="sample") for g, members in groups.items())
