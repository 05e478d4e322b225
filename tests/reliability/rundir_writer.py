"""Run by test_rundir_kills.py as its own process (the test SIGKILLs it): writes a run dir's
status.json and samples.jsonl in a tight loop, printing `wrote <i>` after each round."""

from __future__ import annotations

import sys
from pathlib import Path

from cookbook_tui.runners import rundir

ROW_CHARS = 512 * 1024  # big rows: an append spans many pages, so a kill can land inside one


def main(run_dir: str) -> None:
    status = rundir.StatusWriter(Path(run_dir))
    status.start(recipe="kill-test", workflow="sl", backend="local", model="tiny", total_steps=10**6)
    for i in range(10**6):
        status.update(step=i)
        completion = str(i % 10) * ROW_CHARS
        rundir.append_samples(Path(run_dir), [rundir.sample_row(i, "heldout", f"prompt {i}", completion)])
        print(f"wrote {i}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
