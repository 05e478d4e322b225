"""Conversion between tinker 0.38.0's wire encodings and `tinker.types` objects.

JSON requests validate through the SDK's own pydantic request models, so a field the SDK sends is
read exactly as the SDK wrote it; JSON responses are the SDK's own response models, written by
`dump` (the one place a response becomes a JSON body). Two payloads are protobuf (`tinker.proto.tinker_public_pb2`):
the `forward_backward` request, and the results the SDK only accepts as protobuf
(`ForwardBackwardOutput` and `SampleResponse`; see `tinker/proto/response_conv.py`, whose decoders
these encoders mirror).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pydantic
from google.protobuf.message import DecodeError
from tinker import types
from tinker.proto import tinker_public_pb2 as pb
from tinker.types.topk_logprobs import TopkLogprobs

PROTOBUF_CONTENT_TYPE = "application/x-protobuf"

_ModelT = TypeVar("_ModelT", bound=pydantic.BaseModel)
# A densified sparse tensor may hold at most this many values (1 GiB of int64).
MAX_DENSE_VALUES = 2**27


class WireError(ValueError):
    """A request body the server cannot read; the message names the field at fault."""


def dump(response: pydantic.BaseModel) -> dict[str, Any]:
    """A response model as its JSON body: JSON types, None fields left out, as the SDK writes its
    own request bodies (`model_dump(mode="json", exclude_none=True)`); the SDK reads it back with
    that same model."""
    return response.model_dump(mode="json", exclude_none=True)


def parse_json_request(model_cls: type[_ModelT], body: Any) -> _ModelT:
    """Validate a decoded JSON body with the SDK's request model, naming each bad field."""
    if not isinstance(body, dict):
        raise WireError(f"{model_cls.__name__}: expected a JSON object, got {type(body).__name__}")
    try:
        return model_cls.model_validate(body)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '<body>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise WireError(f"{model_cls.__name__}: {problems}") from None


# ---------------------------------------------------------------------------
# forward_backward request (protobuf in)
# ---------------------------------------------------------------------------

_PROTO_DTYPES: dict[int, tuple[np.dtype, types.TensorDtype]] = {
    pb.DTYPE_FLOAT32: (np.dtype(np.float32), "float32"),
    pb.DTYPE_INT64: (np.dtype(np.int64), "int64"),
    pb.DTYPE_INT32: (np.dtype(np.int32), "int64"),
}


@dataclass(frozen=True)
class ForwardBackwardCall:
    model_id: str
    seq_id: int
    data: list[types.Datum]
    loss_fn: str
    loss_fn_config: dict[str, float | str] | None
    forward_only: bool


def _buffer(raw: bytes, dtype: np.dtype, where: str) -> np.ndarray:
    if len(raw) % dtype.itemsize:
        raise WireError(f"{where}: {len(raw)} bytes is not a whole number of {dtype} values")
    return np.frombuffer(raw, dtype=dtype)


def _tensor_from_proto(msg: pb.Tensor, where: str) -> types.TensorData:
    """A dense `TensorData` from a proto tensor; sparse CSR is densified with 0, as the SDK's
    `TensorData.to_torch()` does by default."""
    if msg.dtype not in _PROTO_DTYPES:
        raise WireError(f"{where}: unsupported dtype {msg.dtype}")
    np_dtype, tensor_dtype = _PROTO_DTYPES[msg.dtype]
    shape = [int(s) for s in msg.shape]
    if any(dim < 0 for dim in shape):
        raise WireError(f"{where}: shape {shape} has a negative dimension")
    encoding = msg.WhichOneof("encoding")
    if encoding == "sparse_csr":
        if len(shape) != 2:
            raise WireError(f"{where}: a sparse CSR tensor needs a 2-D shape, got {shape}")
        values = _buffer(msg.sparse_csr.values, np_dtype, where)
        crow = _buffer(msg.sparse_csr.crow_indices, np.dtype(np.int64), where)
        col = _buffer(msg.sparse_csr.col_indices, np.dtype(np.int64), where)
        rows, cols = shape
        if rows * cols > MAX_DENSE_VALUES:
            # Densifying allocates rows x cols: a few bytes of CSR must not ask for terabytes.
            raise WireError(
                f"{where}: sparse shape {shape} is too large to densify (over {MAX_DENSE_VALUES} values)"
            )
        if len(crow) != rows + 1 or len(col) != len(values) or (len(col) and col.max() >= cols):
            raise WireError(f"{where}: inconsistent sparse CSR indices for shape {shape}")
        dense = np.zeros(shape, dtype=np_dtype)
        for row in range(rows):
            start, end = int(crow[row]), int(crow[row + 1])
            dense[row, col[start:end]] = values[start:end]
        array = dense
    else:
        array = _buffer(msg.dense, np_dtype, where)
        if shape:
            if math.prod(shape) != array.size:
                raise WireError(f"{where}: {array.size} values do not fill shape {shape}")
            array = array.reshape(shape)
        else:
            shape = [array.size]
    if tensor_dtype == "int64":
        array = array.astype(np.int64)
    return types.TensorData(data=array.copy(), dtype=tensor_dtype, shape=list(array.shape))


def _model_input_from_proto(chunks: Sequence[pb.Chunk], where: str) -> types.ModelInput:
    out: list[types.ModelInputChunk] = []
    for i, chunk in enumerate(chunks):
        kind = chunk.WhichOneof("chunk")
        if kind != "encoded_text":
            raise WireError(
                f"{where}.model_input[{i}]: {kind} chunks are not supported by the local engine "
                "(text tokens only)"
            )
        tokens = _buffer(chunk.encoded_text.tokens, np.dtype(np.int32), f"{where}.model_input[{i}]")
        out.append(types.EncodedTextChunk(tokens=tokens.tolist()))
    return types.ModelInput(chunks=out)


def peek_model_and_seq(body: bytes) -> tuple[str, int] | None:
    """(model_id, seq_id) of a forward_backward body that parses as protobuf, even one whose
    contents the server refuses; None when it does not parse."""
    msg = pb.ForwardBackwardRequest()
    try:
        msg.ParseFromString(body)
    except DecodeError:
        return None
    return (msg.model_id, msg.seq_id) if msg.model_id else None


def decode_forward_backward_request(body: bytes) -> ForwardBackwardCall:
    msg = pb.ForwardBackwardRequest()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise WireError(f"forward_backward: body is not a ForwardBackwardRequest protobuf ({exc})") from None
    if not msg.model_id:
        raise WireError("forward_backward: model_id is missing")
    if not msg.loss_fn:
        raise WireError("forward_backward: loss_fn is missing")
    data = []
    for i, datum in enumerate(msg.data):
        where = f"forward_backward.data[{i}]"
        loss_fn_inputs = {
            name: _tensor_from_proto(tensor, f"{where}.loss_fn_inputs.{name}")
            for name, tensor in datum.loss_fn_inputs.items()
        }
        data.append(
            types.Datum(
                model_input=_model_input_from_proto(datum.model_input, where),
                loss_fn_inputs=loss_fn_inputs,
            )
        )
    if not data:
        raise WireError("forward_backward: data is empty")
    # The SDK dual-writes numeric config into both maps and strings only into v2; v2 wins.
    config: dict[str, float | str] = dict(msg.loss_fn_config.items())
    for key, value in msg.loss_fn_config_v2.items():
        config[key] = value.text if value.WhichOneof("value") == "text" else value.number
    return ForwardBackwardCall(
        model_id=msg.model_id,
        seq_id=msg.seq_id,
        data=data,
        loss_fn=msg.loss_fn,
        loss_fn_config=config or None,
        forward_only=msg.forward_only,
    )


# ---------------------------------------------------------------------------
# ForwardBackwardOutput (protobuf out)
# ---------------------------------------------------------------------------

_NUMPY_TO_PROTO = {"float32": (pb.DTYPE_FLOAT32, np.float32), "int64": (pb.DTYPE_INT64, np.int64)}


def _as_array(value: Any) -> tuple[np.ndarray, str]:
    if isinstance(value, types.TensorData):
        return np.asarray(value.to_numpy()), value.dtype
    array = np.asarray(value)
    return array, "int64" if array.dtype.kind in "iu" else "float32"


def _array_records(outputs: Sequence[Mapping[str, Any]]) -> list[pb.ArrayRecord]:
    """One ArrayRecord per run of datums whose fields share dtype and trailing shape.

    The SDK reads every record, so ragged outputs (e.g. different K in a 2-D field) still
    decode; in the usual case (1-D `logprobs`) everything lands in one record.
    """
    records: list[pb.ArrayRecord] = []
    current: list[dict[str, tuple[np.ndarray, str]]] = []
    current_key: tuple | None = None

    def flush() -> None:
        if not current:
            return
        record = pb.ArrayRecord(type_tag="ArrayRecord", num_datums=len(current))
        for name in current[0]:
            dtype_name = current[0][name][1]
            proto_dtype, np_dtype = _NUMPY_TO_PROTO[dtype_name]
            arrays = [np.ascontiguousarray(datum[name][0], dtype=np_dtype) for datum in current]
            offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
            offsets[1:] = np.cumsum([a.nbytes for a in arrays])
            batched = record.fields[name]
            batched.data = b"".join(a.tobytes() for a in arrays)
            batched.offsets = offsets.tobytes()
            batched.dtype = proto_dtype
            batched.trailing_shape.extend(list(arrays[0].shape[1:]))
        records.append(record)
        current.clear()

    for output in outputs:
        fields = {name: _as_array(value) for name, value in output.items()}
        key = tuple(sorted((name, dtype, array.shape[1:]) for name, (array, dtype) in fields.items()))
        if key != current_key:
            flush()
            current_key = key
        current.append(fields)
    flush()
    return records


def encode_forward_backward_output(output: types.ForwardBackwardOutput) -> bytes:
    msg = pb.ForwardBackwardOutput(loss_fn_output_type=output.loss_fn_output_type or "ArrayRecord")
    msg.loss_fn_outputs.extend(_array_records(output.loss_fn_outputs))
    for key, value in (output.metrics or {}).items():
        msg.metrics[key] = float(value)
    return msg.SerializeToString()


# ---------------------------------------------------------------------------
# SampleResponse (protobuf out)
# ---------------------------------------------------------------------------

_STOP_REASONS = {"stop": pb.STOP_REASON_STOP, "length": pb.STOP_REASON_LENGTH}


def _topk_to_proto(target: pb.TopkLogprobs, topk: TopkLogprobs) -> None:
    token_ids = np.ascontiguousarray(topk.token_ids, dtype=np.int32)
    logprobs = np.ascontiguousarray(topk.logprobs, dtype=np.float32)
    target.length, target.k = (int(token_ids.shape[0]), int(token_ids.shape[1]))
    target.token_ids = token_ids.tobytes()
    target.logprobs = logprobs.tobytes()


def _float_bytes(values: Sequence[float | None] | np.ndarray) -> bytes:
    return np.asarray([math.nan if v is None else v for v in values], dtype=np.float32).tobytes()


def encode_sample_response(response: types.SampleResponse) -> bytes:
    """Encode a SampleResponse; prompt logprobs that were not computed (None) travel as NaN."""
    msg = pb.SampleResponse(prompt_cache_hit_tokens=response.prompt_cache_hit_tokens or 0)
    for seq in response.sequences:
        if seq.stop_reason not in _STOP_REASONS:
            raise ValueError(f"unknown stop_reason {seq.stop_reason!r}")
        out = msg.sequences.add()
        out.stop_reason = _STOP_REASONS[seq.stop_reason]
        out.tokens = np.asarray(seq.tokens, dtype=np.int32).tobytes()
        if seq.logprobs is not None:
            out.logprobs = _float_bytes(seq.logprobs)
        if seq.topk_logprobs_np is not None:
            _topk_to_proto(out.topk_sampled_logprobs, seq.topk_logprobs_np)
    prompt_logprobs = response.prompt_logprobs
    if prompt_logprobs is not None:
        msg.prompt_logprobs = _float_bytes(prompt_logprobs)
    if response.topk_prompt_logprobs_np is not None:
        _topk_to_proto(msg.topk_prompt_logprobs, response.topk_prompt_logprobs_np)
    if response.target_prompt_logprobs is not None:
        _tensor_to_proto(msg.target_prompt_logprobs, response.target_prompt_logprobs)
    if response.prompt_alt_tokens is not None:
        _tensor_to_proto(msg.prompt_alt_tokens.tokens, response.prompt_alt_tokens.tokens)
        _tensor_to_proto(msg.prompt_alt_tokens.logprobs, response.prompt_alt_tokens.logprobs)
    return msg.SerializeToString()


def _tensor_to_proto(target: pb.Tensor, tensor: types.TensorData) -> None:
    """A TensorData as a proto Tensor (sparse CSR stays sparse), by the SDK's own encoder, so
    both ends of the wire share one codec."""
    from tinker.proto.request_conv import _tensor_data_to_proto

    target.CopyFrom(_tensor_data_to_proto(tensor))
