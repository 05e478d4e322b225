"""The Tinker screen against a real `cookbook-tui serve`: runs listed, checkpoints of the
highlighted run, delete confirmed, a recipe started from a training checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from cookbook_tui.runners.remote import Remote
from cookbook_tui.screens.remote import RemoteScreen

from .factory import make_app
from .waiting import wait_until

TINY = "cookbook-tui/tiny-chat"


@pytest.fixture(scope="module")
def account(served):
    import tinker

    client = tinker.ServiceClient(base_url=served["TINKER_BASE_URL"], api_key=served["TINKER_API_KEY"])
    trainer = client.create_lora_training_client(TINY, rank=4).result(timeout=120)
    state = trainer.save_state("000003").result(timeout=120).path
    sampler = trainer.save_weights_for_sampler("000003").result(timeout=120).path
    yield {"run_id": trainer.model_id, "state": state, "sampler": sampler}
    client.close("success").result(timeout=30)


async def test_browse_delete_and_recipe_from_checkpoint(served, account, tmp_path: Path) -> None:
    app = make_app(
        runs_dir=tmp_path / "runs", recipes_dir=tmp_path / "my-recipes",
        remote=lambda: Remote(served["TINKER_BASE_URL"], served["TINKER_API_KEY"]),
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+t")
        screen = app.screen
        assert isinstance(screen, RemoteScreen)
        await wait_until(pilot, lambda: any(r.run_id == account["run_id"] for r in screen.runs), "runs")
        runs_table = screen.query_one("#remote-runs", DataTable)
        runs_table.move_cursor(row=[r.run_id for r in screen.runs].index(account["run_id"]))
        await wait_until(pilot, lambda: screen.run_id == account["run_id"] and len(screen.checkpoints) == 2, "checkpoints")
        kinds = {c.tinker_path: c.kind for c in screen.checkpoints}
        assert kinds == {account["state"]: "training", account["sampler"]: "sampler"}

        table = screen.query_one("#remote-checkpoints", DataTable)
        table.focus()
        table.move_cursor(row=[c.tinker_path for c in screen.checkpoints].index(account["sampler"]))

        # chat with the sampler checkpoint, twice: the conversation is kept
        for text in ("What is 2+3?", "And 1+1?"):
            await pilot.press("c")
            await pilot.pause()
            await pilot.press(*text, "enter")
        await wait_until(pilot, lambda: len(screen.conversations.get(account["sampler"], [])) == 4, "two replies")
        assert [m["role"] for m in screen.conversations[account["sampler"]]] == ["user", "assistant"] * 2
        assert "you: And 1+1?" in str(screen.query_one("#remote-sample-a").render())

        # mark it and sample it side by side (one marked: one pane)
        await pilot.press("space")
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"hi", "enter")
        await wait_until(pilot, lambda: "→" in str(screen.query_one("#remote-sample-a").render()), "the sample")

        # delete the sampler checkpoint, confirmed
        await pilot.press("d")
        await pilot.pause()
        await pilot.click("#yes")
        await wait_until(pilot, lambda: len(screen.checkpoints) == 1, "the deleted checkpoint gone")
        assert screen.checkpoints[0].tinker_path == account["state"]

        # a recipe from the training checkpoint opens in the editor with load_checkpoint filled in
        table.move_cursor(row=0)
        await pilot.press("n")
        await pilot.pause()
        written = list((tmp_path / "my-recipes").glob("*.toml"))
        assert len(written) == 1
        assert f'load_checkpoint = "{account["state"]}"' in written[0].read_text()
        assert type(app.screen).__name__ == "EditorScreen"


async def test_unreachable_server_is_said_on_screen(tmp_path: Path) -> None:
    app = make_app(runs_dir=tmp_path, remote=lambda: Remote("http://127.0.0.1:9", "tml-x"))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("ctrl+t")
        screen = app.screen
        where = screen.query_one("#remote-where")
        await wait_until(pilot, lambda: "127.0.0.1:9" in str(where.render()), "the error on screen")


def test_recipe_from_a_checkpoint_validates(tmp_path: Path) -> None:
    from cookbook_tui.recipes import check_text
    from cookbook_tui.recipes.from_checkpoint import recipe_from_checkpoint

    entry = recipe_from_checkpoint("tinker://r:train:0/weights/000005", TINY, None, tmp_path)
    (tmp_path / "conversations.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n')
    errors = [i for i in check_text(entry.path.read_text(), source=str(entry.path)) if i.is_error]
    assert [str(e) for e in errors if "TINKER_API_KEY" not in str(e)] == []
