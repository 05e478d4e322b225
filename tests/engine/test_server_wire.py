"""Wire conversions round-trip through the SDK's own encoders and decoders."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tinker import types
from tinker.proto.request_conv import forward_backward_request_to_proto
from tinker.proto.response_conv import deserialize_forward_backward_output, deserialize_sample_response

from cookbook_tui.engine.wire import (
    WireError,
    decode_forward_backward_request,
    encode_forward_backward_output,
    encode_sample_response,
    parse_json_request,
)


def _encode_request(data, loss_fn="cross_entropy", loss_fn_config=None, forward_only=False) -> bytes:
    request = types.ForwardBackwardRequest(
        forward_backward_input=types.ForwardBackwardInput(data=data, loss_fn=loss_fn, loss_fn_config=loss_fn_config),
        model_id="s:train:0",
        seq_id=3,
    )
    msg = forward_backward_request_to_proto(request)
    msg.forward_only = forward_only
    return msg.SerializeToString()


def test_forward_backward_request_decodes_dense_sparse_and_config() -> None:
    targets_2d = torch.arange(12).reshape(6, 2)  # off-policy distillation: [T, K]
    sparse_weights = torch.zeros(6, 4)
    sparse_weights[1, 2], sparse_weights[4, 0] = 0.5, 0.25
    weights = types.TensorData.from_torch_sparse(sparse_weights)
    assert weights.sparse_crow_indices is not None  # the SDK sends it as CSR
    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3, 4, 5, 6]),
        loss_fn_inputs={
            "target_tokens": types.TensorData.from_torch(targets_2d),
            "weights": weights,
            "advantages": [1.0, -1.0, 0.5, 0.0, 0.0, 2.0],
        },
    )
    call = decode_forward_backward_request(
        _encode_request([datum], "ppo", {"clip_low_threshold": 0.8, "note": "x"}, forward_only=True)
    )
    assert (call.model_id, call.seq_id, call.loss_fn, call.forward_only) == ("s:train:0", 3, "ppo", True)
    assert call.loss_fn_config == {"clip_low_threshold": pytest.approx(0.8), "note": "x"}
    (decoded,) = call.data
    assert decoded.model_input.to_ints() == [1, 2, 3, 4, 5, 6]
    inputs = decoded.loss_fn_inputs
    assert inputs["target_tokens"].dtype == "int64" and inputs["target_tokens"].shape == [6, 2]
    np.testing.assert_array_equal(inputs["target_tokens"].to_numpy(), targets_2d.numpy())
    np.testing.assert_array_equal(inputs["weights"].to_numpy(), sparse_weights.numpy())
    np.testing.assert_allclose(inputs["advantages"].to_numpy(), [1.0, -1.0, 0.5, 0.0, 0.0, 2.0])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"\xff\xff\xff", "not a ForwardBackwardRequest"),
        (b"", "model_id is missing"),
    ],
)
def test_undecodable_requests_raise_wire_errors(body: bytes, needle: str) -> None:
    with pytest.raises(WireError, match=needle):
        decode_forward_backward_request(body)


def test_image_chunks_are_refused_by_position() -> None:
    from tinker.proto import tinker_public_pb2 as pb

    msg = pb.ForwardBackwardRequest(model_id="m", seq_id=1, loss_fn="cross_entropy")
    msg.data.add().model_input.add().image.data = b"png"
    with pytest.raises(WireError, match=r"data\[0\]\.model_input\[0\]: image"):
        decode_forward_backward_request(msg.SerializeToString())


def test_forward_backward_output_round_trips_through_the_sdk_decoder() -> None:
    outputs = [
        {"logprobs": types.TensorData.from_numpy(np.array([-0.5, -1.5], dtype=np.float32))},
        {"logprobs": types.TensorData.from_numpy(np.array([-2.0], dtype=np.float32))},
        # A 2-D field with a different trailing shape lands in its own record.
        {"logprobs": types.TensorData.from_numpy(np.array([[-1.0, -2.0, -3.0]], dtype=np.float32))},
    ]
    output = types.ForwardBackwardOutput(
        loss_fn_output_type="ArrayRecord", loss_fn_outputs=outputs, metrics={"loss:sum": 4.0}
    )
    decoded = deserialize_forward_backward_output(encode_forward_backward_output(output))
    assert decoded.metrics == {"loss:sum": 4.0}
    assert [o["logprobs"].shape for o in decoded.loss_fn_outputs] == [[2], [1], [1, 3]]
    for ours, theirs in zip(outputs, decoded.loss_fn_outputs):
        np.testing.assert_array_equal(theirs["logprobs"].to_numpy(), ours["logprobs"].to_numpy())


def test_sample_response_round_trips_with_unscored_prompt_positions() -> None:
    response = types.SampleResponse(
        sequences=[
            types.SampledSequence(
                stop_reason="stop",
                sequence_id="x",
                tokens_np=np.array([4, 5], dtype=np.int32),
                logprobs_np=np.array([-0.1, -0.2], dtype=np.float32),
            ),
            types.SampledSequence(stop_reason="length", sequence_id="y", tokens_np=np.array([6], dtype=np.int32)),
        ],
        prompt_logprobs_np=np.array([math.nan, -1.0, -2.0], dtype=np.float32),
    )
    decoded = deserialize_sample_response(encode_sample_response(response))
    assert [s.stop_reason for s in decoded.sequences] == ["stop", "length"]
    assert [s.tokens for s in decoded.sequences] == [[4, 5], [6]]
    assert decoded.sequences[0].logprobs == pytest.approx([-0.1, -0.2])
    assert decoded.sequences[1].logprobs is None
    assert decoded.prompt_logprobs == [None, -1.0, -2.0]


def test_json_requests_name_the_bad_field() -> None:
    with pytest.raises(WireError, match=r"OptimStepRequest: .*model_id"):
        parse_json_request(types.OptimStepRequest, {"adam_params": {}, "seq_id": 1})
