"""`e` on the run and compare screens (and the palette): the HTML report and the CSV of the runs
shown, written in a thread worker to `<runs folder>/exports/`, then a toast names the files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cookbook_tui.screens.base import CookbookScreen

EXPORTS_FOLDER = "exports"


def export_report(screen: CookbookScreen, run_dirs: Sequence[Path], name: str) -> None:
    config = screen.app.config
    now = config.now()
    stem = Path(config.runs_dir) / EXPORTS_FOLDER / f"{name}-{now.strftime('%Y%m%d-%H%M%S')}"

    def write() -> None:
        from cookbook_tui.monitor.export_csv import write_csv
        from cookbook_tui.monitor.export_html import write_report
        from cookbook_tui.monitor.export_runs import load_runs

        runs = load_runs(list(run_dirs))
        html = write_report(stem.with_suffix(".html"), runs, now)
        csv = write_csv(stem.with_suffix(".csv"), runs)
        screen.app.call_from_thread(screen.notify, f"{html}\n{csv}", title="Exported the report and the metrics")

    screen.run_worker(write, thread=True, group="export", exit_on_error=False, description="Exporting the report")
