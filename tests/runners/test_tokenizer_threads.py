"""One fast tokenizer shared by 16 rendering threads, as tinker-cookbook's thread pools use it:
without runners/tokenizer_threads.py transformers 5.x raises `Already borrowed`; with it, every
call succeeds and gives the single-threaded tokens."""

from __future__ import annotations

import json
import subprocess
import sys

RACE = r"""
import json, os, sys, threading
os.environ["HF_HUB_OFFLINE"] = "1"
from cookbook_tui.common.tiny_model import ensure_tiny_model
if sys.argv[1] == "safe":
    from cookbook_tui.runners.tokenizer_threads import make_tokenizers_thread_safe
    make_tokenizers_thread_safe()
    make_tokenizers_thread_safe()  # idempotent
from tinker_cookbook import renderers
from tinker_cookbook.tokenizer_utils import get_tokenizer
tokenizer = get_tokenizer(str(ensure_tiny_model()))
renderer = renderers.get_renderer("qwen3_instruct", tokenizer)
messages = [{"role": "user", "content": "What is 3 + 4? <|im_end|>"}]
want = renderer.build_generation_prompt(messages).to_ints()
want_text = tokenizer.decode(want)
errors, wrong = [], 0
def work():
    global wrong
    for _ in range(15):
        try:
            got = renderer.build_generation_prompt(messages).to_ints()
            wrong += got != want or tokenizer.decode(got) != want_text
        except Exception as exc:
            errors.append(type(exc).__name__ + ": " + str(exc))
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"errors": len(errors), "kinds": sorted(set(errors)), "wrong": wrong}))
"""


def _race(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RACE, mode], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_shared_tokenizer_is_safe_across_rendering_threads(tiny_model_path) -> None:
    safe = _race("safe")
    assert safe == {"errors": 0, "kinds": [], "wrong": 0}


def test_without_the_locks_the_race_is_there(tiny_model_path) -> None:
    # If transformers fixes the race, this fails: then runners/tokenizer_threads.py can go.
    unsafe = _race("unsafe")
    assert unsafe["errors"] > 0 and unsafe["kinds"] == ["RuntimeError: Already borrowed"], unsafe
