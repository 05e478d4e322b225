"""`python -m benchmarks [--quick] [NAME ...]`: run benchmarks, print tables, write results and
BENCHMARKS.md."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from .common import RESULTS_DIR, print_table, save

BENCHMARKS = {
    "p1": "p1_sft_throughput",
    "p2": "p2_sampling",
    "p3": "p3_rl_step",
    "p4": "p4_cold_start",
    "p5": "p5_run_dir",
    "p6": "p6_latency",
    "p7": "p7_batching",
    "p8": "p8_memory",
}
ROOT = Path(__file__).resolve().parent.parent


def write_benchmarks_md() -> Path:
    lines = [
        "# Benchmarks",
        "",
        "Latest figures from `make bench` (`python -m benchmarks`); each benchmark runs both sides",
        "in one process. Written by the benchmark runner from `benchmarks/results/*.json`.",
        "",
    ]
    sections = [(key, module, RESULTS_DIR / f"{module}.json", "") for key, module in BENCHMARKS.items()]
    sections += [
        (key, module, RESULTS_DIR / f"{module}_cuda.json", " (CUDA, `make bench-gpu`)")
        for key, module in BENCHMARKS.items()
        if (RESULTS_DIR / f"{module}_cuda.json").exists()
    ]
    for key, module, path, where in sections:
        if not path.exists():
            lines += [f"## {key.upper()} {module}", "", "Not run yet.", ""]
            continue
        data = json.loads(path.read_text())
        lines += [
            f"## {key.upper()} {data['title']}{where}",
            "",
            f"Machine: {data['machine']}; run {data['when']}.",
            "",
            f"| case | unit | {data['ours_label']} | {data['reference_label']} | ratio | goal | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in data["rows"]:
            lines.append(
                f"| {row['case']} | {row['unit']} | {row['ours']:.4g} | {row['reference']:.4g} | "
                f"{row['ratio']:.2f} | {row['goal']} | {row['notes']} |"
            )
        if data.get("details", {}).get("note"):
            lines += ["", data["details"]["note"]]
        if data.get("details", {}).get("analysis"):
            lines += ["", data["details"]["analysis"]]
        lines.append("")
    out = ROOT / "BENCHMARKS.md"
    out.write_text("\n".join(lines))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help=f"which to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: both sides run there")
    parser.add_argument("--note", default="", help="a line added to each result (e.g. machine load)")
    args = parser.parse_args(argv)
    os.environ["COOKBOOK_TUI_DEVICE"] = args.device
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print("benchmarks: --device cuda but torch.cuda.is_available() is False: skipped, nothing run")
            return 0
    names = args.names or list(BENCHMARKS)
    failed = []
    for name in names:
        module_name = BENCHMARKS.get(name, name)
        module = importlib.import_module(f"benchmarks.{module_name}")
        try:
            result = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"{name}: failed: {exc!r}", file=sys.stderr)
            failed.append(name)
            continue
        if args.note:
            result.details["note"] = args.note
        print_table(result)
        print(f"wrote {save(result)}")
    print(f"wrote {write_benchmarks_md()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
