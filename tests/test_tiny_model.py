"""The bundled tiny model: offline loading by name and path, tokenizer, chat template, determinism."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from cookbook_tui.common.tiny_model import (
    TINY_MODEL_NAME,
    TINY_MODEL_RENDERER,
    build_tiny_model,
)


def test_tokenizer_round_trips_non_ascii(tiny_model_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_path))
    for text in ["Grüße aus Köln", "日本語のテキスト", "emoji 🚀 and tabs\tand\nnewlines", "12+34=46"]:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
    # digits are split one by one, which is what makes arithmetic learnable at this size
    digits = tok.encode("12345", add_special_tokens=False)
    assert len(digits) == 5


def test_chat_template_renders_a_conversation_like_the_cookbook_renderer(tiny_model_path: Path) -> None:
    from tinker_cookbook.renderers import get_renderer
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_path))
    convo = [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "5"},
    ]
    text = tok.apply_chat_template(convo, tokenize=False)
    assert text == "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n5<|im_end|>\n"
    assert len(tok.encode("<|im_start|>", add_special_tokens=False)) == 1
    assert tok.eos_token == "<|im_end|>"

    renderer = get_renderer(TINY_MODEL_RENDERER, tok)
    model_input, weights = renderer.build_supervised_example(convo)
    rendered = tok.decode(model_input.to_ints())
    assert rendered.startswith("<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n5<|im_end|>")
    # only the assistant's answer (and its end token) carries loss
    trained = [t for t, w in zip(model_input.to_ints(), weights.tolist()) if w > 0]
    assert tok.decode(trained) == "5<|im_end|>"


def test_short_name_loads_offline_in_a_fresh_process(tiny_model_path: Path) -> None:
    code = (
        "from transformers import AutoTokenizer, AutoModelForCausalLM;"
        f"t = AutoTokenizer.from_pretrained({TINY_MODEL_NAME!r});"
        f"m = AutoModelForCausalLM.from_pretrained({TINY_MODEL_NAME!r});"
        "print(len(t), sum(p.numel() for p in m.parameters()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    vocab, params = map(int, out.stdout.split())
    assert vocab == 512
    assert 500_000 < params < 2_000_000


def test_two_builds_give_identical_files(tmp_path: Path, tiny_model_path: Path) -> None:
    fresh = build_tiny_model(tmp_path / "again")
    names = sorted(p.name for p in tiny_model_path.iterdir())
    assert names == sorted(p.name for p in fresh.iterdir())
    assert "model.safetensors" in names and "tokenizer.json" in names
    match, mismatch, errors = filecmp.cmpfiles(tiny_model_path, fresh, names, shallow=False)
    assert mismatch == [] and errors == []


def test_model_runs_a_forward_pass_and_learns_one_sequence(tiny_model_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_path))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_path))
    ids = torch.tensor([tok.encode("3+4=7", add_special_tokens=False)])
    out = model(ids, labels=ids)
    assert out.logits.shape == (1, ids.shape[1], len(tok))
    first = out.loss.item()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(20):
        opt.zero_grad()
        model(ids, labels=ids).loss.backward()
        opt.step()
    assert model(ids, labels=ids).loss.item() < first / 2
