"""System metrics per step, recorded in the runner process: `system/*` keys on each metrics row.

- `system/cpu_percent`: the runner process's CPU use since the previous row (100 = one core busy;
  above 100 on several cores).
- `system/rss_mb`: its resident memory. With the local backend the engine runs inside this process
  (runners/backends.py starts it on a thread), so this is the engine's memory too: there is no
  separate engine number to report. With the Tinker service it is the client side alone.
- On CUDA (the local engine on a GPU in this process): `system/gpu_mem_mb` (allocated by torch),
  `system/gpu_reserved_mb` (held by its caching allocator), and `system/gpu_util_percent` where
  the driver's NVML is reachable (torch.cuda.utilization needs the nvidia-ml-py package).

Rows gain these keys where the cookbook logs them (token_meter wraps `MultiplexLogger.log_metrics`),
so they chart like any metric, grouped under `system/`.
"""

from __future__ import annotations

import sys

import psutil

MB = 1024 * 1024


class SystemMeter:
    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts the interval

    def take_row(self) -> dict[str, float]:
        process = self._process
        row = {
            "system/cpu_percent": float(process.cpu_percent(None)),
            "system/rss_mb": process.memory_info().rss / MB,
        }
        row.update(_cuda_row())
        return row


def _cuda_row() -> dict[str, float]:
    """GPU memory and use, only where this process already runs torch on CUDA: the meter never
    imports torch or starts CUDA itself (a Tinker-service run has no GPU work here)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    try:
        if not torch.cuda.is_initialized():
            return {}
        row = {
            "system/gpu_mem_mb": torch.cuda.memory_allocated() / MB,
            "system/gpu_reserved_mb": torch.cuda.memory_reserved() / MB,
        }
    except (RuntimeError, AttributeError):  # a CPU-only build, or a device gone
        return {}
    try:
        row["system/gpu_util_percent"] = float(torch.cuda.utilization())
    except Exception:  # noqa: BLE001 - NVML (nvidia-ml-py) absent or refused: no utilisation number
        pass
    return row
