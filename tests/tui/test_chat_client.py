"""The chat box's client (monitor/checkpoint_sampling.py): where a run dir's checkpoints are chatted
with, a real `cookbook-tui serve` child engine answering over OpenAI-compatible HTTP with the
conversation's history, errors that say which data dir was searched, and no engine (nor torch or
tinker) in the TUI's own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cookbook_tui.monitor.checkpoint_sampling import ChatUnavailable, chat_source

TINY = "cookbook-tui/tiny-chat"


def test_a_tinker_cookbook_run_dir_is_read_from_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"model_name": TINY, "renderer_name": "qwen3_instruct", "base_url": "http://127.0.0.1:8765"})
    )
    source = chat_source(tmp_path)
    assert (source.backend, source.model_name, source.renderer_name) == ("local", TINY, "qwen3_instruct")
    (tmp_path / "config.json").write_text(json.dumps({"dataset_builder": {"model_name": "Qwen/Qwen3-8B"}}))
    assert chat_source(tmp_path).backend == "tinker"  # no base_url: tinker-cookbook used the service
    assert chat_source(tmp_path).model_name == "Qwen/Qwen3-8B"


def test_a_run_dir_without_recipe_or_config_says_so(tmp_path: Path) -> None:
    with pytest.raises(ChatUnavailable, match="neither recipe.toml nor config.json"):
        chat_source(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ChatUnavailable, match="config.json has no model_name"):
        chat_source(tmp_path)


def test_a_run_on_the_tinker_service_chats_through_tinkers_own_endpoint(monkeypatch) -> None:
    from cookbook_tui.monitor.checkpoint_sampling import ChatSource, endpoint_for

    source = ChatSource("tinker", "Qwen/Qwen3-8B", "qwen3", None)
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    with pytest.raises(ChatUnavailable, match="TINKER_API_KEY"):
        endpoint_for(source)
    monkeypatch.setenv("TINKER_API_KEY", "tml-abc")
    monkeypatch.delenv("TINKER_BASE_URL", raising=False)
    endpoint = endpoint_for(source)
    assert endpoint.url == "https://tinker.thinkingmachines.dev/services/tinker-prod/oai/api/v1"
    assert endpoint.api_key == "tml-abc"
    monkeypatch.setenv("TINKER_BASE_URL", "https://tinker.example/")
    assert endpoint_for(source).url == "https://tinker.example/oai/api/v1"


def test_the_service_url_copy_matches_the_sdk() -> None:
    from tinker.lib.base_url import DEFAULT_BASE_URL

    from cookbook_tui.monitor.checkpoint_sampling import TINKER_SERVICE_URL

    assert TINKER_SERVICE_URL == DEFAULT_BASE_URL


CLIENT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from cookbook_tui.monitor import checkpoint_sampling as chat

    run_dir, path = Path(sys.argv[1]), sys.argv[2]
    history = [{"role": "user", "content": "2+3="}]
    first = chat.sample_reply(run_dir, path, history, max_tokens=6)
    history += [{"role": "assistant", "content": first}, {"role": "user", "content": "and 1+1="}]
    second = chat.sample_reply(run_dir, path, history, max_tokens=6)
    try:
        chat.sample_reply(run_dir, path.replace("oai-chat", "no-such"), history, max_tokens=6)
        missing = None
    except chat.ChatUnavailable as exc:
        missing = str(exc)
    engine = next(iter(chat._engines.values()))
    pid = engine.process.pid
    heavy = sorted(m for m in ("torch", "transformers", "tinker", "peft") if m in sys.modules)
    chat.stop_local_engines()
    print(json.dumps({"first": first, "second": second, "missing": missing, "pid": pid, "heavy": heavy}))
    """
)


def test_the_chat_client_talks_to_a_child_engine_with_the_history(tiny_model_path, tmp_path: Path) -> None:
    import openai
    import tinker
    from tinker import types

    from cookbook_tui.engine import start_local_server

    data_dir = tmp_path / "engine-data"
    # Train and save a sampler checkpoint as a run would, in this (test) process's own engine.
    with start_local_server(data_dir=data_dir) as server:
        client = tinker.ServiceClient(base_url=server.base_url, api_key=server.api_key)
        training = client.create_lora_training_client(base_model=TINY, rank=4).result(timeout=120)
        datum = types.Datum(
            model_input=types.ModelInput.from_ints([1, 2, 3, 4]),
            loss_fn_inputs={"target_tokens": [2, 3, 4, 5], "weights": [1.0] * 4},
        )
        training.forward_backward([datum], "cross_entropy").result(timeout=120)
        training.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=120)
        path = training.save_weights_for_sampler("oai-chat").result(timeout=120).path
        client.close("success").result(timeout=30)
        oai = openai.OpenAI(base_url=server.base_url + "/oai/api/v1", api_key=server.api_key, max_retries=0)
        first_want = oai.chat.completions.create(
            model=path, messages=[{"role": "user", "content": "2+3="}], max_tokens=6, temperature=0
        ).choices[0].message.content

    # A run dir tinker-cookbook wrote against a `cookbook-tui serve` that is gone now.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"model_name": TINY, "base_url": "http://127.0.0.1:9"}))
    env = {**os.environ, "COOKBOOK_TUI_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, str(run_dir), path], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["heavy"] == []  # the engine ran in the child, not here
    assert got["first"] == first_want.strip()
    assert isinstance(got["second"], str)
    assert "no-such" in got["missing"] and f"data dir {data_dir}" in got["missing"]
    with pytest.raises(ProcessLookupError):  # stopped with the client
        os.kill(got["pid"], 0)


async def test_the_chat_box_shows_why_a_reply_failed_and_keeps_the_history_clean(tmp_path: Path) -> None:
    from cookbook_tui.app.widgets.checkpoint_chat import CheckpointChat
    from cookbook_tui.screens.run import RunScreen

    from .factory import make_app
    from .waiting import wait_until

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoints.jsonl").write_text(
        '{"name": "000010", "batch": 10, "sampler_path": "tinker://r:train:0/sampler_weights/000010"}\n'
        '{"name": "final", "batch": 20, "final": true, "sampler_path": "tinker://r:train:0/sampler_weights/final"}\n'
    )
    app = make_app(open_run_dir=str(run_dir), poll_interval=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await pilot.press("3")
        table = screen.query_one("#checkpoints-table")
        await wait_until(pilot, lambda: table.row_count == 2, "the checkpoints")
        await pilot.press("c")
        chat = screen.query_one(CheckpointChat)
        assert chat.sampler_path.endswith("/final")  # the final checkpoint, not the first
        await pilot.press(*"hello", "enter")
        log = screen.query_one("#chat-log")
        await wait_until(pilot, lambda: any(line.startswith("error:") for line in log.lines), "the error")
        text = " ".join(" ".join(log.lines).split())  # wrapped lines are padded to the width
        assert "neither recipe.toml nor config.json" in text
        assert chat.history == []  # the unanswered message is not sent again next time
