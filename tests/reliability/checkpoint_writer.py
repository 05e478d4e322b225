"""Run by test_checkpoint_kills.py as its own process (the test SIGKILLs it): an Engine on
DATA_DIR trains one model and saves checkpoints in a loop, printing `saved <i>` after each round.

Modes: `loop` saves a new training and sampler checkpoint every round and overwrites `latest`;
`die-mid-overwrite` saves `latest` once, then SIGKILLs itself between the two renames of
overwriting it (the one moment an overwrite has no folder under the name).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

MODEL_ID = "killtest:train:0"
RANK = 64  # big adapters and optimizer state: a save takes long enough to be killed inside


def main(data_dir: str, mode: str) -> None:
    import torch
    from tinker import types

    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME
    from cookbook_tui.engine import checkpoints
    from cookbook_tui.engine.engine import Engine

    torch.set_num_threads(1)
    engine = Engine(Path(data_dir), device="cpu", seed=0)
    engine.create_model(MODEL_ID, TINY_MODEL_NAME, types.LoraConfig(rank=RANK))
    datum = types.Datum(
        model_input=types.ModelInput.from_ints([5, 6, 7, 8, 9]),
        loss_fn_inputs={"target_tokens": [6, 7, 8, 9, 10], "weights": [1.0] * 5},
    )

    def train() -> None:
        engine.forward_backward(MODEL_ID, [datum], "cross_entropy")
        engine.optim_step(MODEL_ID, types.AdamParams(learning_rate=1e-3))

    if mode == "die-mid-overwrite":
        train()
        engine.save_state(MODEL_ID, "latest")
        real_rename = os.rename

        def rename_then_die(src, dst):
            real_rename(src, dst)
            if ".old-" in str(dst):  # the old copy is aside, the new one not yet in place
                os.kill(os.getpid(), signal.SIGKILL)

        checkpoints.os.rename = rename_then_die
        train()
        engine.save_state(MODEL_ID, "latest")
        raise SystemExit("still alive after the overwrite: the kill did not happen")

    for i in range(10**6):
        train()
        engine.save_state(MODEL_ID, f"p{os.getpid()}-{i}")
        engine.save_sampler_weights(MODEL_ID, f"s{os.getpid()}-{i}")
        engine.save_state(MODEL_ID, "latest")
        print(f"saved {i}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
