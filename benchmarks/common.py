"""Shared pieces: timing, the result record, the table, the ~30M Llama-shape model folder."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TINKER_TELEMETRY", "0")
    # Both sides on one device: the engine reads this too (engine/models.pick_device).
    os.environ.setdefault("COOKBOOK_TUI_DEVICE", "cpu")


def bench_device() -> str:
    """`cpu` for `make bench`, `cuda` for `make bench-gpu` (python -m benchmarks --device cuda)."""
    return os.environ.get("COOKBOOK_TUI_DEVICE", "cpu")


def reference_dtype():
    """The reference sides' weights, as the engine holds them: bf16 on CUDA, float32 on the CPU."""
    import torch

    return torch.bfloat16 if bench_device().startswith("cuda") else torch.float32


def sync() -> None:
    """Wait for queued CUDA work, so a timed reference step is the work and not its launch."""
    if bench_device().startswith("cuda"):
        import torch

        torch.cuda.synchronize()


@dataclass
class Comparison:
    """One row: our side against the reference side, in the same unit."""

    case: str
    unit: str
    ours: float
    reference: float
    higher_is_better: bool = True
    goal: str = ""
    notes: str = ""

    @classmethod
    def of_times(
        cls, case: str, unit: str, ours: list[float], reference: list[float], *, goal: str, notes: str
    ) -> Comparison:
        """Both sides' timings compared by their medians (times: lower is better)."""
        return cls(
            case, unit, statistics.median(ours), statistics.median(reference), higher_is_better=False, goal=goal, notes=notes
        )

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.ours / self.reference if self.reference else float("nan")
        return self.reference / self.ours if self.ours else float("nan")


@dataclass
class Result:
    benchmark: str
    title: str
    ours_label: str
    reference_label: str
    rows: list[Comparison] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        for row, obj in zip(data["rows"], self.rows):
            row["ratio"] = obj.ratio
        data["machine"] = machine()
        data["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        return data


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def save(result: Result) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    suffix = "_cuda" if bench_device().startswith("cuda") else ""
    path = RESULTS_DIR / f"{result.benchmark}{suffix}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
    return path


def print_table(result: Result) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result.benchmark}: {result.title}")
    for col in ("case", "unit", result.ours_label, result.reference_label, "ratio", "goal"):
        table.add_column(col)
    for row in result.rows:
        table.add_row(row.case, row.unit, f"{row.ours:.4g}", f"{row.reference:.4g}", f"{row.ratio:.2f}", row.goal)
    Console().print(table)


def llama_30m_folder(root: Path) -> Path:
    """A ~30M-parameter Llama shape with the tiny model's tokenizer, weights from seed 0."""
    offline_env()
    from cookbook_tui.engine.model_families import model_config, write_model_folder

    config = model_config(
        "LlamaConfig",
        hidden_size=512,
        intermediate_size=1536,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=8,
        max_position_embeddings=1024,
    )
    return write_model_folder(config, root / "llama-30m", seed=0)
