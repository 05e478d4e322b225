"""Export: CSV columns and values as metrics.jsonl has them, an HTML report with a chart per headline
metric, an image per chart through the optional plots extra, and the CLI's messages."""

from __future__ import annotations

import csv
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cookbook_tui.cli.main import main
from cookbook_tui.monitor.export_runs import load_runs

FIXTURE_RUNS = Path(__file__).resolve().parents[1] / "tui/fixtures/run_dirs"
SFT = FIXTURE_RUNS / "arithmetic-sft/20261128-101500"
SFT_LOW_LR = FIXTURE_RUNS / "arithmetic-sft/20261128-103000"
RL = FIXTURE_RUNS / "arithmetic-rl/20261128-110000"


def metrics_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_csv_has_a_column_for_every_metric_key_and_the_values_of_metrics_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "metrics.csv"
    assert main(["export", str(SFT), "--csv", str(out)]) == 0
    table = list(csv.reader(out.open()))
    rows = metrics_rows(SFT)
    keys = {key for row in rows for key in row}
    assert table[0][0] == "step" and set(table[0]) == keys and len(table[0]) == len(keys)
    assert len(table) - 1 == len(rows)
    for line, row in zip(table[1:], rows):
        for key, cell in zip(table[0], line):
            assert (float(cell) == row[key]) if key in row else cell == ""


def test_csv_of_two_runs_has_a_run_column_with_compares_labels(tmp_path: Path) -> None:
    out = tmp_path / "both.csv"
    assert main(["export", str(SFT), str(SFT_LOW_LR), "--csv", str(out)]) == 0
    table = list(csv.reader(out.open()))
    assert table[0][:2] == ["run", "step"]
    assert {line[0] for line in table[1:]} == {"arithmetic-sft lr=0.003", "arithmetic-sft lr=0.001"}
    assert len(table) - 1 == len(metrics_rows(SFT)) + len(metrics_rows(SFT_LOW_LR))


class Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "svg" and dict(attrs).get("class") == "chart":
            self.charts.append(dict(attrs)["aria-label"])
        if tag != "meta":
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:  # <rect …/>: opened and closed at once
        pass

    def handle_endtag(self, tag) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data) -> None:
        self.text.append(data)


@pytest.mark.parametrize(("run_dirs", "headline"), [
    ([SFT], ["train_mean_nll", "test/nll"]),
    ([SFT, SFT_LOW_LR], ["train_mean_nll", "test/nll"]),
    ([RL], ["env/all/reward/total", "optim/kl_sample_train_v1", "optim/entropy"]),
])
def test_the_html_report_parses_and_holds_one_chart_per_headline_metric(tmp_path: Path, run_dirs, headline) -> None:
    out = tmp_path / "report.html"
    assert main(["export", *map(str, run_dirs), "--html", str(out)]) == 0
    report = Report()
    report.feed(out.read_text())
    report.close()
    assert report.open == []  # every element closed in order
    assert report.charts == headline
    text = " ".join(report.text)
    if SFT in run_dirs:
        assert "#baseline" in text and "lr 3e-3: the first try" in text  # the run's tags and note
    if len(run_dirs) == 1 and run_dirs[0] == SFT:
        assert "learning_rate = 3e-3" in text  # its recipe.toml
        assert "What is" in text  # a few samples


def test_an_image_per_chart_with_the_plots_extra(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "charts"
    assert main(["export", str(SFT), "--png", str(out)]) == 0
    names = sorted(path.name for path in out.iterdir())
    keys = sorted(load_runs([SFT])[0].columns)
    assert names == sorted(k.replace("/", "_") + ".png" for k in keys)
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in out.iterdir())
    assert main(["export", str(SFT), "--svg", str(tmp_path / "svg")]) == 0
    assert (tmp_path / "svg" / "train_mean_nll.svg").read_text().lstrip().startswith("<?xml")


def test_without_the_plots_extra_the_message_names_it_and_nothing_is_written(tmp_path: Path, monkeypatch, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["export", str(SFT), "--png", str(tmp_path / "charts"), "--csv", str(tmp_path / "m.csv")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "pip install 'cookbook-tui[plots]'" in err
    assert not (tmp_path / "charts").exists() and not (tmp_path / "m.csv").exists()


def test_bad_arguments_are_named_with_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["export", str(SFT)]) == 2
    assert "name at least one output" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope"), "--csv", str(tmp_path / "m.csv")]) == 2
    assert f"{tmp_path / 'nope'}: no such run directory" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--csv", str(tmp_path / "m.csv")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    copy = tmp_path / "run"
    shutil.copytree(SFT, copy)
    assert main(["export", str(copy), "--html", str(tmp_path)]) == 2
    assert "is a folder; name a file" in capsys.readouterr().err
