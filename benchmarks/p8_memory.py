"""P8: engine memory for an RL run's models on one base: a base sampler (the reference model), a
LoRA training client, a sampler of its weights and a second training client, on the ~30M model.
Ours: the growth of the process's RSS from before the base model loads to after each of them has
run a step. Reference: the bytes those models must hold at least — the base weights once, plus
every adapter's tensors and the trainers' AdamW state. Goal: ours <= 1.3x the reference.

Each case runs in a fresh interpreter, so earlier benchmarks' memory does not count; RSS is read
after `malloc_trim` (glibc keeps freed activation buffers mapped otherwise)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import Comparison, Result, llama_30m_folder, offline_env

RANK = 32


def _rss() -> int:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def child(model_path: str, data_dir: str) -> dict:
    """Runs in its own interpreter: returns RSS growth and the bytes the models need."""
    offline_env()
    import torch
    from tinker import types

    torch.set_num_threads(1)
    # Library code is not model memory: import what loading and LoRA use before the first reading.
    import peft  # noqa: F401
    import peft.tuners.lora  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM  # noqa: F401

    from cookbook_tui.engine.engine import Engine

    engine = Engine(Path(data_dir), device="cpu", seed=0)
    before = _rss()
    marks = {}
    engine.create_sampler("base", base_model=model_path)
    base = engine.bases.get(model_path)
    tok = base.tokenizer
    prompt = types.ModelInput.from_ints(tok.encode("1+2=3. 4+5=", add_special_tokens=False))
    params = types.SamplingParams(max_tokens=16, temperature=1.0, seed=0)
    engine.sample("base", prompt, 4, params)
    marks["base sampler"] = _rss() - before

    ids = tok.encode("3+4=7. 2+2=4. 5+1=6.", add_special_tokens=False)
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(ids[:-1]),
        loss_fn_inputs={"target_tokens": ids[1:], "weights": [1.0] * (len(ids) - 1)},
    )

    def train(model_id: str) -> None:
        engine.create_model(model_id, model_path, types.LoraConfig(rank=RANK))
        engine.forward_backward(model_id, [datum] * 4, "cross_entropy")
        engine.optim_step(model_id, types.AdamParams(learning_rate=1e-4))

    train("trainer-1")
    marks["+ training client"] = _rss() - before
    path = engine.save_sampler_weights("trainer-1", None)
    engine.create_sampler("policy", model_path=path)
    engine.sample("policy", prompt, 4, params)
    marks["+ its sampler"] = _rss() - before
    train("trainer-2")
    marks["+ second training client"] = _rss() - before

    weights = _tensor_bytes(p for p in base.model.parameters() if "lora_" not in _param_name(base, p))
    adapters = sum(_tensor_bytes(engine._training(m).state.values()) for m in ("trainer-1", "trainer-2"))
    sampler_adapter = _tensor_bytes(engine._training("trainer-1").state.values())  # same shape
    optimizer = sum(
        _tensor_bytes(v for s in engine._training(m).optimizer.state.values() for v in s.values() if v.dim())
        for m in ("trainer-1", "trainer-2")
    )
    return {
        "rss_growth": marks,
        "weights": weights,
        "adapters": adapters + sampler_adapter,
        "optimizer": optimizer,
    }


def _param_name(base, param) -> str:
    names = getattr(base, "_param_names", None)
    if names is None:
        root = base.shared.peft if base.shared is not None and base.shared.peft is not None else base.model
        names = {id(p): n for n, p in root.named_parameters()}
        base._param_names = names
    return names.get(id(param), "")


def run(quick: bool = False) -> Result:
    offline_env()
    result = Result(
        benchmark="p8_memory",
        title=f"engine RSS for base sampler + training client + its sampler + 2nd training client, LoRA rank {RANK}",
        ours_label="engine RSS growth (MiB)",
        reference_label="weights + adapters + AdamW (MiB)",
    )
    work = Path(tempfile.mkdtemp(prefix="bench-p8-"))
    folder = llama_30m_folder(work)
    code = (
        "import json, sys; from benchmarks.p8_memory import child; "
        "print('P8JSON' + json.dumps(child(sys.argv[1], sys.argv[2])))"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(work / "data")],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(Path(__file__).resolve().parent.parent),
        timeout=900,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("P8JSON")), None)
    if line is None:
        raise RuntimeError(f"P8 child failed: {proc.stderr[-2000:]}")
    data = json.loads(line[len("P8JSON"):])
    mib = 1024 * 1024
    needed = (data["weights"] + data["adapters"] + data["optimizer"]) / mib
    growth = data["rss_growth"]
    total = growth["+ second training client"] / mib
    result.rows.append(
        Comparison(
            case="llama ~30M, all four",
            unit="MiB",
            ours=total,
            reference=needed,
            goal="<= 1.3 (ours / reference)",
            notes=f"weights {data['weights'] / mib:.0f}, adapters {data['adapters'] / mib:.1f}, "
            f"AdamW {data['optimizer'] / mib:.1f} MiB; RSS after each: "
            + ", ".join(f"{k} {v / mib:.0f}" for k, v in growth.items()),
        )
    )
    result.details["analysis"] = (
        "Ratio here is ours / reference (lower is better; goal <= 1.3). One copy of the base weights: "
        "training clients and samplers are named peft adapters on it (engine/models.py "
        "SharedModel), so each adds its adapter (and a trainer its AdamW state), not a model copy. "
        "Before that change the same four cost 5.1x (issue 15: each deep-copied the base)."
    )
    return result
