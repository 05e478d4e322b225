"""`--dry-run` over every bundled recipe (tinker ones with a dummy key): exit 0, or 2 with a line
naming what is missing; never a traceback. One child process runs the CLI's main for all of them,
so the cookbook is imported once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cookbook_tui.recipes.paths import BUNDLED_DIR

pytestmark = pytest.mark.usefixtures("tiny_model_path")

DRIVER = r"""
import contextlib, io, json, sys, traceback
from cookbook_tui.cli.main import main
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(["--run", path, "--dry-run"])
        except SystemExit as exc:
            rc = exc.code
        except BaseException:
            rc, err = "raised", io.StringIO(err.getvalue() + traceback.format_exc())
    print(json.dumps({"path": path, "rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}), flush=True)
"""


def test_dry_run_of_every_bundled_recipe_exits_0_or_2_without_a_traceback(tmp_path: Path) -> None:
    recipes = sorted(BUNDLED_DIR.glob("*.toml"))
    env = {**__import__("os").environ, "TINKER_API_KEY": "tml-dummy", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, recipes)], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [Path(r["path"]).stem for r in results] == [p.stem for p in recipes]
    for r in results:
        name = Path(r["path"]).stem
        assert r["rc"] in (0, 2), (name, r["rc"], r["stderr"][-2000:])
        assert "Traceback" not in r["stdout"] + r["stderr"], (name, r["stderr"][-2000:])
        if r["rc"] == 2:  # a bad-input exit names what is wrong on a line of its own
            assert r["stderr"].strip(), name
    by_name = {Path(r["path"]).stem: r for r in results}
    # The cookbook-module recipes show the command the runner runs and the CLIConfig it parses.
    shorter = by_name["preference-shorter"]
    assert shorter["rc"] == 0
    assert "python -m tinker_cookbook.recipes.preference.shorter.train" in shorter["stdout"]
    assert "behavior_if_log_dir_exists=resume" in shorter["stdout"] and '"batch_size": 4' in shorter["stdout"]
    # math-rl-gsm8k imports now that the math-rl extra is a dependency (it printed an ImportError before).
    assert by_name["math-rl-gsm8k"]["rc"] == 0, by_name["math-rl-gsm8k"]["stderr"]
    assert all(r["rc"] == 0 for r in results), {n: r["stderr"][-300:] for n, r in by_name.items() if r["rc"]}
