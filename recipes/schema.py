"""The recipe format: every section and key a recipe may hold, with its type, range and default.

One table drives validation, defaults and the README's key reference, so the three cannot drift.
Keys map onto tinker-cookbook 0.5.8's chz configs (`supervised.train.Config`, `rl.train.Config`,
`preference.train_dpo.Config`, `distillation.train_on_policy.Config`); the runner's workflow
modules do that mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

# The curated workflows: our sections map onto the cookbook loop's Config (runners/workflows).
CURATED_WORKFLOWS = ("sl", "rl", "dpo", "distill", "multiturn_rl")
# "cookbook": any module shaped like tinker-cookbook's recipes/*/train.py (`entry`, `[config]`).
COOKBOOK_WORKFLOW = "cookbook"
WORKFLOWS = CURATED_WORKFLOWS + (COOKBOOK_WORKFLOW,)
BACKENDS = ("local", "tinker")
ROLLOUT_WORKFLOWS = ("rl", "distill", "multiturn_rl")
DATASET_WORKFLOWS = ("sl", "dpo", "distill")
ENV_WORKFLOWS = ("rl", "multiturn_rl")

# tinker_cookbook.renderers.get_renderer's names in 0.5.8 (tests/recipes checks the list against
# the installed source, so a cookbook upgrade that adds or drops one fails loudly).
RENDERERS = (
    "deepseekv3",
    "deepseekv3_disable_thinking",
    "deepseekv3_thinking",
    "deepseekv4_1",
    "deepseekv4_1_disable_thinking",
    "deepseekv4_1_low_reasoning",
    "deepseekv4_1_max_reasoning",
    "deepseekv4_1_preserve_thinking",
    "glm5_3_high_reasoning",
    "glm5_3_low_reasoning",
    "glm5_3_max_reasoning",
    "gpt_oss_high_reasoning",
    "gpt_oss_low_reasoning",
    "gpt_oss_medium_reasoning",
    "gpt_oss_no_sysprompt",
    "kimi_k2",
    "kimi_k25",
    "kimi_k25_disable_thinking",
    "kimi_k26",
    "kimi_k26_disable_thinking",
    "kimi_k26_preserve_thinking",
    "llama3",
    "nemotron3",
    "nemotron3_disable_thinking",
    "nemotron3_low_thinking",
    "nemotron3_preserve_thinking",
    "nemotron3_ultra",
    "nemotron3_ultra_disable_thinking",
    "nemotron3_ultra_medium_thinking",
    "nemotron3_ultra_preserve_thinking",
    "qwen3",
    "qwen3_5",
    "qwen3_5_disable_thinking",
    "qwen3_5_preserve_thinking",
    "qwen3_8_disable_thinking",
    "qwen3_8_low_reasoning",
    "qwen3_8_medium_reasoning",
    "qwen3_8_xhigh_reasoning",
    "qwen3_disable_thinking",
    "qwen3_instruct",
    "qwen3_vl",
    "qwen3_vl_instruct",
    "role_colon",
)
TRAIN_ON = (
    "last_assistant_message",
    "last_assistant_turn",
    "all_assistant_messages",
    "all_messages",
    "all_tokens",
    "all_user_and_system_messages",
    "customized",
)
LR_SCHEDULES = ("linear", "cosine", "constant")
# RL losses a recipe may name; the local engine implements importance_sampling (and more as it
# grows), the Tinker service all of them.
RL_LOSSES = ("importance_sampling", "ppo", "cispo", "dro")

# Environments a recipe can name without an entry point, per workflow, with the hub dataset each
# needs (None: generated on the fly, works offline).
BUNDLED_ENVS: dict[str, dict[str, str | None]] = {
    "rl": {
        "arithmetic": None,
        "gsm8k": "openai/gsm8k",
        "math": "EleutherAI/hendrycks_math",
        "polaris": "POLARIS-Project/Polaris-Dataset-53K",
        "deepmath": "zwhe99/DeepMath-103K",
    },
    "multiturn_rl": {"guess_number": None},
}

# Hub datasets with a tinker-cookbook builder, per workflow (module:Name). For sl any other hub
# dataset with a "messages" column works too (InterleavedChatDatasetBuilder); dpo and distill need
# one of these.
HUB_DATASETS: dict[str, dict[str, str]] = {
    "sl": {
        "HuggingFaceH4/no_robots": "tinker_cookbook.recipes.chat_sl.chat_datasets:NoRobotsBuilder",
        "allenai/tulu-3-sft-mixture": "tinker_cookbook.recipes.chat_sl.chat_datasets:Tulu3Builder",
    },
    "dpo": {
        "Anthropic/hh-rlhf": "tinker_cookbook.recipes.preference.datasets:HHHComparisonBuilder",
        "nvidia/HelpSteer3": "tinker_cookbook.recipes.preference.datasets:HelpSteer3ComparisonBuilder",
        "nvidia/HelpSteer2": "tinker_cookbook.recipes.preference.datasets:HelpSteer2ComparisonBuilder",
        "lmarena-ai/arena-human-preference-140k": "tinker_cookbook.recipes.preference.datasets:ArenaComparisonBuilder",
    },
    "distill": {"zwhe99/DeepMath-103K": "deepmath", "allenai/tulu-3-sft-mixture": "tulu3"},
}

# The reserved value that points a checkpoint field at the recipe's own [warmup] stage: "warmup"
# is its final checkpoint, "warmup:N" the one it saved after N steps.
WARMUP_REF = "warmup"


def warmup_ref_step(value: object) -> int | None | bool:
    """For a checkpoint value: False if it is not a warmup reference, None for "warmup" (final),
    N for "warmup:N"."""
    if value == WARMUP_REF:
        return None
    if isinstance(value, str) and value.startswith(WARMUP_REF + ":") and value[len(WARMUP_REF) + 1 :].isdigit():
        return int(value[len(WARMUP_REF) + 1 :])
    return False


@dataclass(frozen=True)
class Field:
    """One key: `kind` is str | int | float | bool | table | str_list."""

    kind: str
    doc: str
    default: object = None
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    is_path: bool = False
    # Words accepted besides a value of `kind` ("auto": the cookbook picks the value).
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    doc: str
    fields: dict[str, Field]
    workflows: tuple[str, ...] = CURATED_WORKFLOWS


TOP_LEVEL: dict[str, Field] = {
    "name": Field("str", "short name for runs/<name>/…; default: the file name"),
    "description": Field("str", "one line shown in the recipe list", default=""),
    "workflow": Field("str", "what tinker-cookbook loop trains", required=True, choices=WORKFLOWS),
    "backend": Field("str", "local engine or the Tinker service", default="local", choices=BACKENDS),
    "entry": Field("str", "workflow \"cookbook\": the module to run, like tinker_cookbook.recipes.math_rl.train"),
}

# Tables whose keys are the fields of a chz config class read from the installed code
# (recipes/chz_schema.py), not a list of ours.
FREE_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cookbook": ("fields of the tinker-cookbook Config the workflow builds (nested configs as sub-tables)", CURATED_WORKFLOWS),
    "config": ("fields of the entry module's CLIConfig (nested configs as sub-tables)", (COOKBOOK_WORKFLOW,)),
}
# What a `cookbook` recipe's entry module defines and parses in its `__main__`.
ENTRY_CONFIG_CLASS = "CLIConfig"

# The runner supplies these to an entry module's CLIConfig (when the class has them).
RUN_DIR_FIELD = "log_path"
RUNNER_FIELDS: dict[str, str] = {
    "log_path": "set by cookbook-tui: the run dir (runs/<name>/<time>/, or --log-dir)",
    "base_url": "set by cookbook-tui from backend (local: the engine's URL; tinker: TINKER_BASE_URL)",
    "behavior_if_log_dir_exists": "set by cookbook-tui (\"resume\": --resume continues the run dir)",
}

_RUN_DIR = "set by cookbook-tui: the run dir"
_BACKEND = "set by cookbook-tui from backend"
_SHARED = {
    "log_path": _RUN_DIR,
    "base_url": _BACKEND,
    "model_name": "model.name",
    "recipe_name": "name",
    "load_checkpoint_path": "model.load_checkpoint",
    "renderer_name": "model.renderer",
    "lora_rank": "model.lora_rank",
    "learning_rate": "training.learning_rate",
    "save_every": "training.save_every",
    "eval_every": "training.eval_every",
    "max_steps": "training.max_steps",
}
_SUPERVISED = {
    **_SHARED,
    "dataset_builder": "[dataset]",
    "lr_schedule": "training.lr_schedule",
    "num_epochs": "training.num_epochs",
    "adam_beta1": "training.adam_beta1",
    "adam_beta2": "training.adam_beta2",
    "adam_eps": "training.adam_eps",
    "infrequent_evaluator_builders": "[samples]",
    "infrequent_eval_every": "samples.every",
}
_ROLLOUTS = {
    "max_tokens": "rollouts.max_tokens",
    "temperature": "rollouts.temperature",
    "kl_penalty_coef": "training.kl_penalty",
    "kl_discount_factor": "training.kl_discount",
    "loss_fn": "training.loss",
    "num_substeps": "training.num_substeps",
}
_RL = {**_SHARED, **_ROLLOUTS, "dataset_builder": "[env]", "kl_reference_config": "training.kl_penalty"}


@dataclass(frozen=True)
class CookbookConfig:
    """The chz Config class a curated workflow builds, and the fields our sections set on it
    (config field -> the recipe key that sets it): `[cookbook]` may set every other field."""

    target: str
    owned: dict[str, str]


COOKBOOK_CONFIGS: dict[str, CookbookConfig] = {
    "sl": CookbookConfig("tinker_cookbook.supervised.train:Config", _SUPERVISED),
    "dpo": CookbookConfig(
        "tinker_cookbook.preference.train_dpo:Config",
        {**_SUPERVISED, "dpo_beta": "dpo.beta", "reference_model_name": "dpo.reference_model"},
    ),
    "rl": CookbookConfig("tinker_cookbook.rl.train:Config", _RL),
    "multiturn_rl": CookbookConfig("tinker_cookbook.rl.train:Config", _RL),
    "distill": CookbookConfig(
        "tinker_cookbook.distillation.train_on_policy:Config",
        {**_SHARED, **_ROLLOUTS, "dataset_configs": "[dataset] and [teacher]", "evaluator_builders": "[samples]"},
    ),
}

SECTIONS: dict[str, Section] = {
    "model": Section(
        "the model trained",
        {
            "name": Field("str", "HF model name or local folder", required=True),
            "renderer": Field(
                "str", "tinker-cookbook renderer (default: the one tinker_cookbook.model_info recommends for the model)", choices=RENDERERS
            ),
            "lora_rank": Field("int", "LoRA rank", default=32, minimum=1, maximum=1024),
            "load_checkpoint": Field(
                "str", "start from this tinker:// state path, or \"warmup\" / \"warmup:N\" for the [warmup] stage's final / step-N weights"
            ),
        },
    ),
    "dataset": Section(
        "training data: a local file, a hub dataset or a builder entry point",
        {
            "path": Field("str", "local .jsonl or .parquet (relative to the recipe, or bundled:NAME)", is_path=True),
            "hub": Field("str", "Hugging Face dataset name"),
            "builder": Field("str", "module:Name of a tinker-cookbook dataset builder"),
            "options": Field("table", "keyword arguments for the builder", default={}),
            "split": Field("str", "hub split", default="train"),
            "test_size": Field("int", "examples held out for evaluation and samples", default=0, minimum=0),
            "batch_size": Field("int", "examples (sl, dpo: pairs) per step", default=16, minimum=1),
            "max_length": Field("int", "truncate rendered examples to this many tokens", minimum=8),
            "train_on": Field("str", "which tokens carry loss", choices=TRAIN_ON),
            "shuffle_seed": Field("int", "shuffle before the held-out split", default=0, minimum=0),
        },
        DATASET_WORKFLOWS,
    ),
    "env": Section(
        "the RL environment: a bundled name or a builder entry point",
        {
            "name": Field("str", "bundled environment"),
            "builder": Field("str", "module:Name of an RLDatasetBuilder"),
            "options": Field("table", "keyword arguments for the environment builder", default={}),
            "num_batches": Field("int", "batches of problems (arithmetic)", default=100, minimum=1),
        },
        ENV_WORKFLOWS,
    ),
    "rollouts": Section(
        "sampling during RL and distillation",
        {
            "group_size": Field("int", "rollouts per prompt", default=4, minimum=1),
            "groups_per_batch": Field("int", "prompts per step", default=8, minimum=1),
            "max_tokens": Field("int", "tokens sampled per turn", default=16, minimum=1, maximum=65536),
            "temperature": Field("float", "sampling temperature", default=1.0, minimum=0, exclusive_minimum=True),
        },
        ROLLOUT_WORKFLOWS,
    ),
    "training": Section(
        "optimisation and cadence",
        {
            "learning_rate": Field(
                "float",
                "peak Adam learning rate, or \"auto\": tinker_cookbook.hyperparam_utils.get_lr for the model (LoRA)",
                default=1e-4,
                minimum=0,
                exclusive_minimum=True,
                words=("auto",),
            ),
            "lr_schedule": Field("str", "learning-rate schedule (sl, dpo)", default="linear", choices=LR_SCHEDULES),
            "num_epochs": Field("int", "passes over the data (sl, dpo)", default=1, minimum=1),
            "max_steps": Field("int", "stop after this many steps", minimum=1),
            "save_every": Field("int", "checkpoint every N steps (0: final only)", default=20, minimum=0),
            "eval_every": Field("int", "evaluate every N steps (0: never)", default=10, minimum=0),
            "loss": Field("str", "RL loss", default="importance_sampling", choices=RL_LOSSES),
            "kl_penalty": Field("float", "KL penalty coefficient (rl: toward the base model; distill: toward the teacher)", minimum=0),
            "kl_discount": Field("float", "discount for future KL terms", default=0.0, minimum=0, maximum=1),
            "num_substeps": Field("int", "optimizer steps per RL batch", default=1, minimum=1),
            "adam_beta1": Field("float", "Adam beta1", default=0.9, minimum=0, maximum=1),
            "adam_beta2": Field("float", "Adam beta2", default=0.95, minimum=0, maximum=1),
            "adam_eps": Field("float", "Adam epsilon", default=1e-8, minimum=0, exclusive_minimum=True),
        },
    ),
    "dpo": Section(
        "preference optimisation",
        {
            "beta": Field("float", "DPO beta", default=0.1, minimum=0, exclusive_minimum=True),
            "reference_model": Field("str", "reference model (default: the initial weights)"),
        },
        ("dpo",),
    ),
    "teacher": Section(
        "the teacher for on-policy distillation",
        {
            "model": Field("str", "teacher base model (default: model.name)"),
            "checkpoint": Field("str", "teacher weights: a tinker:// sampler path, or \"warmup\" / \"warmup:N\""),
        },
        ("distill",),
    ),
    "warmup": Section(
        "a short supervised stage run first; model.load_checkpoint or teacher.checkpoint = \"warmup\" use its weights",
        {
            "path": Field("str", "conversations .jsonl (relative to the recipe, or bundled:NAME)", required=True, is_path=True),
            "steps": Field("int", "SFT steps", default=50, minimum=1),
            "learning_rate": Field("float", "learning rate", default=1e-3, minimum=0, exclusive_minimum=True),
            "batch_size": Field("int", "examples per step", default=16, minimum=1),
            "train_on": Field("str", "which tokens carry loss", default="all_assistant_messages", choices=TRAIN_ON),
        },
    ),
    "samples": Section(
        "completions on held-out prompts written to samples.jsonl (sl, dpo, distill)",
        {
            "every": Field("int", "sample every N steps", default=10, minimum=1),
            "count": Field("int", "prompts per sampling", default=4, minimum=1, maximum=256),
            "max_tokens": Field("int", "tokens per completion", default=32, minimum=1),
        },
    ),
}


def field_for(dotted: str) -> Field | None:
    """The Field for `section.key` or a top-level key, or None if the recipe format has no such key."""
    if "." not in dotted:
        return TOP_LEVEL.get(dotted)
    section, _, key = dotted.partition(".")
    spec = SECTIONS.get(section)
    return spec.fields.get(key) if spec else None
