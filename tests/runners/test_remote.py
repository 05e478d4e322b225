"""`cookbook-tui remote …` against `cookbook-tui serve`: the code path the Tinker service gets,
through TINKER_BASE_URL and a key, paged past the service's 20 runs a page."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

TINY = "cookbook-tui/tiny-chat"
SDK_TIMEOUT = 120


def remote(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", "remote", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )


@pytest.fixture(scope="module")
def trained(served):
    """22 training runs (more than a page); the first saves a training and a sampler checkpoint."""
    import tinker

    client = tinker.ServiceClient(base_url=served["TINKER_BASE_URL"], api_key=served["TINKER_API_KEY"])
    trainers = [client.create_lora_training_client(TINY, rank=4).result(timeout=SDK_TIMEOUT) for _ in range(22)]
    first = trainers[0]
    state = first.save_state("step-1").result(timeout=SDK_TIMEOUT).path
    sampler = first.save_weights_for_sampler("step-1").result(timeout=SDK_TIMEOUT).path
    yield {"client": client, "ids": [t.model_id for t in trainers], "state": state, "sampler": sampler}
    client.close("success").result(timeout=30)


def test_runs_are_paged_and_joined_with_local_run_dirs(served, trained, tmp_path):
    run_dir = tmp_path / "runs" / "mine" / "20261201-080000"
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoints.jsonl").write_text(json.dumps({"name": "000001", "state_path": trained["state"]}) + "\n")
    (run_dir / "metrics.jsonl").write_text('{"step": 0, "train_mean_nll": 1.0}\n')
    out = remote(served, "runs", "--json", "--dir", str(tmp_path / "runs"))
    assert out.returncode == 0, out.stderr
    runs = {r["run_id"]: r for r in json.loads(out.stdout)}
    assert set(trained["ids"]) <= set(runs)  # all 22, past the first page of 20
    assert runs[trained["ids"][0]]["local_run_dir"] == str(run_dir)
    assert runs[trained["ids"][1]]["local_run_dir"] is None
    assert runs[trained["ids"][0]]["base_model"] == TINY


def test_checkpoints_list_and_delete(served, trained):
    run_id = trained["ids"][0]
    out = remote(served, "checkpoints", run_id, "--json")
    assert out.returncode == 0, out.stderr
    listed = {c["tinker_path"]: c for c in json.loads(out.stdout)}
    assert {trained["state"], trained["sampler"]} <= set(listed)
    assert listed[trained["state"]]["kind"] == "training" and listed[trained["sampler"]]["kind"] == "sampler"
    assert listed[trained["state"]]["size_bytes"] > 0 and listed[trained["state"]]["created"]
    human = remote(served, "checkpoints", run_id)
    assert trained["sampler"] in human.stdout and "private" in human.stdout


def test_errors_name_what_failed(served, trained, tmp_path):
    bad = remote(served, "checkpoints", "no-such-run")
    assert bad.returncode == 1 and "no-such-run" in bad.stderr and "Traceback" not in bad.stderr
    nokey = subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", "remote", "runs"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "TINKER_API_KEY"},
    )
    assert nokey.returncode == 1 and "TINKER_API_KEY" in nokey.stderr
    dead = remote({"TINKER_BASE_URL": "http://127.0.0.1:9", "TINKER_API_KEY": "tml-x"}, "runs")
    assert dead.returncode == 1 and "127.0.0.1:9" in dead.stderr
    ttl = remote(served, "ttl", trained["state"], "soon")
    assert ttl.returncode == 2 and "forever" in ttl.stderr


def test_publish_ttl_and_download_as_a_peft_adapter(served, trained, tmp_path):
    run_id, state = trained["ids"][0], trained["state"]

    def listed():
        out = remote(served, "checkpoints", run_id, "--json")
        assert out.returncode == 0, out.stderr
        return {c["tinker_path"]: c for c in json.loads(out.stdout)}

    assert remote(served, "publish", state).returncode == 0
    assert listed()[state]["public"] is True
    assert remote(served, "unpublish", state).returncode == 0
    assert listed()[state]["public"] is False
    assert remote(served, "ttl", state, "7200").returncode == 0
    assert listed()[state]["expires"]
    assert remote(served, "ttl", state, "forever").returncode == 0
    assert listed()[state]["expires"] is None

    dest = tmp_path / "adapter"
    out = remote(served, "download", state, str(dest))
    assert out.returncode == 0, out.stderr
    assert {p.name for p in dest.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    umask = os.umask(0)
    os.umask(umask)
    assert dest.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700
    config = json.loads((dest / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4
    from safetensors.torch import load_file

    tensors = load_file(dest / "adapter_model.safetensors")
    assert any("lora_A" in k for k in tensors) and any("lora_B" in k for k in tensors)
    # the temporary export is cleaned up: only the two saved checkpoints remain listed
    assert set(listed()) == {state, trained["sampler"]}

    # sampler weights are not exported (as on Tinker): a clear error, and nothing written
    bad = remote(served, "download", trained["sampler"], str(tmp_path / "nothing"))
    assert bad.returncode == 1 and "download the training checkpoint" in bad.stderr
    assert not (tmp_path / "nothing").exists()


def test_two_checkpoints_sampled_side_by_side(served, trained):
    from cookbook_tui.runners.remote import Remote

    client = Remote(served["TINKER_BASE_URL"], served["TINKER_API_KEY"])
    answers = client.sample_each([trained["sampler"], TINY, "tinker://nope:train:0/sampler_weights/x"], "What is 2+3?", 8)
    assert [path for path, _ in answers] == [trained["sampler"], TINY, "tinker://nope:train:0/sampler_weights/x"]
    assert not answers[0][1].startswith("error") and not answers[1][1].startswith("error")
    assert answers[2][1].startswith("error") and "nope" in answers[2][1]
