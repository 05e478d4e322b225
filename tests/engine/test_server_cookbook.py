"""tinker-cookbook 0.5.8's own training loops, unmodified, train the tiny model through the server.

Configs are built with chz in-process (`python -m tinker_cookbook.supervised.train` is broken in
0.5.8); every loop builds its own `tinker.ServiceClient(base_url=...)`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from server_helpers import TINY, local_server  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.xdist_group("server-cookbook"),
    # 0.5.8 calls SDK methods that 0.38.0 deprecates; that noise is theirs.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

RENDERER = "qwen3_instruct"


def _conversations(path: Path, n: int = 24) -> Path:
    with path.open("w") as f:
        for i in range(n):
            a, b = i % 5, (i * 3) % 5
            messages = [
                {"role": "user", "content": f"What is {a} + {b}?"},
                {"role": "assistant", "content": f"{a + b}"},
            ]
            f.write(json.dumps({"messages": messages}) + "\n")
    return path


def _sft_config(local_server, data: Path, log_path: Path, **overrides):
    from tinker_cookbook.supervised import train
    from tinker_cookbook.supervised.data import FromConversationFileBuilder
    from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig

    builder = FromConversationFileBuilder(
        file_path=str(data),
        common_config=ChatDatasetBuilderCommonConfig(
            model_name_for_tokenizer=TINY, renderer_name=RENDERER, max_length=64, batch_size=4
        ),
    )
    settings = dict(
        log_path=str(log_path),
        model_name=TINY,
        recipe_name="test_sft",
        renderer_name=RENDERER,
        dataset_builder=builder,
        learning_rate=1e-2,
        lr_schedule="constant",
        num_epochs=2,
        lora_rank=8,
        base_url=local_server.base_url,
        save_every=0,
        eval_every=0,
        infrequent_eval_every=0,
    )
    settings.update(overrides)
    return train.Config(**settings)


def _metrics(log_path: Path) -> list[dict]:
    return [json.loads(line) for line in (log_path / "metrics.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _api_key(local_server, monkeypatch):
    # The loops build their own ServiceClient from the environment's key.
    monkeypatch.setenv("TINKER_API_KEY", local_server.api_key)


def test_supervised_train_main_lowers_train_mean_nll(local_server, tmp_path: Path) -> None:
    from tinker_cookbook.supervised import train

    log_path = tmp_path / "sft"
    config = _sft_config(local_server, _conversations(tmp_path / "convos.jsonl"), log_path)
    asyncio.run(train.main(config))

    rows = _metrics(log_path)
    nll = [row["train_mean_nll"] for row in rows if "train_mean_nll" in row]
    assert len(nll) == 12  # 24 conversations / batch 4 x 2 epochs
    assert sum(nll[-3:]) / 3 < 0.6 * sum(nll[:3]) / 3, nll
    assert [row["step"] for row in rows if "train_mean_nll" in row] == list(range(12))
    assert all(key.startswith("engine/") for row in rows for key in row if "grad_norm" in key)
    final = [json.loads(line) for line in (log_path / "checkpoints.jsonl").read_text().splitlines()][-1]
    assert final["state_path"].startswith("tinker://") and final["sampler_path"].startswith("tinker://")


class _CutOff(Exception):
    """Stands in for a crash: the run stops between steps after writing a checkpoint."""


def test_a_cut_off_sft_run_resumes_from_its_checkpoint(local_server, tmp_path: Path) -> None:
    import tinker
    from tinker_cookbook.supervised import data as sft_data
    from tinker_cookbook.supervised import train

    data = _conversations(tmp_path / "convos.jsonl")
    log_path = tmp_path / "resumable"
    config = _sft_config(local_server, data, log_path, num_epochs=1, save_every=2)

    original = sft_data.SupervisedDatasetFromHFDataset.get_batch

    def get_batch_until_4(self, index):
        if index >= 4:
            raise _CutOff()
        return original(self, index)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sft_data.SupervisedDatasetFromHFDataset, "get_batch", get_batch_until_4)
        with pytest.raises(_CutOff):
            asyncio.run(train.main(config))

    checkpoints = [json.loads(line) for line in (log_path / "checkpoints.jsonl").read_text().splitlines()]
    assert checkpoints and checkpoints[-1]["batch"] in (2, 4)
    state_path = checkpoints[-1]["state_path"]
    resumed_from = checkpoints[-1]["batch"]
    # The cookbook checks the renderer recorded on the checkpoint's training run.
    rest = tinker.RestClient(base_url=local_server.base_url, api_key=local_server.api_key)
    run = rest.get_training_run_by_tinker_path(state_path).result(timeout=60)
    assert run.user_metadata["renderer_name"] == RENDERER

    first_run = {row["step"]: row["train_mean_nll"] for row in _metrics(log_path) if "train_mean_nll" in row}
    asyncio.run(train.main(config))  # same log dir: the cookbook resumes from checkpoints.jsonl

    rows = [row for row in _metrics(log_path) if "train_mean_nll" in row]
    steps = [row["step"] for row in rows]
    assert steps[-1] == 5 and set(range(6)) <= set(steps)
    resumed = {row["step"]: row["train_mean_nll"] for row in rows if row["step"] >= resumed_from}
    # The resumed model is the trained one, not a fresh LoRA: its loss is far below step 0's.
    assert resumed[resumed_from] < 0.8 * first_run[0], (first_run, resumed)
    final = [json.loads(line) for line in (log_path / "checkpoints.jsonl").read_text().splitlines()][-1]
    assert final["state_path"] != state_path


def test_rl_train_main_runs_the_arithmetic_env(local_server, tmp_path: Path) -> None:
    from tinker_cookbook.recipes.math_rl.arithmetic_env import ArithmeticDatasetBuilder
    from tinker_cookbook.rl import train

    log_path = tmp_path / "rl"
    config = train.Config(
        learning_rate=1e-3,
        dataset_builder=ArithmeticDatasetBuilder(
            batch_size=2, model_name_for_tokenizer=TINY, renderer_name=RENDERER, n_batches=2, group_size=4
        ),
        model_name=TINY,
        recipe_name="test_rl",
        renderer_name=RENDERER,
        max_tokens=8,
        log_path=str(log_path),
        loss_fn="importance_sampling",
        lora_rank=8,
        base_url=local_server.base_url,
        eval_every=0,
        save_every=0,
    )
    asyncio.run(train.main(config))

    rows = _metrics(log_path)
    steps = [row["step"] for row in rows if "env/all/reward/total" in row]
    assert steps == [0, 1], rows
    # The sampler's logprobs of its own tokens match the trainer's: the KL between them is ~0.
    assert all(abs(row["optim/kl_sample_train_v1"]) < 1e-3 for row in rows if row["step"] in steps), rows


def test_dpo_train_main_learns_the_preferred_answers(local_server, tmp_path: Path) -> None:
    """DPO runs through forward_backward_custom: a forward, the loss in the client, then a
    weighted cross_entropy backward."""
    from tinker_cookbook.preference import train_dpo
    from tinker_cookbook.preference.dpo_datasets import DPODatasetBuilderFromComparisons
    from tinker_cookbook.preference.preference_datasets import ComparisonBuilderFromJsonl
    from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig

    comparisons = tmp_path / "comparisons.jsonl"
    with comparisons.open("w") as f:
        for i in range(16):
            a, b = i % 4, (i * 3) % 4
            comparison = {
                "prompt_conversation": [{"role": "user", "content": f"What is {a} + {b}?"}],
                "completion_A": [{"role": "assistant", "content": f"{a + b}"}],
                "completion_B": [{"role": "assistant", "content": f"{a + b + 1}"}],
            }
            f.write(json.dumps({"comparison": comparison, "label": "A"}) + "\n")
    log_path = tmp_path / "dpo"
    config = train_dpo.Config(
        log_path=str(log_path),
        model_name=TINY,
        recipe_name="test_dpo",
        renderer_name=RENDERER,
        dataset_builder=DPODatasetBuilderFromComparisons(
            comparison_builder=ComparisonBuilderFromJsonl(train_path=str(comparisons)),
            common_config=ChatDatasetBuilderCommonConfig(
                model_name_for_tokenizer=TINY, renderer_name=RENDERER, max_length=64, batch_size=4
            ),
        ),
        learning_rate=1e-2,
        lr_schedule="constant",
        num_epochs=2,
        dpo_beta=0.5,
        lora_rank=8,
        base_url=local_server.base_url,
        save_every=0,
        eval_every=0,
        infrequent_eval_every=0,
    )
    train_dpo.main(config)

    losses = [row["dpo_loss"] for row in _metrics(log_path) if "dpo_loss" in row]
    assert len(losses) == 8  # 16 comparisons / batch 4 x 2 epochs
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2, losses
