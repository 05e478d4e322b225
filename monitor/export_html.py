"""A single-file HTML report of one run or a comparison: the headline charts (inline SVG), each run's
state, tags and note, its config (one run: recipe.toml; several: only the keys that differ), final
and best of the headline metrics, every metric's last value, and a few samples. No scripts, no
external files: it opens in any browser and can be mailed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from cookbook_tui.common.files import write_atomic
from cookbook_tui.monitor.chart_model import compact, format_duration, run_colour
from cookbook_tui.monitor.export_runs import ExportRun, headline_chart_keys, smoothed
from cookbook_tui.monitor.run_compare import config_diff, format_value, summarise
from cookbook_tui.monitor.svg_chart import SvgSeries, svg_chart
from cookbook_tui.runners.rundir import RECIPE_FILE, steps_done

SAMPLES_SHOWN = 4
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1360px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .chart { border: 1px solid #ddd; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; } .swatch { display: inline-block; width: .8em; height: .8em; }
.tag { background: #e8eefc; border-radius: 3px; padding: 0 .3em; margin-right: .3em; } .muted { color: #777; }
"""


def report_html(runs: Sequence[ExportRun], generated: datetime) -> str:
    title = runs[0].label if len(runs) == 1 else "Comparison: " + ", ".join(run.label for run in runs)
    keys = headline_chart_keys(runs)
    body = [f"<h1>{escape(title)}</h1>",
            f'<p class="muted">cookbook-tui report, {escape(generated.strftime("%Y-%m-%d %H:%M UTC"))}</p>',
            _runs_table(runs), "<h2>Charts</h2>", '<div class="charts">']
    for key in keys:
        series = [SvgSeries(run.label if len(runs) > 1 else "", run_colour(i), *run.columns[key],
                            smoothed(*run.columns[key]) if len(run.columns[key][1]) > 1 else None)
                  for i, run in enumerate(runs) if key in run.columns]
        body.append(svg_chart(key, series))
    body.append("</div>")
    body += [_summary_table(runs, keys), _config_section(runs), _last_values_table(runs), _samples_section(runs)]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(path: Path, runs: Sequence[ExportRun], generated: datetime) -> Path:
    write_atomic(path, report_html(runs, generated))
    return path


def _runs_table(runs: Sequence[ExportRun]) -> str:
    rows = []
    for i, run in enumerate(runs):
        status = run.status
        tags = "".join(f'<span class="tag">#{escape(t)}</span>' for t in run.notes.tags)
        last = [row["step"] for row in run.rows if isinstance(row.get("step"), int)]
        steps = steps_done(last[-1]) if last else status.step
        duration = (status.ended_at - status.started_at).total_seconds() if status.started_at and status.ended_at else None
        rows.append(
            f'<tr><td><span class="swatch" style="background:{run_colour(i)}"></span> {escape(run.label)}</td>'
            f"<td>{escape(status.state)}</td><td>{escape(status.workflow or '–')}</td><td>{escape(status.model or '–')}</td>"
            f"<td class=\"num\">{steps if steps is not None else '–'}/{status.total_steps or '?'}</td>"
            f"<td>{escape(format_duration(duration))}</td><td>{tags} {escape(run.notes.note)}</td>"
            f"<td class=\"muted\">{escape(str(run.run_dir))}</td></tr>")
    return ("<table><tr><th>run</th><th>state</th><th>workflow</th><th>model</th><th>steps</th><th>duration</th>"
            "<th>tags &amp; note</th><th>run dir</th></tr>" + "".join(rows) + "</table>")


def _summary_table(runs: Sequence[ExportRun], keys: Sequence[str]) -> str:
    if not keys:
        return ""
    head = "".join(f"<th>{escape(k)} final</th><th>{escape(k)} best</th>" for k in keys)
    rows = []
    for run in runs:
        summary = summarise(run.label, run.columns, keys, None)
        cells = "".join(
            f'<td class="num">{compact(values[k], 4) if k in values else "–"}</td>'
            for k in keys for values in (summary.final, summary.best))
        rows.append(f"<tr><td>{escape(run.label)}</td>{cells}</tr>")
    return f"<h2>Final metrics</h2><table><tr><th>run</th>{head}</tr>{''.join(rows)}</table>"


def _config_section(runs: Sequence[ExportRun]) -> str:
    if len(runs) == 1:
        try:
            text = (runs[0].run_dir / RECIPE_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            config = runs[0].config
            text = json.dumps(config, indent=2, default=str) if config else "(no recipe.toml or config.json)"
        return f"<h2>Config</h2><pre>{escape(text)}</pre>"
    diff = config_diff([run.config for run in runs], [run.run_dir for run in runs])
    if not diff:
        return "<h2>Config</h2><p>The runs' recipe.toml and config.json do not differ.</p>"
    head = "".join(f"<th>{escape(run.label)}</th>" for run in runs)
    rows = "".join(f"<tr><td>{escape(row.key)}</td>" + "".join(f"<td>{escape(format_value(v))}</td>" for v in row.values) + "</tr>"
                   for row in diff)
    return f"<h2>Config (the keys that differ)</h2><table><tr><th>key</th>{head}</tr>{rows}</table>"


def _last_values_table(runs: Sequence[ExportRun]) -> str:
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(run.columns))
    head = "".join(f"<th>{escape(run.label)}</th>" for run in runs)
    rows = "".join(
        f"<tr><td>{escape(key)}</td>" + "".join(
            f'<td class="num">{compact(run.columns[key][1][-1], 4) if key in run.columns else "–"}</td>' for run in runs) + "</tr>"
        for key in sorted(keys))
    return f"<h2>Every metric's last value</h2><table><tr><th>metric</th>{head}</tr>{rows}</table>"


def _samples_section(runs: Sequence[ExportRun]) -> str:
    parts = []
    for run in runs:
        steps = [row["step"] for row in run.samples if isinstance(row.get("step"), int)]
        if not steps:
            continue
        last = max(steps)
        shown = [row for row in run.samples if row.get("step") == last][:SAMPLES_SHOWN]
        rows = "".join(
            f"<tr><td><pre>{escape(str(row.get('prompt', '')))}</pre></td><td><pre>{escape(str(row.get('completion', '')))}</pre></td>"
            f"<td class=\"num\">{compact(row['reward'], 3) if isinstance(row.get('reward'), int | float) else '–'}</td></tr>"
            for row in shown)
        parts.append(f"<h3>{escape(run.label)}: step {last}</h3><table><tr><th>prompt</th><th>completion</th>"
                     f"<th>reward</th></tr>{rows}</table>")
    return "<h2>Samples</h2>" + "".join(parts) if parts else ""
