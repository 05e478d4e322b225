"""The bundled tiny chat model: built by our code, deterministically, with no network.

The model is a ~1M-parameter Llama-shape causal LM with a small byte-level BPE tokenizer that
knows the ChatML specials (`<|im_start|>`, `<|im_end|>`), so tinker-cookbook's `qwen3_instruct`
renderer and the tokenizer's own chat template agree token for token.

It is materialised on first use in the Hugging Face cache layout
(`$HF_HUB_CACHE/models--cookbook-tui--tiny-chat/snapshots/<rev>/`), so both its short name
`cookbook-tui/tiny-chat` and its folder path load with `AutoTokenizer.from_pretrained` and
`AutoModelForCausalLM.from_pretrained` while `HF_HUB_OFFLINE=1`. tinker-cookbook's loops load
their tokenizer by model name, which is why the short name must resolve offline too.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from cookbook_tui.common.files import write_atomic
from cookbook_tui.common.tiny_model_name import TINY_MODEL_NAME, TINY_MODEL_RENDERER

# Bump when anything below changes what is written: it names the cache snapshot.
TINY_MODEL_BUILD = "2"
WEIGHT_SEED = 0

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
VOCAB_SIZE = 512

# hidden 128 / 4 layers learns single-digit addition in ~200 steps (~5 s) on 2 CPU cores.
MODEL_SHAPE = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 4096,
}

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def set_offline_env() -> None:
    """Keep Hugging Face libraries off the network: must run before they are imported.

    Offline, a hub lookup otherwise takes 23-47 s to fail. Users who set these to 0 keep them.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def is_tiny_model(name: str) -> bool:
    return name == TINY_MODEL_NAME


def _hub_cache_dir() -> Path:
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(hf_home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def _revision() -> str:
    # A 40-hex "commit" so huggingface_hub treats the snapshot like any other.
    return hashlib.sha1(f"{TINY_MODEL_NAME}@{TINY_MODEL_BUILD}".encode()).hexdigest()


def tiny_model_path() -> Path:
    """Where the tiny model's folder lives (it may not be built yet)."""
    repo_dir = _hub_cache_dir() / ("models--" + TINY_MODEL_NAME.replace("/", "--"))
    return repo_dir / "snapshots" / _revision()


def _training_corpus() -> list[str]:
    """Text the tokenizer is trained on: arithmetic, chat turns and a little prose."""
    rng = random.Random(1234)
    words = (
        "the a an of to and in is it you that he was for on are with as his they be at one "
        "have this from or had by word but what some we can out other were all there when up "
        "use your how said each she which do their time if will way about many then them write "
        "would like so these her long make thing see him two has look more day could go come "
        "did number sound no most people my over know water than call first who may down side "
        "been now find any new work part take get place made live where after back little only "
        "round man year came show every good me give our under name very through just form "
        "sentence great think say help low line differ turn cause much mean before move right "
        "boy old too same tell does set three want air well also play small end put home read "
        "hand port large spell add even land here must big high such follow act why ask men "
        "change went light kind off need house picture try us again animal point mother world "
        "near build self earth father answer question correct wrong yes guess higher lower "
        "number between what is plus minus times equals assistant user system hello thanks"
    ).split()
    lines: list[str] = []
    for _ in range(3000):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        op = rng.choice(["+", "-", "*"])
        lines.append(f"What is {a} {op} {b}?")
        lines.append(f"{a}{op}{b}=")
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))).capitalize() + ".")
    return lines


def _build_tokenizer(dest: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    # Digits split one by one (as in Llama) so arithmetic is learnable at this size; byte-level
    # so any Unicode text round-trips.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_corpus(), trainer=trainer)

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
        model_max_length=MODEL_SHAPE["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(dest))


def _build_weights(dest: Path, vocab_size: int, eos_id: int, pad_id: int) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(  # type: ignore[call-arg]  # transformers' @strict configs build __init__ at run time; mypy sees the base's
        vocab_size=vocab_size,
        tie_word_embeddings=False,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        torch_dtype="float32",
        **MODEL_SHAPE,  # type: ignore[arg-type]  # (the same @strict __init__)
    )
    fork_devices: list[int] = []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(WEIGHT_SEED)
        model = LlamaForCausalLM(config)
    model.save_pretrained(str(dest), safe_serialization=True)


def build_tiny_model(dest: Path) -> Path:
    """Write the model folder to `dest` (which must not exist yet). Deterministic."""
    set_offline_env()
    dest = Path(dest)
    dest.mkdir(parents=True)
    _build_tokenizer(dest)
    tok_cfg = json.loads((dest / "tokenizer.json").read_text())
    vocab = tok_cfg["model"]["vocab"]
    added = {t["content"]: t["id"] for t in tok_cfg["added_tokens"]}
    vocab_size = max(max(vocab.values()), max(added.values())) + 1
    _build_weights(dest, vocab_size, eos_id=added["<|im_end|>"], pad_id=added["<|pad|>"])
    (dest / "cookbook_tui_model.json").write_text(
        json.dumps(
            {"name": TINY_MODEL_NAME, "build": TINY_MODEL_BUILD, "renderer": TINY_MODEL_RENDERER},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    return dest


def ensure_tiny_model() -> Path:
    """Return the tiny model's folder, building it into the HF cache on first use.

    Safe against concurrent first uses: each builder writes a private temp folder and renames it
    into place; the loser of the race discards its copy.
    """
    path = tiny_model_path()
    if (path / "cookbook_tui_model.json").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=path.parent))
    try:
        build_tiny_model(tmp / "model")
        try:
            os.rename(tmp / "model", path)
        except OSError:
            if not (path / "cookbook_tui_model.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    refs = path.parent.parent / "refs"
    refs.mkdir(exist_ok=True)
    write_atomic(refs / "main", _revision())
    return path


def resolve_model_path(name: str) -> str:
    """What to hand `from_pretrained` for a recipe's model name: the tiny model's folder for its
    short name (built on demand), otherwise the name unchanged (a local folder or a hub name)."""
    if is_tiny_model(name):
        return str(ensure_tiny_model())
    return name
