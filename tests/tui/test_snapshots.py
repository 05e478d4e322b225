"""Every screen in its main states, drawn from fixture run dirs and recipes (see factory.py).

Synchronous tests on purpose: pytest-textual-snapshot's snap_compare runs the app itself.
"""

from __future__ import annotations

from pathlib import Path

from cookbook_tui.screens.dialogs import QuitScreen
from cookbook_tui.screens.dry_run import DryRunScreen

from .factory import FIXTURE_RECIPES, TERMINAL, make_app, make_compare_app
from .waiting import runs_read

SFT_RUN = "run_dirs/arithmetic-sft/20261128-101500"
SFT_LOW_LR_RUN = "run_dirs/arithmetic-sft/20261128-103000"
RL_RUN = "run_dirs/arithmetic-rl/20261128-110000"
DPO_FAILED_RUN = "run_dirs/arithmetic-dpo/20261128-120000"
COOKBOOK_ONLY_RUN = "run_dirs/cookbook-only/sl-basic"


def recipe(name: str):
    return next(r for r in FIXTURE_RECIPES if r.name == name)


def test_recipes_home(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(), terminal_size=TERMINAL)


def test_recipes_filtered_as_you_type(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(), press=["d", "p", "o"], terminal_size=TERMINAL)


def test_help_lists_the_keys_of_the_screen_under_it(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=TERMINAL)


def test_editor_valid_recipe(snap_compare, in_fixtures) -> None:
    async def open_editor(pilot) -> None:
        pilot.app.open_editor(recipe("arithmetic-sft"))
        await pilot.pause()

    assert snap_compare(make_app(), run_before=open_editor, terminal_size=TERMINAL)


def test_editor_shows_a_problem_at_its_line(snap_compare, in_fixtures) -> None:
    async def open_editor(pilot) -> None:
        pilot.app.open_editor(recipe("my-sft"))
        await pilot.pause()

    assert snap_compare(make_app(), run_before=open_editor, terminal_size=TERMINAL)


def test_editor_save_as_dialog(snap_compare, in_fixtures) -> None:
    async def save_as(pilot) -> None:
        pilot.app.open_editor(recipe("my-sft"))
        await pilot.pause()
        await pilot.press("f2")

    assert snap_compare(make_app(), run_before=save_as, terminal_size=TERMINAL)


# What `cookbook-tui --run arithmetic-sft.toml --dry-run` prints under FORCE_COLOR=1 (abridged).
DRY_RUN_OUTPUT = (
    "\x1b[1mrecipe\x1b[0m arithmetic-sft  \x1b[1mworkflow\x1b[0m sl  \x1b[1mbackend\x1b[0m local\n"
    "\x1b[1mresolved tinker-cookbook config:\x1b[0m\n"
    '{\n  \x1b[1;34m"learning_rate"\x1b[0m: \x1b[1;36m0.003\x1b[0m,\n'
    '  \x1b[1;34m"max_steps"\x1b[0m: \x1b[1;36m200\x1b[0m\n}\n'
    "\x1b[1mdataset: \x1b[0m5 batches of 16 examples; 16 held out\n"
    "\x1b[1mfirst training example\x1b[0m \x1b[1;32mtrained on\x1b[0m / \x1b[2mcontext (no loss)\x1b[0m:\n"
    "\x1b[2m<|im_start|>user\x1b[0m\n\x1b[2mWhat is 8 + 2?<|im_end|>\x1b[0m\n"
    "\x1b[2m<|im_start|>assistant\x1b[0m\n\x1b[1;32m10<|im_end|>\x1b[0m\n"
)


def test_dry_run_output_with_loss_mask(snap_compare, in_fixtures) -> None:
    async def show(pilot) -> None:
        await pilot.app.push_screen(DryRunScreen(Path("recipes/arithmetic-sft.toml"), 0, DRY_RUN_OUTPUT))

    assert snap_compare(make_app(), run_before=show, terminal_size=TERMINAL)


def test_run_live_rl_curves(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=RL_RUN), terminal_size=TERMINAL)


def test_run_finished_sft_curves(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=SFT_RUN), terminal_size=TERMINAL)


def test_run_curves_smoothed_log_scale(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=SFT_RUN), press=["m", "l"], terminal_size=TERMINAL)


def test_run_chart_grid_at_120x40(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=RL_RUN), terminal_size=(120, 40))


def test_run_chart_grid_at_200x60(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=RL_RUN), terminal_size=(200, 60))


def test_run_chart_filter(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=RL_RUN), press=["slash", *"^optim/"], terminal_size=(120, 40))


def test_run_chart_cursor_readout(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=SFT_RUN), press=["left"] * 22, terminal_size=(120, 40))


def test_run_merged_chart(snap_compare, in_fixtures) -> None:
    # train_mean_nll and test/nll marked (space) and merged (g): one chart, a colour and legend line each
    assert snap_compare(make_app(open_run_dir=SFT_RUN), press=["space", "down", "space", "g"], terminal_size=(120, 40))


def test_run_reward_and_advantage_heatmaps(snap_compare, in_fixtures) -> None:
    # every rollout's reward and advantage a step (tinker-cookbook's iteration_*/ export) as a density
    assert snap_compare(make_app(open_run_dir=RL_RUN), press=["slash", *"^rollouts/", "enter", *["left"] * 15],
                        terminal_size=(120, 40))


def test_run_rollout_groups_at_the_cursor(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=RL_RUN), press=["left", *["left"] * 15, "2"], terminal_size=(120, 40))


def test_run_rollouts_beside_the_charts(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=RL_RUN), press=["r", *["left"] * 15], terminal_size=(160, 48))


def test_compare_config_diff(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_compare_app([SFT_RUN, SFT_LOW_LR_RUN]), press=["2"], terminal_size=(120, 40))


def test_compare_charts(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_compare_app([SFT_RUN, SFT_LOW_LR_RUN]), terminal_size=(120, 40))


def test_run_samples_with_loss_mask(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=SFT_RUN), press=["2"], terminal_size=TERMINAL)


def test_run_samples_scrubbed_to_an_earlier_step(snap_compare, in_fixtures) -> None:
    async def scrub(pilot) -> None:
        await pilot.press("2")
        pilot.app.screen.query_one("#samples-pane").focus()
        await pilot.press("left_square_bracket", "left_square_bracket")

    assert snap_compare(make_app(open_run_dir=RL_RUN), run_before=scrub, terminal_size=TERMINAL)


def test_run_checkpoints(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=SFT_RUN), press=["3"], terminal_size=TERMINAL)


def test_run_log_tail(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=SFT_RUN), press=["4"], terminal_size=TERMINAL)


def test_run_failed_shows_the_error(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=DPO_FAILED_RUN), terminal_size=TERMINAL)


def test_run_dir_written_by_tinker_cookbook_alone(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(open_run_dir=COOKBOOK_ONLY_RUN), terminal_size=TERMINAL)


async def open_runs(pilot) -> None:
    """Ctrl+O, and the table filled: the Runs screen reads the run dirs in a worker."""
    await pilot.press("ctrl+o")
    await runs_read(pilot)


def test_runs_screen(snap_compare, in_fixtures) -> None:
    assert snap_compare(make_app(), run_before=open_runs, terminal_size=TERMINAL)


def test_compare_two_marked_runs(snap_compare, in_fixtures) -> None:
    async def compare(pilot) -> None:
        await open_runs(pilot)
        table = pilot.app.screen.query_one("#runs-table")
        sft = next(i for i, row in enumerate(table.rows_shown) if row.run_dir.parent.name == "arithmetic-sft")
        only = next(i for i, row in enumerate(table.rows_shown) if row.run_dir.parent.name == "cookbook-only")
        for index in (sft, only):
            table.move_cursor(row=index)
            await pilot.press("space")
        await pilot.press("c")

    assert snap_compare(make_app(), run_before=compare, terminal_size=TERMINAL)


def test_quit_with_runs_in_progress_asks(snap_compare, in_fixtures) -> None:
    async def ask(pilot) -> None:
        await pilot.app.push_screen(QuitScreen(2))

    assert snap_compare(make_app(), run_before=ask, terminal_size=TERMINAL)


def test_themes_apply_to_every_pane(snap_compare, in_fixtures) -> None:
    async def light(pilot) -> None:
        pilot.app.theme = "textual-light"
        await pilot.pause()

    assert snap_compare(make_app(open_run_dir=DPO_FAILED_RUN), run_before=light, terminal_size=TERMINAL)


def test_chat_with_a_checkpoint(snap_compare, in_fixtures) -> None:
    async def chat(pilot) -> None:
        await pilot.press("3", "down", "down", "c")
        box = pilot.app.screen.query_one("#checkpoint-chat")
        box.add_turn("you", "What is 4+5?")
        box.add_turn("model", "9")
        await pilot.pause()

    assert snap_compare(make_app(open_run_dir=SFT_RUN), run_before=chat, terminal_size=TERMINAL)


def test_remote_runs_and_checkpoints(snap_compare, in_fixtures) -> None:
    from .factory import FixtureRemote
    from .waiting import wait_until

    async def open_remote(pilot) -> None:
        await pilot.press("ctrl+t")
        screen = pilot.app.screen
        await wait_until(pilot, lambda: len(getattr(screen, "checkpoints", [])) == 3, "remote checkpoints")
        await pilot.pause()

    app = make_app(remote=FixtureRemote)
    assert snap_compare(app, run_before=open_remote, terminal_size=TERMINAL)
