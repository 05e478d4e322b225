"""P3: one RL step (sample a group of 16 completions for one prompt, then an importance-sampling
policy-gradient step) through the local engine and the SDK, vs TRL's GRPOTrainer on the same
model, LoRA rank, group size and completion length. Goal: faster.

TRL is installed for the benchmark only: `make bench` puts it in benchmarks/.deps."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from .common import Comparison, Result, offline_env

GROUP, MAX_TOKENS, RANK, LR = 16, 32, 16, 1e-4
PROMPT = "What is 3 + 4?"
DEPS = Path(__file__).resolve().parent / ".deps"


def reward(text: str) -> float:
    return 1.0 if text.strip().startswith("7") else 0.0


def ours_step_times(base_url: str, api_key: str, model: str, steps: int) -> list[float]:
    import tinker
    from tinker import types
    from transformers import AutoTokenizer

    from cookbook_tui.common.tiny_model import resolve_model_path

    tok = AutoTokenizer.from_pretrained(resolve_model_path(model))
    prompt = tok.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True)
    prompt_ids = tok.encode(prompt, add_special_tokens=False)
    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    trainer = service.create_lora_training_client(base_model=model, rank=RANK)
    params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=1.0, stop=[tok.eos_token_id])

    def step() -> None:
        sampler = trainer.save_weights_and_get_sampling_client()
        out = sampler.sample(types.ModelInput.from_ints(prompt_ids), num_samples=GROUP, sampling_params=params).result(timeout=600)
        rewards = [reward(tok.decode(s.tokens)) for s in out.sequences]
        mean = sum(rewards) / len(rewards)
        data = []
        for seq, r in zip(out.sequences, rewards):
            tokens = prompt_ids + list(seq.tokens)
            n_prompt = len(prompt_ids) - 1
            data.append(
                types.Datum(
                    model_input=types.ModelInput.from_ints(tokens[:-1]),
                    loss_fn_inputs={
                        "target_tokens": tokens[1:],
                        "logprobs": [0.0] * n_prompt + list(seq.logprobs),
                        "advantages": [0.0] * n_prompt + [r - mean] * len(seq.tokens),
                    },
                )
            )
        trainer.forward_backward(data, "importance_sampling").result(timeout=600)
        trainer.optim_step(types.AdamParams(learning_rate=LR)).result(timeout=600)

    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def trl_step_times(model_path: str, steps: int) -> list[float]:
    if DEPS.exists():
        sys.path.insert(0, str(DEPS))
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    times: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
            times.append(time.perf_counter() - self.start)

    def reward_fn(completions, **kw):  # noqa: ANN001
        return [reward(c[0]["content"] if isinstance(c, list) else c) for c in completions]

    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": PROMPT}]}] * (GROUP * (steps + 1)))
    work = tempfile.mkdtemp(prefix="bench-p3-trl-")
    config = GRPOConfig(
        output_dir=work,
        per_device_train_batch_size=GROUP,
        num_generations=GROUP,
        max_completion_length=MAX_TOKENS,
        learning_rate=LR,
        max_steps=steps + 1,
        use_cpu=True,
        bf16=False,
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        beta=0.0,
        temperature=1.0,
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(
        model=model_path,
        reward_funcs=reward_fn,
        args=config,
        train_dataset=dataset,
        peft_config=LoraConfig(r=RANK, lora_alpha=32, target_modules="all-linear"),
        callbacks=[StepClock()],
    )
    trainer.train()
    return times[1:]  # the first step pays for warm-up


def run(quick: bool = False) -> Result:
    offline_env()
    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME, ensure_tiny_model
    from cookbook_tui.engine import start_local_server

    steps = 3 if quick else 8
    work = Path(tempfile.mkdtemp(prefix="bench-p3-"))
    with start_local_server(data_dir=work / "data") as server:
        ours = ours_step_times(server.base_url, server.api_key, TINY_MODEL_NAME, steps)
    ref = trl_step_times(str(ensure_tiny_model()), steps)
    result = Result(
        benchmark="p3_rl_step",
        title=f"one RL step: group of {GROUP} x {MAX_TOKENS} tokens + policy-gradient update, LoRA rank {RANK}",
        ours_label="engine via SDK",
        reference_label="TRL GRPOTrainer",
    )
    result.rows.append(
        Comparison.of_times("tiny ~1M", "s/step", ours, ref, goal=">= 1.2 (issue 15)", notes=f"median of {steps} steps")
    )
    return result
