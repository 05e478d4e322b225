"""Every JSON answer of the Tinker endpoints is the SDK's own response type: each body parses with
the `tinker.types` model the SDK casts it to, and carries nothing that model would drop (a renamed
or misspelt field would otherwise be ignored silently: tinker's models ignore extra keys)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from server_helpers import TINY, wait_healthy

pytestmark = pytest.mark.xdist_group("server-response-types")


@pytest.fixture(scope="module")
def server(tiny_model_path, tmp_path_factory: pytest.TempPathFactory):
    from cookbook_tui.engine import start_local_server

    # A short hold, so a request still waiting answers try_again at once.
    local = start_local_server(data_dir=tmp_path_factory.mktemp("response-types"), hold_seconds=0.2)
    try:
        wait_healthy(local.base_url)
        yield local
    finally:
        local.stop()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class Wire:
    """Raw HTTP as the SDK sends it (request models dumped as the SDK dumps them); every answer
    is checked against the type the SDK reads it with."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.checked: set[str] = set()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if hasattr(body, "model_dump"):
            body = body.model_dump(mode="json", exclude_none=True)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def typed(self, response_type: type, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status == 200, (path, answer)
        return self.check(response_type, answer, path)

    def check(self, response_type: type, answer: Any, where: str) -> Any:
        parsed = response_type.model_validate(answer)  # what the SDK does with the body
        # Dumped again, the parsed model holds every key and value the server sent (nested ones
        # included): nothing was an undeclared field, dropped on the way in.
        again = parsed.model_dump(mode="json", exclude_none=True)
        assert again == _without_nulls(answer), f"{where}: {response_type.__name__} does not declare all of {answer}"
        self.checked.add(response_type.__name__)
        return parsed

    def result(self, future: Any, response_type: type) -> Any:
        """Poll retrieve_future until the answer is no longer try_again; checks every answer."""
        from tinker import types
        from tinker.types.try_again_response import TryAgainResponse

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            request = types.FutureRetrieveRequest(request_id=future.request_id)
            status, answer = self.call("POST", "retrieve_future", request)
            assert status == 200, answer
            if answer.get("type") != "try_again":
                return self.check(response_type, answer, f"retrieve_future({future.request_id})")
            self.check(TryAgainResponse, answer, "retrieve_future")
        raise AssertionError(f"{future.request_id} did not finish")


def test_every_json_answer_is_its_tinker_type(server) -> None:
    from tinker import types
    from tinker.types.try_again_response import TryAgainResponse

    wire = Wire(server.base_url)
    future = types.UntypedAPIFuture

    wire.typed(types.ClientConfigResponse, "POST", "client/config", {"sdk_version": "0.38.0"})
    wire.typed(types.ClientDynamicConfigResponse, "POST", "client/dynamic_config", {})
    wire.typed(types.HealthResponse, "GET", "healthz")
    capabilities = wire.typed(types.GetServerCapabilitiesResponse, "GET", "get_server_capabilities")
    assert TINY in [m.model_name for m in capabilities.supported_models]
    wire.typed(types.TelemetryResponse, "POST", "telemetry", {"events": []})

    session = wire.typed(
        types.CreateSessionResponse, "POST", "create_session",
        types.CreateSessionRequest(tags=[], user_metadata={}, sdk_version="0.38.0"),
    ).session_id
    wire.typed(types.SessionHeartbeatResponse, "POST", "session_heartbeat", types.SessionHeartbeatRequest(session_id=session))

    create = types.CreateModelRequest(
        session_id=session, model_seq_id=0, base_model=TINY, lora_config=types.LoraConfig(rank=4)
    )
    model_id = wire.result(wire.typed(future, "POST", "create_model", create), types.CreateModelResponse).model_id
    info = wire.typed(types.GetInfoResponse, "POST", "get_info", types.GetInfoRequest(model_id=model_id))
    assert info.model_data.tokenizer_id == TINY

    def ordered(path: str, request: Any, response_type: type) -> Any:
        return wire.result(wire.typed(future, "POST", path, request), response_type)

    adam = types.AdamParams(learning_rate=1e-3)
    step = ordered("optim_step", types.OptimStepRequest(model_id=model_id, seq_id=1, optim_params=adam), types.OptimStepResponse)
    assert step.metrics and "engine/learning_rate" in step.metrics
    state = ordered(
        "save_weights", types.SaveWeightsRequest(model_id=model_id, seq_id=2, path="s1"), types.SaveWeightsResponse
    ).path
    sampler_path = ordered(
        "save_weights_for_sampler",
        types.SaveWeightsForSamplerRequest(model_id=model_id, seq_id=3, path="w1"),
        types.SaveWeightsForSamplerResponseInternal,
    ).path
    snapshot = ordered(
        "save_weights_for_sampler",
        types.SaveWeightsForSamplerRequest(model_id=model_id, seq_id=4, sampling_session_seq_id=7),
        types.SaveWeightsForSamplerResponseInternal,
    )
    assert snapshot.sampling_session_id and snapshot.path is None
    external = ordered(
        "save_weights_external",
        types.SaveWeightsExternalRequest(model_id=model_id, seq_id=5, path="e1"),
        types.SaveWeightsExternalResponseInternal,
    )
    assert external.size_bytes and external.size_bytes > 0
    loaded = ordered(
        "load_weights",
        types.LoadWeightsRequest(model_id=model_id, seq_id=6, path=state, optimizer=True),
        types.LoadWeightsResponse,
    )
    assert loaded.model_id == model_id
    bad_adam = types.AdamParams(learning_rate=-1.0)
    failed = ordered(
        "optim_step", types.OptimStepRequest(model_id=model_id, seq_id=7, optim_params=bad_adam), types.RequestFailedResponse
    )
    assert "learning_rate" in failed.error and failed.category == "user"
    # seq_id 100 waits for 8..99, which never come: its future can only answer try_again here.
    waiting = wire.typed(future, "POST", "optim_step", types.OptimStepRequest(model_id=model_id, seq_id=100, optim_params=adam))
    status, answer = wire.call("POST", "retrieve_future", types.FutureRetrieveRequest(request_id=waiting.request_id))
    assert status == 200
    wire.check(TryAgainResponse, answer, "retrieve_future (waiting)")

    sampler = wire.typed(
        types.CreateSamplingSessionResponse, "POST", "create_sampling_session",
        types.CreateSamplingSessionRequest(session_id=session, sampling_session_seq_id=0, model_path=sampler_path),
    ).sampling_session_id
    wire.typed(types.GetSamplerResponse, "GET", f"samplers/{sampler}")
    sample = types.SampleRequest(
        sampling_session_id=sampler, seq_id=1, num_samples=2, prompt=types.ModelInput.from_ints([1, 2, 3]),
        sampling_params=types.SamplingParams(max_tokens=3, seed=0),
    )
    sampling = wire.typed(future, "POST", "asample", sample)
    assert sampling.sample_sequence_ids and len(sampling.sample_sequence_ids) == 2
    poll = types.FuturesRetrieveRequest(
        target=types.SamplingSessionFuturesTarget(sampling_session_id=sampler, cloned_sampler_id=0), prev_cursor=0, timeout=30
    )
    polled = wire.typed(types.FuturesRetrieveResponse, "POST", "retrieve_futures", poll)
    assert [c.request_id for c in polled.completions] == [sampling.request_id]

    wire.typed(types.WeightsInfoResponse, "POST", "weights_info", {"tinker_path": state})
    runs = wire.typed(types.TrainingRunsResponse, "GET", "training_runs")
    assert model_id in [run.training_run_id for run in runs.training_runs]
    wire.typed(types.TrainingRun, "GET", f"training_runs/{model_id}")
    listed = wire.typed(types.CheckpointsListResponse, "GET", f"training_runs/{model_id}/checkpoints")
    assert {c.tinker_path for c in listed.checkpoints} >= {state, sampler_path}
    wire.typed(types.CheckpointsListResponse, "GET", "checkpoints")
    wire.typed(
        types.ExternalWeightsUrlsResponse, "GET",
        f"training_runs/{model_id}/checkpoints/{external.path.split('/', 3)[3]}/external_weights_urls",
    )
    # The endpoints the SDK reads as NoneType (no tinker type): their body is empty.
    assert wire.call("POST", f"sessions/{session}/finish", {"reason": {"type": "success"}}) == (200, {})

    assert len(wire.checked) >= 25, sorted(wire.checked)
