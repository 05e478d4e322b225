"""The OpenAI-compatible endpoints (/oai/api/v1), driven by the real `openai` client: chat and
text completions on a base model and on a sampler checkpoint, stop, n, streaming, keys, errors."""

from __future__ import annotations

import pytest
from server_helpers import SDK_TIMEOUT, TINY, local_server, service_client, wait_healthy  # noqa: F401

pytestmark = pytest.mark.xdist_group("server-openai")

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def oai(local_server):
    return openai.OpenAI(base_url=f"{local_server.base_url}/oai/api/v1", api_key=local_server.api_key, max_retries=0, timeout=120)


def test_chat_uses_the_models_chat_template_and_reports_usage(oai, tiny_tokenizer) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+3="}]
    reply = oai.chat.completions.create(model=TINY, messages=messages, max_tokens=8, temperature=0)
    expected_prompt = tiny_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if not isinstance(expected_prompt, list):
        expected_prompt = expected_prompt["input_ids"]
    assert reply.object == "chat.completion" and reply.model == TINY
    assert reply.usage.prompt_tokens == len(expected_prompt)
    assert 1 <= reply.usage.completion_tokens <= 8
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    # Greedy is deterministic: the same request, the same reply.
    again = oai.chat.completions.create(model=TINY, messages=messages, max_tokens=8, temperature=0)
    assert again.choices[0].message.content == choice.message.content


def test_completions_stop_n_and_streaming(oai) -> None:
    prompt = "The cat sat on the"
    full = oai.completions.create(model=TINY, prompt=prompt, max_tokens=24, temperature=0).choices[0].text
    assert len(full) >= 6, full
    stop = full[3:5]
    cut = oai.completions.create(model=TINY, prompt=prompt, max_tokens=24, temperature=0, stop=[stop]).choices[0]
    assert cut.text == full[: full.find(stop)] and cut.finish_reason == "stop"

    several = oai.completions.create(model=TINY, prompt=prompt, max_tokens=6, temperature=1.0, n=3, seed=1)
    assert [c.index for c in several.choices] == [0, 1, 2]

    chat = [{"role": "user", "content": "hello"}]
    whole = oai.chat.completions.create(model=TINY, messages=chat, max_tokens=12, temperature=0)
    chunks = list(oai.chat.completions.create(model=TINY, messages=chat, max_tokens=12, temperature=0, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason


def test_a_sampler_checkpoint_path_samples_the_trained_adapter(oai, service_client, tiny_tokenizer, addition_data) -> None:
    from tinker import types

    training = service_client.create_lora_training_client(base_model=TINY, rank=8).result(timeout=SDK_TIMEOUT)
    data = addition_data
    for _ in range(15):
        training.forward_backward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
        training.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=SDK_TIMEOUT)
    path = training.save_weights_for_sampler("oai-final").result(timeout=SDK_TIMEOUT).path
    prompt = "2+3="
    tokens = tiny_tokenizer.encode(prompt, add_special_tokens=False)
    sdk = service_client.create_sampling_client(model_path=path).result(timeout=SDK_TIMEOUT).sample(
        types.ModelInput.from_ints(tokens), 1, types.SamplingParams(max_tokens=4, temperature=0.0)
    ).result(timeout=SDK_TIMEOUT)
    want = tiny_tokenizer.decode(sdk.sequences[0].tokens, skip_special_tokens=True)
    got = oai.completions.create(model=path, prompt=prompt, max_tokens=4, temperature=0).choices[0].text
    base = oai.completions.create(model=TINY, prompt=prompt, max_tokens=4, temperature=0).choices[0].text
    assert got == want
    assert got != base  # the adapter, not the base model, answered


def test_errors_name_the_problem(oai, local_server) -> None:
    missing = "tinker://nobody:train:0/sampler_weights/none"
    with pytest.raises(openai.NotFoundError, match="nobody"):
        oai.chat.completions.create(model=missing, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="temperature"):
        oai.chat.completions.create(model=TINY, messages=[{"role": "user", "content": "hi"}], temperature=9)
    with pytest.raises(openai.BadRequestError, match="messages"):
        oai.chat.completions.create(model=TINY, messages=[])


def test_the_key_rule_applies_as_a_bearer_token(tiny_model_path, tmp_path) -> None:
    from cookbook_tui.engine import start_local_server

    with start_local_server(data_dir=tmp_path / "data", api_key="tml-secret") as server:
        wait_healthy(server.base_url, "tml-secret")
        url = f"{server.base_url}/oai/api/v1"
        with pytest.raises(openai.AuthenticationError, match="Bearer"):
            openai.OpenAI(base_url=url, api_key="tml-wrong", max_retries=0).models.list()
        names = [m.id for m in openai.OpenAI(base_url=url, api_key="tml-secret", max_retries=0).models.list()]
        assert TINY in names
