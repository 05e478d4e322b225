"""The offline default model, by name: what recipes name and validate against, and what
`common/tiny_model.py` builds under that name (kept apart so the validator loads no builder)."""

TINY_MODEL_NAME = "cookbook-tui/tiny-chat"
# The chat format its tokenizer is made for.
TINY_MODEL_RENDERER = "qwen3_instruct"
