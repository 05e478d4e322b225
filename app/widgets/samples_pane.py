"""Samples of one step at a time (scrub with [ and ]): prompt, completion, reward, loss mask."""

from __future__ import annotations

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
