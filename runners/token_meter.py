"""Tokens and cost per step, counted where the run talks to Tinker (either backend).

`install()` wraps the tinker SDK's training and sampling calls in this process and the cookbook's
metric logger, so each metrics.jsonl row gains `tokens/trained` (forward_backward),
`tokens/prefill` (sample prompts, forward-only passes, compute_logprobs) and `tokens/sampled`
(tokens the sampler returned) since the previous row. With a price for the run's model in
`<config dir>/prices.toml` it adds `cost/step_usd` and `cost/total_usd`:

    [models."Qwen/Qwen3-8B"]      # USD per million tokens
    train = 0.40
    prefill = 0.13
    sample = 0.40

None is shipped: prices change, and a wrong table is worse than none.
"""

from __future__ import annotations

import functools
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_FILE = "prices.toml"
PRICE_KEYS = ("train", "prefill", "sample")


@dataclass(frozen=True)
class ModelPrices:
    train: float
    prefill: float
    sample: float


def load_prices(model_name: str, config_dir: Path | None = None) -> ModelPrices | None:
    """The model's prices from prices.toml, None when the file or the model is absent.
    A malformed table raises ValueError naming the file, model and key."""
    if config_dir is None:
        from cookbook_tui.common.dirs import user_config_dir

        config_dir = user_config_dir()
    path = Path(config_dir) / PRICES_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ValueError(f"{path}: [models] must be a table of models")
    entry = models.get(model_name)
    if entry is None:
        return None
    values = {}
    for key in PRICE_KEYS:
        value = entry.get(key) if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(
                f'{path}: models."{model_name}".{key} must be a price in USD per million tokens, got {value!r}'
            )
        values[key] = float(value)
    unknown = set(entry) - set(PRICE_KEYS)
    if unknown:
        raise ValueError(f'{path}: models."{model_name}": unknown key {sorted(unknown)[0]!r} (known: train, prefill, sample)')
    return ModelPrices(**values)


class TokenMeter:
    """Counts since the last metrics row; thread-safe (SDK callbacks run on its own thread)."""

    def __init__(self, prices: ModelPrices | None = None, total_cost: float = 0.0) -> None:
        self.prices = prices
        self.total_cost = total_cost
        self._lock = threading.Lock()
        self._counts = {"trained": 0, "prefill": 0, "sampled": 0}

    def add(self, kind: str, tokens: int) -> None:
        with self._lock:
            self._counts[kind] += int(tokens)

    def take_row(self) -> dict[str, float]:
        """The keys for the next metrics row, and a fresh count."""
        with self._lock:
            counts, self._counts = self._counts, {"trained": 0, "prefill": 0, "sampled": 0}
        row: dict[str, float] = {f"tokens/{k}": float(v) for k, v in counts.items()}
        if self.prices is not None:
            step = (
                counts["trained"] * self.prices.train
                + counts["prefill"] * self.prices.prefill
                + counts["sampled"] * self.prices.sample
            ) / 1e6
            self.total_cost += step
            row["cost/step_usd"] = step
            row["cost/total_usd"] = self.total_cost
        return row


_installed: TokenMeter | None = None
# Other keys each row gains where the cookbook logs it (system_meter's `system/*`).
_row_sources: tuple[Callable[[], dict[str, float]], ...] = ()
_inside = threading.local()  # forward_backward_custom may call forward_backward: count once


def _counted(kind: str, size) :  # noqa: ANN001 - a decorator factory over SDK methods
    def wrap(method):
        @functools.wraps(method)
        def counted(self, *args: Any, **kwargs: Any):
            meter = _installed
            if meter is None or getattr(_inside, "active", False):
                return method(self, *args, **kwargs)
            _inside.active = True
            try:
                meter.add(kind, size(*args, **kwargs))
                return method(self, *args, **kwargs)
            finally:
                _inside.active = False

        counted.__cookbook_tui_meter__ = True
        return counted

    return wrap


def _data_tokens(data: Any, *_: Any, **__: Any) -> int:
    return sum(datum.model_input.length for datum in data)


def _prompt_tokens(prompt: Any, *_: Any, **__: Any) -> int:
    return prompt.length


def _count_sampled(future: Any) -> Any:
    def done(fut: Any) -> None:
        meter = _installed
        if meter is None or fut.cancelled() or fut.exception() is not None:
            return
        meter.add("sampled", sum(len(seq.tokens) for seq in fut.result().sequences))

    try:
        future.future().add_done_callback(done)
    except Exception:  # a future of another shape: count its prompt only
        pass
    return future


def install(meter: TokenMeter, *row_sources: Callable[[], dict[str, float]]) -> TokenMeter:
    """Count through `meter` from now on in this process (idempotent: the SDK is wrapped once);
    each of `row_sources` adds its keys to every metrics row too."""
    global _installed, _row_sources
    import tinker
    from tinker_cookbook.utils import ml_log

    _installed, _row_sources = meter, row_sources
    training, sampling = tinker.TrainingClient, tinker.SamplingClient
    if not getattr(training.forward_backward, "__cookbook_tui_meter__", False):
        training.forward_backward = _counted("trained", _data_tokens)(training.forward_backward)  # type: ignore[method-assign]  # the meter patches the SDK
        training.forward_backward_custom = _counted("trained", _data_tokens)(training.forward_backward_custom)  # type: ignore[method-assign]  # the meter patches the SDK
        training.forward = _counted("prefill", _data_tokens)(training.forward)  # type: ignore[method-assign]  # the meter patches the SDK
        sampling.compute_logprobs = _counted("prefill", _prompt_tokens)(sampling.compute_logprobs)  # type: ignore[method-assign]  # the meter patches the SDK
        plain_sample = _counted("prefill", _prompt_tokens)(sampling.sample)

        @functools.wraps(plain_sample)
        def sample(self: Any, *args: Any, **kwargs: Any) -> Any:
            return _count_sampled(plain_sample(self, *args, **kwargs))

        sample.__cookbook_tui_meter__ = True  # type: ignore[attr-defined]
        sampling.sample = sample  # type: ignore[method-assign]  # the meter patches the SDK

        plain_log = ml_log.MultiplexLogger.log_metrics

        @functools.wraps(plain_log)
        def log_metrics(self: Any, metrics: dict[str, Any], step: int | None = None) -> None:
            if _installed is not None:
                metrics = {**metrics, **_installed.take_row()}
                for source in _row_sources:
                    metrics.update(source())
            plain_log(self, metrics, step)

        ml_log.MultiplexLogger.log_metrics = log_metrics  # type: ignore[method-assign]  # the meter patches the SDK
    return meter


def last_total_cost(*log_paths: Path) -> float:
    """Where `cost/total_usd` stood in the first of these run dirs that logged it (a resumed
    stage goes on from its kept rows; the train stage from its warmup's)."""
    from cookbook_tui.runners.rundir import read_metrics

    for log_path in log_paths:
        for row in reversed(read_metrics(log_path)):
            value = row.get("cost/total_usd")
            if isinstance(value, int | float):
                return float(value)
    return 0.0


def uninstall() -> None:
    global _installed, _row_sources
    _installed, _row_sources = None, ()
