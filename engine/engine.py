"""The local engine's model core: Tinker's training and sampling operations over torch + peft.

`Engine` takes and returns `tinker.types` objects; the HTTP server only converts between the wire
and these. A base model is held once (`models.SharedModel`): every training model is a named LoRA
adapter on it with its own AdamW and its own lock, activated for each call (the shared model's
lock serialises the forwards of different adapters). Gradients accumulate across
`forward_backward` calls until `optim_step`, as in Tinker.

Samplers hold frozen adapter weights, not models: their tensors are loaded into a few sampler
adapter slots on the shared base (`adapters.SamplerSlots`), so an RL loop that saves sampler
weights every step costs one small tensor copy. `sample_batch` decodes every queued request on a
base together (`sampling.DecodeBatch`), joining and leaving at step boundaries.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tinker import types

from cookbook_tui.common.procs import pid_alive
from cookbook_tui.common.tiny_model import MODEL_SHAPE, TINY_MODEL_NAME

from . import losses, sampling
from .adapters import Adapter, AdapterCache, SamplerSlots, read_adapter_file
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
    tinker_path,
    utc_now,
    write_peft_export,
)
from .errors import EngineError
from .models import LORA_ALPHA, BaseModel, BaseModelCache, SharedModel, check_lora_config, pick_device
from .sample_jobs import SampleCancelled, SampleJob

__all__ = ["Engine", "EngineError"]

DEFAULT_LORA_RANK = 32
MODEL_OWNER = "local"


@dataclass
class TrainingModel:
    model_id: str
    base: BaseModel
    lora_config: types.LoraConfig
    adapter: str  # its peft adapter's name on the shared base model
    state: dict[str, torch.nn.Parameter]  # its LoRA tensors, by their checkpoint names
    optimizer: torch.optim.AdamW
    user_metadata: dict[str, str] | None
    created_at: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    optim_steps: int = 0

    @classmethod
    def new(
        cls,
        model_id: str,
        base: BaseModel,
        lora_config: types.LoraConfig,
        seed: int,
        user_metadata: dict[str, str] | None,
    ) -> TrainingModel:
        """A fresh LoRA adapter on `base` (initialised from `seed` unless the config has its own)
        with its own AdamW, whose hyperparameters every optim_step sets."""
        assert base.shared is not None
        adapter = base.shared.add_adapter(lora_config, seed, prefix="train")
        state = base.shared.adapter_params(adapter)
        return cls(
            model_id=model_id,
            base=base,
            lora_config=lora_config,
            adapter=adapter,
            state=state,
            optimizer=torch.optim.AdamW(list(state.values()), lr=0.0, weight_decay=0.0),
            user_metadata=dict(user_metadata) if user_metadata else None,
            created_at=utc_now(),
        )

    @property
    def shared(self) -> SharedModel:
        assert self.base.shared is not None
        return self.base.shared

    @property
    def params(self) -> list[torch.nn.Parameter]:
        return list(self.state.values())


class Engine:
    def __init__(self, data_dir: Path, device: str | None = None, seed: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.device = pick_device(device)
        self.seed = seed
        self.store = CheckpointStore(self.data_dir)
        self.bases = BaseModelCache(self.device)
        self._models: dict[str, TrainingModel] = {}
        self._samplers: dict[str, Adapter] = {}
        self.slots = SamplerSlots()
        self._ephemeral: dict[str, Adapter] = {}  # unnamed sampler weights, by their path
        self.adapters = AdapterCache(_scratch_dir(self.data_dir), self.device)
        self._lock = threading.Lock()  # guards the registries above, never held during model work
        # One sample_batch at a time: the sampler slots it fills stay put until it is done.
        self._sampling_lock = threading.RLock()
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
        training = TrainingModel.new(model_id, self.bases.get(base_model), lora_config, self.seed, user_metadata)
        self.store.write_run(
            model_id,
            {
                "model_id": model_id,
                "base_model": base_model,
                "lora_config": lora_config.model_dump(),
                "user_metadata": training.user_metadata,
                "created_at": training.created_at,
            },
        )
        with self._lock:
            kept = self._models.setdefault(model_id, training)
        if kept is not training:  # a concurrent retry won the race: drop this adapter
            training.shared.delete_adapter(training.adapter)
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
            training = self._models.pop(model_id, None)
        if training is not None:
            with training.lock:
                training.shared.delete_adapter(training.adapter)

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
        loss_fn_config: dict[str, float | str] | None = None,
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
                with torch.inference_mode(), training.shared.lock:
                    model = training.shared.activate(training.adapter)
                    logprobs = losses.target_logprobs(model, batch)
                    total = losses.token_losses(loss_fn, logprobs, batch, config).sum()
            else:
                with training.shared.training(training.adapter) as model:
                    logprobs = losses.target_logprobs(model, batch)
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
            state = {k: v.detach().clone() for k, v in training.state.items()}
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
            tensors = {k: v.detach().cpu().contiguous() for k, v in training.state.items()}
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
            current = training.state
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
        request = types.SampleRequest(
            prompt=prompt,
            num_samples=num_samples,
            sampling_params=sampling_params,
            prompt_logprobs=include_prompt_logprobs,
            topk_prompt_logprobs=topk_prompt_logprobs,
            prompt_logprobs_last_n=prompt_logprobs_last_n,
        )
        return self.sample_request(sampler_id, request)

    def sample_request(self, sampler_id: str, request: types.SampleRequest) -> types.SampleResponse:
        """One request, every SampleRequest option included, decoded on its own."""
        answers: list[types.SampleResponse | BaseException] = []
        self.sample_batch([SampleJob(sampler_id, request, answers.append)])
        if isinstance(answers[0], BaseException):
            raise answers[0]
        return answers[0]

    def sample_batch(
        self, jobs: list[SampleJob], take_more: Callable[[], list[SampleJob]] | None = None
    ) -> None:
        """Answer every job through its `on_done` (see `sample_jobs`); runs on the worker thread.

        Jobs on the same base model decode together (`sampling.DecodeBatch`); `take_more()` is
        called at every step boundary and what it returns joins the running batches."""
        with self._sampling_lock:
            self._decode(jobs, take_more)

    def _decode(self, jobs: list[SampleJob], take_more: Callable[[], list[SampleJob]] | None) -> None:
        batches: list[sampling.DecodeBatch] = []
        pending = list(jobs)
        while True:
            joining: dict[int, list[sampling.SampleTask]] = {}
            for job in pending:
                self._admit(job, batches, joining)
            for index, tasks in joining.items():  # one cache merge per batch, not one per job
                try:
                    batches[index].admit(tasks)
                except Exception as exc:  # a failed prefill fails the requests it was for
                    for task in tasks:
                        task.finish(exc)
            batches = [b for b in batches if b]
            if not batches:
                pending = take_more() if take_more is not None else []
                if not pending:
                    return
                continue
            for batch in batches:
                try:
                    batch.step()
                except Exception as exc:  # a failed forward fails the requests in it, not the others
                    for task in batch.tasks:
                        task.finish(exc)
                    batch.tasks = []
            pending = take_more() if take_more is not None else []

    def _admit(
        self,
        job: SampleJob,
        batches: list[sampling.DecodeBatch],
        joining: dict[int, list[sampling.SampleTask]],
    ) -> None:
        """Check a job and pick the batch of its base it joins (`joining`), or answer its error."""
        if job.is_cancelled():
            job.on_done(SampleCancelled(f"sample request on {job.sampler_id} was cancelled"))
            return
        try:
            adapter = self._sampler(job.sampler_id)
            base = self.bases.get(adapter.base_model)
            prompt_tokens = _fitting_prompt(base, job.request)
            generator = self._generator(job.request.sampling_params)
            peft_name = self._sampler_slot(base, adapter, batches, joining)
            task = sampling.make_task(
                job.request,
                base.stop_token_ids,
                base.context_length,
                base.vocab_size,
                generator,
                peft_name,
                self._finisher(job, prompt_tokens),
                job.is_cancelled,
            )
            joining.setdefault(_batch_to_join(task, base, batches, joining), []).append(task)
        except Exception as exc:  # each job gets its own error; the others go on
            job.on_done(exc)

    def _generator(self, params: types.SamplingParams) -> torch.Generator:
        """The request's own generator: seeded by `params.seed`, else from the engine's seed."""
        sampling.check_sampling_params(params)  # before the seed reaches torch
        seed = params.seed
        if seed is None:
            with self._lock:
                seed = int(self._seed_rng.integers(0, 2**63 - 1))
        return torch.Generator(device=self.device).manual_seed(seed)

    def _sampler_slot(
        self,
        base: BaseModel,
        adapter: Adapter,
        batches: list[sampling.DecodeBatch],
        joining: dict[int, list[sampling.SampleTask]],
    ) -> str | None:
        """The peft adapter a sampler's rows use on its base (None: the bare base), loaded into a
        sampler slot that no running or joining row is using."""
        if adapter.lora_config is None:
            return None
        shared = base.shared
        assert shared is not None
        busy = {t.adapter for b in batches if b.shared is shared for t in b.tasks}
        busy |= {t.adapter for tasks in joining.values() for t in tasks}
        return self.slots.acquire(shared, adapter, self.adapters.state(adapter), busy, self.seed)

    def _finisher(self, job: SampleJob, prompt: list[int]) -> Callable[[Any], None]:
        """What a finished task calls: the task (done), None (cancelled) or an exception."""

        def finish(outcome: Any) -> None:
            if outcome is None:
                job.on_done(SampleCancelled(f"sample request on {job.sampler_id} was cancelled"))
                return
            if isinstance(outcome, BaseException):
                job.on_done(outcome)
                return
            task: sampling.SampleTask = outcome
            sequences = [
                types.SampledSequence(
                    stop_reason=c.stop_reason,
                    sequence_id=f"{job.sampler_id}:seq:{next(self._counter)}",
                    tokens_np=np.asarray(c.tokens, dtype=np.int32),
                    logprobs_np=np.asarray(c.logprobs, dtype=np.float32),
                    topk_logprobs_np=task.topk_sample(row),
                )
                for row, c in enumerate(task.completions())
            ]
            job.on_done(types.SampleResponse(sequences=sequences, **task.prompt_outputs))

        return finish

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


def _checkpoint(model_id: str, kind: str, name: str, folder: Path, meta: dict[str, Any]) -> types.Checkpoint:
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
    if parse_tinker_path(path).checkpoint_type == "external":
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


def _fitting_prompt(base: BaseModel, request: types.SampleRequest) -> list[int]:
    """The request's prompt tokens, inside the base's vocabulary and context."""
    try:
        prompt_tokens = request.prompt.to_ints()
    except ValueError as exc:
        raise EngineError("the local engine samples from token chunks only (no images)") from exc
    if prompt_tokens:  # an empty prompt is refused by sampling.make_task, by name
        _check_fits(base, min(prompt_tokens), max(prompt_tokens), len(prompt_tokens), "prompt")
    return prompt_tokens


def _batch_to_join(
    task: sampling.SampleTask,
    base: BaseModel,
    batches: list[sampling.DecodeBatch],
    joining: dict[int, list[sampling.SampleTask]],
) -> int:
    """The index of the first batch on the task's base it may join; a new batch when none."""
    for index, batch in enumerate(batches):
        if batch.shared is base.shared and batch.can_join(task, joining.get(index, [])):
            return index
    batches.append(sampling.DecodeBatch(base.shared, base.tokenizer))
    return len(batches) - 1


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
