"""The local engine's model core: Tinker's training and sampling operations over torch + peft.

`Engine` takes and returns `tinker.types` objects; the HTTP server only converts between the wire
and these. Every training model is a LoRA-wrapped private copy of its base model with its own
AdamW and its own lock, so several models can be driven from worker threads at once. Gradients
accumulate across `forward_backward` calls until `optim_step`, as in Tinker.

Samplers hold frozen adapter weights, not models: each (base model, LoRA shape) has one sampling
model whose adapter tensors are swapped in when a different sampler uses it, so an RL loop that
saves sampler weights every step costs one small tensor copy, not a model copy.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tinker import types

from ..tiny_model import MODEL_SHAPE, TINY_MODEL_NAME
from . import losses, sampling
from .adapters import Adapter, AdapterCache, read_adapter_file
from .checkpoints import (
    ADAPTER_FILE,
    KIND_FOLDERS,
    OPTIMIZER_FILE,
    CheckpointStore,
    check_checkpoint_name,
    check_ttl,
    expires_at,
    folder_size,
    parse_tinker_path,
    pid_alive,
    tinker_path,
    utc_now,
    write_peft_export,
)
from .errors import EngineError
from .sample_jobs import SampleCancelled, SampleJob
from .models import (
    LORA_ALPHA,
    BaseModel,
    BaseModelCache,
    build_lora_model,
    check_lora_config,
    lora_signature,
    pick_device,
    trainable_state,
)

__all__ = ["Engine", "EngineError"]

DEFAULT_LORA_RANK = 32
MODEL_OWNER = "local"


@dataclass
class TrainingModel:
    model_id: str
    base: BaseModel
    lora_config: types.LoraConfig
    model: Any  # peft model
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.AdamW
    user_metadata: dict[str, str] | None
    created_at: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    optim_steps: int = 0


@dataclass
class SamplingModel:
    model: Any
    loaded_key: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Engine:
    def __init__(self, data_dir: Path, device: str | None = None, seed: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.device = pick_device(device)
        self.seed = seed
        self.store = CheckpointStore(self.data_dir)
        self.bases = BaseModelCache(self.device)
        self._models: dict[str, TrainingModel] = {}
        self._samplers: dict[str, Adapter] = {}
        self._sampling_models: dict[tuple, SamplingModel] = {}
        self._ephemeral: dict[str, Adapter] = {}  # unnamed sampler weights, by their path
        self.adapters = AdapterCache(_scratch_dir(self.data_dir), self.device)
        self._lock = threading.Lock()  # guards the registries above, never held during model work
        self._seed_rng = np.random.default_rng(seed)
        self._counter = itertools.count(1)

    # -- models ---------------------------------------------------------------------------------
    def supported_models(self) -> list[types.SupportedModel]:
        return [
            types.SupportedModel(
                model_name=TINY_MODEL_NAME,
                max_context_length=MODEL_SHAPE["max_position_embeddings"],
                trainable=True,
                sampleable=True,
            )
        ]

    def create_model(
        self,
        model_id: str,
        base_model: str,
        lora_config: types.LoraConfig | None = None,
        user_metadata: dict[str, str] | None = None,
    ) -> str:
        """Create a LoRA training model. Idempotent for a model id already live (client retries)."""
        with self._lock:
            if model_id in self._models:
                return model_id
        lora_config = lora_config or types.LoraConfig(rank=DEFAULT_LORA_RANK)
        check_lora_config(lora_config)
        base = self.bases.get(base_model)
        model = build_lora_model(base, lora_config, self.seed)
        params = list(trainable_state(model).values())
        optimizer = torch.optim.AdamW(params, lr=0.0, weight_decay=0.0)
        created_at = utc_now()
        training = TrainingModel(
            model_id=model_id,
            base=base,
            lora_config=lora_config,
            model=model,
            params=params,
            optimizer=optimizer,
            user_metadata=dict(user_metadata) if user_metadata else None,
            created_at=created_at,
        )
        self.store.write_run(
            model_id,
            {
                "model_id": model_id,
                "base_model": base_model,
                "lora_config": lora_config.model_dump(),
                "user_metadata": training.user_metadata,
                "created_at": created_at,
            },
        )
        with self._lock:
            self._models.setdefault(model_id, training)
            return model_id

    def create_model_from_state(
        self,
        model_id: str,
        path: str,
        with_optimizer: bool = False,
        base_model: str | None = None,
        user_metadata: dict[str, str] | None = None,
    ) -> str:
        """A new training model shaped like the checkpoint at `path`, loaded from it (resume).
        Without `user_metadata` the new run inherits the checkpoint's run's metadata."""
        meta = self.store.read_checkpoint_meta(path)
        if user_metadata is None:
            source = self.store.read_run(meta["model_id"]) or {}
            user_metadata = source.get("user_metadata")
        self.create_model(
            model_id,
            base_model or meta["base_model"],
            types.LoraConfig(**meta["lora_config"]),
            user_metadata,
        )
        self.load_state(model_id, path, with_optimizer=with_optimizer)
        return model_id

    def unload_model(self, model_id: str) -> None:
        """Free a live model's memory; its run and checkpoints stay on disk."""
        with self._lock:
            self._models.pop(model_id, None)

    def model_info(self, model_id: str) -> types.GetInfoResponse:
        training = self._training(model_id)
        return types.GetInfoResponse(
            type="get_info",
            model_id=model_id,
            model_data=types.ModelData(
                arch=getattr(training.base.model.config, "model_type", None),
                model_name=training.base.name,
                tokenizer_id=training.base.tokenizer_id,
            ),
            is_lora=True,
            lora_rank=training.lora_config.rank,
            model_name=training.base.name,
        )

    def _training(self, model_id: str) -> TrainingModel:
        with self._lock:
            training = self._models.get(model_id)
        if training is None:
            raise EngineError(f"unknown model id {model_id!r} (not created in this server)", "not_found")
        return training

    # -- training -------------------------------------------------------------------------------
    def forward_backward(
        self,
        model_id: str,
        data: list[types.Datum],
        loss_fn: str,
        loss_fn_config: dict[str, float] | None = None,
        forward_only: bool = False,
    ) -> types.ForwardBackwardOutput:
        losses.check_loss_fn(loss_fn)
        config = losses.resolve_config(loss_fn, loss_fn_config)
        training = self._training(model_id)
        with training.lock:
            batch = losses.build_batch(list(data), loss_fn, self.device)
            ids = batch.input_ids  # right-padded with 0, a valid id
            _check_fits(training.base, int(ids.min()), int(ids.max()), max(batch.lengths), "model_input")
            if forward_only:
                with torch.inference_mode():
                    logprobs = losses.target_logprobs(training.model, batch)
                    total = losses.token_losses(loss_fn, logprobs, batch, config).sum()
            else:
                logprobs = losses.target_logprobs(training.model, batch)
                total = losses.token_losses(loss_fn, logprobs, batch, config).sum()
                total.backward()  # accumulates into .grad until optim_step
            outputs = losses.per_datum_outputs(logprobs, batch)
        return types.ForwardBackwardOutput(
            loss_fn_output_type="ArrayRecord",
            loss_fn_outputs=outputs,
            metrics={"loss:sum": float(total.detach())},
        )

    def optim_step(self, model_id: str, adam_params: types.AdamParams) -> dict[str, float]:
        _check_adam(adam_params)
        training = self._training(model_id)
        with training.lock:
            max_norm = adam_params.grad_clip_norm if adam_params.grad_clip_norm > 0 else float("inf")
            grad_norm = torch.nn.utils.clip_grad_norm_(training.params, max_norm)
            for group in training.optimizer.param_groups:
                group["lr"] = adam_params.learning_rate
                group["betas"] = (adam_params.beta1, adam_params.beta2)
                group["eps"] = adam_params.eps
                group["weight_decay"] = adam_params.weight_decay
            training.optimizer.step()
            training.optimizer.zero_grad(set_to_none=True)
            training.optim_steps += 1
        return {
            "engine/grad_norm": float(grad_norm),
            "engine/learning_rate": float(adam_params.learning_rate),
        }

    # -- checkpoints ----------------------------------------------------------------------------
    def save_state(
        self, model_id: str, name: str, ttl_seconds: int | None = None, user_metadata: dict | None = None
    ) -> str:
        """Weights and optimizer state -> `tinker://<model_id>/weights/<name>`."""
        return self._save(
            model_id, "weights", check_checkpoint_name(name), True, ttl_seconds, user_metadata
        )

    def save_sampler_weights(
        self,
        model_id: str,
        name: str | None,
        ttl_seconds: int | None = None,
        user_metadata: dict | None = None,
    ) -> str:
        """Weights for sampling -> `tinker://<model_id>/sampler_weights/<name>`; with no name they
        are kept in memory only (save_weights_and_get_sampling_client) under an ephemeral path."""
        if name is not None:
            return self._save(
                model_id, "sampler_weights", check_checkpoint_name(name), False, ttl_seconds, user_metadata
            )
        training = self._training(model_id)
        path = tinker_path(model_id, "sampler_weights", f"ephemeral-{next(self._counter)}")
        with training.lock:
            state = {k: v.detach().clone() for k, v in trainable_state(training.model).items()}
        adapter = Adapter(path, training.base.name, training.lora_config, model_path=path)
        self.adapters.put(adapter, state)
        with self._lock:
            self._ephemeral[path] = adapter
        return path

    def save_external(self, model_id: str, name: str, ttl_seconds: int | None = None) -> tuple[str, int]:
        """The adapter as a PEFT folder (`adapter_model.safetensors`, `adapter_config.json`) ->
        `tinker://<model_id>/external_weights/<name>`, the files `tinker checkpoint download`
        fetches; returns (path, size in bytes)."""
        path = self._save(model_id, "external_weights", check_checkpoint_name(name), False, ttl_seconds)
        return path, folder_size(self.store.existing_checkpoint_dir(path))

    def set_checkpoint_ttl(self, path: str, ttl_seconds: int | None) -> None:
        self.store.update_checkpoint_meta(path, {"expires_at": expires_at(ttl_seconds)})

    def set_checkpoint_public(self, path: str, public: bool) -> None:
        """Idempotent: the service answers 409 for "already public", which the SDK retries
        (as a lock timeout) until its deadline, so a second publish would hang the caller."""
        self.store.update_checkpoint_meta(path, {"public": public})

    def checkpoint_files(self, path: str) -> tuple[Path, list[str]]:
        """An external weights checkpoint's folder and its files (relative paths)."""
        self.store.read_checkpoint_meta(path)  # not found / expired
        folder = self.store.existing_checkpoint_dir(path)
        files = sorted(
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "checkpoint.json"
        )
        return folder, files

    def _save(
        self,
        model_id: str,
        kind: str,
        name: str,
        with_optimizer: bool,
        ttl_seconds: int | None = None,
        user_metadata: dict | None = None,
    ) -> str:
        from safetensors.torch import save_file

        check_ttl(ttl_seconds)
        training = self._training(model_id)
        path = tinker_path(model_id, kind, name)
        with training.lock:
            tensors = {k: v.detach().cpu().contiguous() for k, v in trainable_state(training.model).items()}
            optimizer_state = training.optimizer.state_dict() if with_optimizer else None

            def write(folder: Path) -> None:
                if kind == "external_weights":
                    write_peft_export(folder, tensors, training.base.name, training.lora_config.rank, LORA_ALPHA)
                    return
                save_file(tensors, str(folder / ADAPTER_FILE))
                if optimizer_state is not None:
                    torch.save(optimizer_state, folder / OPTIMIZER_FILE)

            meta = {
                "model_id": model_id,
                "kind": kind,
                "name": name,
                "base_model": training.base.name,
                "lora_config": training.lora_config.model_dump(),
                "created_at": utc_now(),
                "has_optimizer": optimizer_state is not None,
                "optim_steps": training.optim_steps,
                "expires_at": expires_at(ttl_seconds),
                "public": False,
                "user_metadata": user_metadata,
            }
            self.store.write_checkpoint(path, meta, write)
        return path

    def load_state(self, model_id: str, path: str, with_optimizer: bool = False) -> None:
        """Load a checkpoint's weights (and optimizer state) into a live model of the same shape."""
        training = self._training(model_id)
        _refuse_external(path)
        meta = self.store.read_checkpoint_meta(path)
        folder = self.store.existing_checkpoint_dir(path)
        state = read_adapter_file(folder / ADAPTER_FILE, self.device)
        if with_optimizer and not meta.get("has_optimizer"):
            raise EngineError(f"checkpoint {path} has no optimizer state (it is a sampler checkpoint)")
        with training.lock:
            current = trainable_state(training.model)
            if set(current) != set(state) or any(current[k].shape != state[k].shape for k in state):
                raise EngineError(
                    f"checkpoint {path} (base {meta['base_model']!r}, LoRA rank "
                    f"{meta['lora_config']['rank']}) does not fit model {model_id!r} (base "
                    f"{training.base.name!r}, LoRA rank {training.lora_config.rank})"
                )
            with torch.no_grad():
                for key, tensor in state.items():
                    current[key].copy_(tensor)
            training.optimizer.zero_grad(set_to_none=True)
            if with_optimizer:
                saved = torch.load(folder / OPTIMIZER_FILE, map_location=self.device, weights_only=True)
                training.optimizer.load_state_dict(saved)
                training.optim_steps = int(meta.get("optim_steps", 0))
            else:
                # Weights only: Adam starts over, as on a freshly created model.
                training.optimizer.state.clear()
                training.optim_steps = 0

    # -- sampling -------------------------------------------------------------------------------
    def create_sampler(
        self, sampler_id: str, base_model: str | None = None, model_path: str | None = None
    ) -> types.GetSamplerResponse:
        if model_path:
            adapter = self._adapter_for_path(model_path)
            if base_model and base_model != adapter.base_model:
                raise EngineError(
                    f"base_model {base_model!r} does not match {model_path}'s base model "
                    f"{adapter.base_model!r}"
                )
        elif base_model:
            self.bases.get(base_model)  # fail now, not at the first sample, on a bad name
            adapter = Adapter(f"base:{base_model}", base_model)
        else:
            raise EngineError("create a sampler from a base_model or a model_path")
        with self._lock:
            self._samplers[sampler_id] = adapter
        return self.sampler_info(sampler_id)

    def sampler_info(self, sampler_id: str) -> types.GetSamplerResponse:
        adapter = self._sampler(sampler_id)
        return types.GetSamplerResponse(
            sampler_id=sampler_id, base_model=adapter.base_model, model_path=adapter.model_path
        )

    def _sampler(self, sampler_id: str) -> Adapter:
        with self._lock:
            adapter = self._samplers.get(sampler_id)
        if adapter is None:
            raise EngineError(f"unknown sampler id {sampler_id!r}", "not_found")
        return adapter

    def _adapter_for_path(self, path: str) -> Adapter:
        parse_tinker_path(path)
        _refuse_external(path)
        with self._lock:
            ephemeral = self._ephemeral.get(path)
        if ephemeral is not None:
            return ephemeral
        meta = self.store.read_checkpoint_meta(path)
        folder = self.store.existing_checkpoint_dir(path)
        adapter = Adapter(
            key=f"{path}@{meta['created_at']}",
            base_model=meta["base_model"],
            lora_config=types.LoraConfig(**meta["lora_config"]),
            model_path=path,
            folder=folder,
        )
        # Read now: the sampler samples these tensors even if the name is saved over later.
        self.adapters.put(adapter, read_adapter_file(folder / ADAPTER_FILE, self.device))
        return adapter

    def sample(
        self,
        sampler_id: str,
        prompt: types.ModelInput,
        num_samples: int,
        sampling_params: types.SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        prompt_logprobs_last_n: int | None = None,
    ) -> types.SampleResponse:
        adapter = self._sampler(sampler_id)
        base = self.bases.get(adapter.base_model)
        try:
            prompt_tokens = prompt.to_ints()
        except ValueError as exc:
            raise EngineError("the local engine samples from token chunks only (no images)") from exc
        if prompt_tokens:  # an empty prompt is refused by sampling.sample, by name
            _check_fits(base, min(prompt_tokens), max(prompt_tokens), len(prompt_tokens), "prompt")
        sampling.check_sampling_params(sampling_params)  # before the seed reaches torch
        seed = sampling_params.seed
        if seed is None:
            with self._lock:
                seed = int(self._seed_rng.integers(0, 2**63 - 1))
        generator = torch.Generator(device=self.device).manual_seed(seed)
        kwargs = dict(
            tokenizer=base.tokenizer,
            prompt=prompt_tokens,
            num_samples=num_samples,
            params=sampling_params,
            eos_ids=base.stop_token_ids,
            context_length=base.context_length,
            generator=generator,
            prompt_logprobs=include_prompt_logprobs,
            topk_prompt_logprobs=topk_prompt_logprobs,
            prompt_logprobs_last_n=prompt_logprobs_last_n,
        )
        if adapter.lora_config is None:
            completions, prompt_lps, prompt_topk = sampling.sample(base.model, **kwargs)
        else:
            state = self.adapters.state(adapter)
            slot = self._sampling_model(base, adapter)
            with slot.lock:
                if slot.loaded_key != adapter.key:
                    current = dict(slot.model.named_parameters())
                    with torch.no_grad():
                        for key, tensor in state.items():
                            current[key].copy_(tensor)
                    slot.loaded_key = adapter.key
                completions, prompt_lps, prompt_topk = sampling.sample(slot.model, **kwargs)
        sequences = [
            types.SampledSequence(
                stop_reason=c.stop_reason,
                sequence_id=f"{sampler_id}:seq:{next(self._counter)}",
                tokens_np=np.asarray(c.tokens, dtype=np.int32),
                logprobs_np=np.asarray(c.logprobs, dtype=np.float32),
            )
            for c in completions
        ]
        return types.SampleResponse(
            sequences=sequences, prompt_logprobs_np=prompt_lps, topk_prompt_logprobs_np=prompt_topk
        )

    def sample_batch(
        self, jobs: list[SampleJob], take_more: Callable[[], list[SampleJob]] | None = None
    ) -> None:
        """Answer every job through its `on_done` (see `sample_jobs`); runs on the worker thread.

        This version decodes the jobs one after another; `take_more` joins jobs queued meanwhile.
        """
        pending = list(jobs)
        while pending:
            job = pending.pop(0)
            if job.is_cancelled():
                job.on_done(SampleCancelled(f"sample request on {job.sampler_id} was cancelled"))
            else:
                try:
                    req = job.request
                    response: types.SampleResponse | BaseException = self.sample(
                        job.sampler_id,
                        req.prompt,
                        req.num_samples,
                        req.sampling_params,
                        bool(req.prompt_logprobs),
                        req.topk_prompt_logprobs,
                        req.prompt_logprobs_last_n,
                    )
                except Exception as exc:  # each job gets its own error; the others go on
                    response = exc
                job.on_done(response)
            if take_more is not None:
                pending.extend(take_more())

    def _sampling_model(self, base: BaseModel, adapter: Adapter) -> SamplingModel:
        assert adapter.lora_config is not None
        key = (base.name, lora_signature(adapter.lora_config))
        with self._lock:
            slot = self._sampling_models.get(key)
        if slot is None:
            model = build_lora_model(base, adapter.lora_config, self.seed)
            model.requires_grad_(False)
            with self._lock:  # a concurrent first use may have won the race: keep its model
                slot = self._sampling_models.setdefault(key, SamplingModel(model))
        return slot

    # -- runs and checkpoints (REST reads) ------------------------------------------------------
    def get_training_run(self, model_id: str) -> types.TrainingRun:
        record = self.store.read_run(model_id)
        if record is None:
            raise EngineError(f"unknown training run {model_id!r}", "not_found")
        return self._training_run(record)

    def list_training_runs(self) -> list[types.TrainingRun]:
        runs = [self._training_run(record) for record in self.store.all_runs()]
        runs.sort(key=lambda run: run.last_request_time, reverse=True)
        return runs

    def list_checkpoints(self, model_id: str) -> list[types.Checkpoint]:
        if self.store.read_run(model_id) is None:
            raise EngineError(f"unknown training run {model_id!r}", "not_found")
        return [
            _checkpoint(model_id, kind, name, folder, meta)
            for kind, name, folder, meta in self.store.list_checkpoints(model_id)
        ]

    def delete_checkpoint(self, path: str) -> None:
        self.store.delete_checkpoint(path)

    def _training_run(self, record: dict[str, Any]) -> types.TrainingRun:
        model_id = record["model_id"]
        checkpoints = self.list_checkpoints(model_id)
        training = [c for c in checkpoints if c.checkpoint_type == "training"]
        sampler = [c for c in checkpoints if c.checkpoint_type == "sampler"]
        times = [datetime.fromisoformat(record["created_at"])] + [c.time for c in checkpoints]
        return types.TrainingRun(
            training_run_id=model_id,
            base_model=record["base_model"],
            model_owner=MODEL_OWNER,
            is_lora=True,
            lora_rank=record["lora_config"]["rank"],
            last_request_time=max(times),
            last_checkpoint=training[-1] if training else None,
            last_sampler_checkpoint=sampler[-1] if sampler else None,
            user_metadata=record.get("user_metadata"),
        )


def _checkpoint(model_id: str, kind: str, name: str, folder: Path, meta: dict) -> types.Checkpoint:
    return types.Checkpoint(
        checkpoint_id=f"{kind}/{name}",
        checkpoint_type=KIND_FOLDERS[kind],
        time=datetime.fromisoformat(meta["created_at"]),
        tinker_path=tinker_path(model_id, kind, name),
        size_bytes=folder_size(folder),
        public=bool(meta.get("public")),
        user_metadata=meta.get("user_metadata"),
        expires_at=datetime.fromisoformat(meta["expires_at"]) if meta.get("expires_at") else None,
    )


def _refuse_external(path: str) -> None:
    if parse_tinker_path(path)[1] == "external_weights":
        raise EngineError(
            f"{path} is an external weights export (for download); load or sample a "
            "tinker://…/weights/… or …/sampler_weights/… checkpoint"
        )


def _scratch_dir(data_dir: Path) -> Path:
    """This process's spill folder for evicted sampler weights; folders of dead processes go."""
    scratch = data_dir / "scratch"
    if scratch.is_dir():
        for folder in scratch.glob("spill-*"):
            pid = folder.name.split("-")[1]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
    return scratch / f"spill-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _check_fits(base: BaseModel, lowest: int, highest: int, longest: int, what: str) -> None:
    """Token ids inside the vocabulary and sequences inside the context, as user errors: torch
    would answer an IndexError (read as our fault), and an endless sequence would exhaust memory."""
    vocab = base.model.get_input_embeddings().num_embeddings
    for bad in (lowest, highest):
        if not 0 <= bad < vocab:
            raise EngineError(f"{what} holds token id {bad}, outside the model's vocabulary [0, {vocab})")
    if longest > base.context_length:
        raise EngineError(
            f"{what} has {longest} tokens, more than the model's context length {base.context_length}"
        )


def _check_adam(params: types.AdamParams) -> None:
    checks = [
        ("learning_rate", params.learning_rate >= 0, ">= 0"),
        ("beta1", 0 <= params.beta1 < 1, "in [0, 1)"),
        ("beta2", 0 <= params.beta2 < 1, "in [0, 1)"),
        ("eps", params.eps >= 0, ">= 0"),
        ("weight_decay", params.weight_decay >= 0, ">= 0"),
        ("grad_clip_norm", params.grad_clip_norm >= 0, ">= 0 (0 = no clipping)"),
    ]
    for name, ok, rule in checks:
        if not ok:
            raise EngineError(f"adam_params.{name} must be {rule}, got {getattr(params, name)}")
