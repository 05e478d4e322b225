"""The runner's system metrics, measured on this process."""

from __future__ import annotations

import time

from cookbook_tui.runners.system_meter import SystemMeter


def test_the_meter_reports_this_process_memory_and_the_cpu_it_used_since_the_last_row() -> None:
    meter = SystemMeter()
    block = bytearray(64 * 1024 * 1024)  # 64 MiB touched: resident
    block[::4096] = b"x" * len(block[::4096])
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # busy on one core
        pass
    row = meter.take_row()
    assert row["system/rss_mb"] > 64
    assert row["system/cpu_percent"] > 20
    time.sleep(0.3)  # idle since the last row
    assert meter.take_row()["system/cpu_percent"] < row["system/cpu_percent"]
    del block
