"""The offline default model, by name: what recipes name and validate against (recipes never import
runners), and what `runners/tiny_model.py` builds under that name."""

TINY_MODEL_NAME = "cookbook-tui/tiny-chat"
# The chat format its tokenizer is made for.
TINY_MODEL_RENDERER = "qwen3_instruct"
