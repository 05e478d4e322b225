"""Thin dataset builders for local data files where tinker-cookbook 0.5.8 has no exact fit.

Each subclasses or wraps a cookbook builder and adds only the missing knob (a held-out split for a
comparisons file, prompts from a local file); datasets and rendering stay the cookbook's.
"""

from __future__ import annotations

import json
from pathlib import Path

import chz
import datasets
from tinker_cookbook import renderers
from tinker_cookbook.distillation.datasets import PromptOnlyDataset
from tinker_cookbook.preference.preference_datasets import ComparisonBuilderFromJsonl
from tinker_cookbook.rl.types import RLDataset, RLDatasetBuilder
from tinker_cookbook.tokenizer_utils import get_tokenizer

from cookbook_tui.common.files import write_atomic


def read_rows(path: str | Path) -> list[dict]:
    """Rows of a .jsonl or .parquet file."""
    path = Path(path)
    if path.suffix == ".parquet":
        return datasets.Dataset.from_parquet(str(path)).to_list()
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def split_rows(rows: list[dict], test_size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The cookbook's split (FromConversationFileBuilder): shuffle with `seed`, first `test_size`
    rows held out; too few rows means no held-out set."""
    ds = datasets.Dataset.from_list(rows).shuffle(seed=seed)
    if test_size > 0 and len(ds) > test_size:
        return ds.skip(test_size).to_list(), ds.take(test_size).to_list()
    return ds.to_list(), []


def materialize_jsonl(path: Path, dest_dir: Path) -> Path:
    """The cookbook's file builders read JSONL: a parquet file is converted once into the run dir."""
    if path.suffix != ".parquet":
        return path
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / (path.stem + ".jsonl")
    if not out.exists():
        write_atomic(out, "".join(json.dumps(r, default=str) + "\n" for r in read_rows(path)))
    return out


@chz.chz
class ComparisonFileBuilder(ComparisonBuilderFromJsonl):
    """tinker-cookbook's comparisons-JSONL builder plus a held-out split from the same file."""

    test_size: int = 0
    shuffle_seed: int = 0

    def get_train_and_test_datasets(self) -> tuple[datasets.Dataset, datasets.Dataset | None]:
        train, test = split_rows(read_rows(self.train_path), self.test_size, self.shuffle_seed)
        return datasets.Dataset.from_list(train), datasets.Dataset.from_list(test) if test else None


def prompt_messages(row: dict) -> list[renderers.Message]:
    """A prompts-file row as the conversation to answer: {"prompt": str} or {"messages": [...]}
    (a trailing assistant message there is the reference answer, not part of the prompt)."""
    if isinstance(row.get("prompt"), str):
        return [{"role": "user", "content": row["prompt"]}]
    messages = list(row["messages"])
    if messages and messages[-1].get("role") == "assistant":
        messages = messages[:-1]
    return messages


def reference_answer(row: dict) -> str | None:
    if isinstance(row.get("answer"), str):
        return row["answer"]
    messages = row.get("messages")
    if isinstance(messages, list) and messages and messages[-1].get("role") == "assistant":
        return str(messages[-1].get("content"))
    return None


@chz.chz
class PromptFileDatasetBuilder(RLDatasetBuilder):
    """Prompts from a local file for on-policy distillation, as the cookbook's PromptOnlyDataset
    (which otherwise only loads DeepMath or Tulu-3 from the hub). Held-out rows are not trained on;
    the samples hook answers them."""

    file_path: str
    groups_per_batch: int
    group_size: int
    model_name_for_tokenizer: str
    renderer_name: str
    test_size: int = 0
    shuffle_seed: int = 0

    def split(self) -> tuple[list[dict], list[dict]]:
        return split_rows(read_rows(self.file_path), self.test_size, self.shuffle_seed)

    async def __call__(self) -> tuple[RLDataset, None]:
        tokenizer = get_tokenizer(self.model_name_for_tokenizer)
        renderer = renderers.get_renderer(self.renderer_name, tokenizer=tokenizer)
        train, _ = self.split()
        # PromptOnlyEnv takes the prompt as the user turn's text.
        prompts = [renderers.get_text_content(prompt_messages(row)[-1]) for row in train]
        return (
            PromptOnlyDataset(
                prompts=prompts,
                batch_size=self.groups_per_batch,
                group_size=self.group_size,
                renderer=renderer,
                tokenizer=tokenizer,
                dataset_name=Path(self.file_path).stem,
            ),
            None,
        )
