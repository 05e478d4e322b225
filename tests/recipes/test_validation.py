"""check_text and check_deep: every problem named with its place, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook_tui.recipes import RecipeError, RecipeIssue, check_deep, check_text, load_recipe, recipe_from_text
from cookbook_tui.recipes.locate import key_positions

GOOD = """\
workflow = "sl"

[model]
name = "cookbook-tui/tiny-chat"
renderer = "qwen3_instruct"

[dataset]
path = "bundled:arithmetic_chat.jsonl"
batch_size = 8

[training]
learning_rate = 1e-3
max_steps = 5
"""


def errors(text: str, deep: bool = False, **kw) -> list[RecipeIssue]:
    check = check_deep if deep else check_text
    return [i for i in check(text, "r.toml", **kw) if i.is_error]


def test_good_recipe_has_no_issues() -> None:
    assert check_text(GOOD, "r.toml") == []


def test_syntax_error_has_line_and_column() -> None:
    text = GOOD.replace("batch_size = 8", "batch_size = ")
    [issue] = check_text(text, "r.toml")
    assert (issue.line, issue.field) == (9, "syntax")
    assert issue.column is not None
    assert str(issue).startswith("r.toml:9:")


@pytest.mark.parametrize("broken, column", [
    ('renderer = "qwen3_instruct', 12),   # a basic string: tomllib says "illegal character '\\n'"
    ("renderer = 'qwen3_instruct", 12),   # a literal string: tomllib says 'expected "\'"' at the end
])
def test_an_unterminated_string_is_called_that_at_its_opening_quote(broken: str, column: int) -> None:
    text = GOOD.replace('renderer = "qwen3_instruct"', broken)
    [issue] = check_text(text, "r.toml")
    assert (issue.line, issue.column, issue.field) == (5, column, "syntax")
    assert "unterminated string" in issue.message and "illegal character" not in issue.message


def test_unknown_key_suggests_the_close_one() -> None:
    [issue] = errors(GOOD.replace("batch_size", "batch_sise"))
    assert issue.field == "dataset.batch_sise"
    assert (issue.line, issue.column) == (9, 1)
    assert "did you mean 'batch_size'" in issue.message


def test_unknown_section_suggests_the_close_one() -> None:
    [issue] = errors(GOOD + "\n[trainin]\nx = 1\n")
    assert issue.field == "trainin" and "did you mean 'training'" in issue.message


def test_wrong_type_names_key_value_and_line() -> None:
    [issue] = errors(GOOD.replace("learning_rate = 1e-3", 'learning_rate = "fast"'))
    assert str(issue) == 'r.toml:12:17: training.learning_rate: must be a number or "auto", got "fast"'


def test_bool_is_not_an_int() -> None:
    [issue] = errors(GOOD.replace("batch_size = 8", "batch_size = true"))
    assert issue.field == "dataset.batch_size" and "got true" in issue.message


def test_out_of_range_value() -> None:
    [issue] = errors(GOOD.replace("learning_rate = 1e-3", "learning_rate = -1"))
    assert str(issue) == "r.toml:12:17: training.learning_rate: must be > 0, got -1"


def test_choice_with_did_you_mean() -> None:
    [issue] = errors(GOOD.replace('renderer = "qwen3_instruct"', 'renderer = "qwen3_instrct"'))
    assert issue.field == "model.renderer" and "did you mean 'qwen3_instruct'" in issue.message


def test_missing_required_keys() -> None:
    issues = errors(GOOD.replace('workflow = "sl"\n', "").replace('name = "cookbook-tui/tiny-chat"\n', ""))
    assert {i.field for i in issues} == {"workflow", "model.name"}


def test_section_for_another_workflow() -> None:
    [issue] = errors(GOOD + "\n[dpo]\nbeta = 0.1\n")
    assert issue.field == "dpo" and "workflow dpo" in issue.message and issue.line == 15


def test_missing_local_file(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    text = GOOD.replace("bundled:arithmetic_chat.jsonl", "data/missing.jsonl")
    [issue] = [i for i in check_text(text, str(recipe)) if i.is_error]
    assert issue.field == "dataset.path"
    assert f"file not found: {tmp_path / 'data' / 'missing.jsonl'}" in issue.message


def test_data_file_with_wrong_rows_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"messages": []}\n{"text": "x"}\n')
    text = GOOD.replace("bundled:arithmetic_chat.jsonl", "d.jsonl")
    [issue] = [i for i in check_text(text, str(tmp_path / "r.toml")) if i.is_error]
    assert f"{tmp_path / 'd.jsonl'}:2:" in issue.message and '"messages"' in issue.message


def test_tinker_backend_without_an_api_key_is_a_warning() -> None:
    # The recipe is right; only running it needs the key (--run exits 2: tests/runners).
    text = 'backend = "tinker"\n' + GOOD
    [issue] = check_text(text, "r.toml", environ={})
    assert issue.field == "backend" and "TINKER_API_KEY" in issue.message and issue.severity == "warning"
    assert check_text(text, "r.toml", environ={"TINKER_API_KEY": "tml-x"}) == []


def test_dataset_needs_exactly_one_source() -> None:
    [issue] = errors(GOOD.replace('path = "bundled:arithmetic_chat.jsonl"\n', ""))
    assert issue.field == "dataset" and "dataset.path or dataset.hub or dataset.builder" in issue.message
    [issue] = errors(GOOD.replace("batch_size = 8", 'batch_size = 8\nhub = "a/b"'))
    assert "give only one" in issue.message


def test_env_names_are_per_workflow() -> None:
    text = GOOD.replace('"sl"', '"rl"').replace("[dataset]", "[env]").replace(
        'path = "bundled:arithmetic_chat.jsonl"\nbatch_size = 8', 'name = "guess_number"'
    )
    [issue] = errors(text)
    assert issue.field == "env.name" and "arithmetic" in issue.message


def test_entry_point_shape_and_import() -> None:
    text = GOOD.replace('path = "bundled:arithmetic_chat.jsonl"', 'builder = "not an entry point"')
    [issue] = errors(text)
    assert issue.field == "dataset.builder" and "module:ClassName" in issue.message
    text = GOOD.replace('path = "bundled:arithmetic_chat.jsonl"', 'builder = "no_such_module_xyz:Builder"')
    assert errors(text) == []  # importing waits for deep validation
    [issue] = errors(text, deep=True)
    assert "cannot import no_such_module_xyz" in issue.message


def test_warmup_reference_needs_a_warmup_section() -> None:
    [issue] = errors(GOOD.replace('renderer = "qwen3_instruct"', 'renderer = "qwen3_instruct"\nload_checkpoint = "warmup"'))
    assert issue.field == "model.load_checkpoint" and "no [warmup]" in issue.message


def test_a_value_of_the_wrong_type_is_one_error_not_a_crash() -> None:
    [issue] = errors(GOOD.replace('path = "bundled:arithmetic_chat.jsonl"', "path = 5"))
    assert str(issue) == "r.toml:8:8: dataset.path: must be a string, got 5"
    [issue] = errors(GOOD.replace('renderer = "qwen3_instruct"', 'renderer = "qwen3_instruct"\nload_checkpoint = 3'))
    assert str(issue) == "r.toml:6:19: model.load_checkpoint: must be a string, got 3"


def test_model_info_failing_otherwise_than_not_knowing_the_model_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinker_cookbook import model_info

    def broken(name: str) -> str:
        raise RuntimeError("the table did not load")

    monkeypatch.setattr(model_info, "get_recommended_renderer_name", broken)
    [issue] = errors(GOOD.replace('renderer = "qwen3_instruct"\n', "").replace("cookbook-tui/tiny-chat", "Qwen/Qwen3-8B"))
    assert issue.field == "model.renderer"
    assert issue.message == "cannot ask tinker_cookbook.model_info for 'Qwen/Qwen3-8B''s renderer: RuntimeError: the table did not load"


def test_a_key_the_workflow_ignores_is_a_warning_not_an_error() -> None:
    issues = check_text(GOOD.replace("max_steps = 5", 'max_steps = 5\nloss = "importance_sampling"'), "r.toml")
    assert [str(i) for i in issues] == [
        'r.toml:14:1: training.loss: warning: not used by workflow "sl" (only rl, distill, multiturn_rl)'
    ]
    assert recipe_from_text(GOOD.replace("max_steps = 5", "max_steps = 5\nkl_penalty = 0.1"), "r.toml").warnings


def test_unused_warmup_is_a_warning() -> None:
    issues = check_text(GOOD + '\n[warmup]\npath = "bundled:arithmetic_chat.jsonl"\n', "r.toml")
    assert [i.severity for i in issues] == ["warning"]
    assert "warning: is never used" in str(issues[0])


def test_local_model_folder_must_exist() -> None:
    [issue] = errors(GOOD.replace("cookbook-tui/tiny-chat", "./no/such/folder"))
    assert issue.field == "model.name" and "model folder not found" in issue.message


def test_offline_hub_model_for_local_backend_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    [issue] = errors(GOOD.replace("cookbook-tui/tiny-chat", "someone/not-cached-model"), deep=True)
    assert issue.field == "model.name" and "not in the local Hugging Face cache" in issue.message


def test_load_recipe_raises_with_issues(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace("max_steps = 5", "max_steps = 0"))
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    [issue] = caught.value.issues
    assert str(issue) == f"{path}:13:13: training.max_steps: must be >= 1, got 0"


def test_load_recipe_fills_defaults_and_names(tmp_path: Path) -> None:
    path = tmp_path / "my-recipe.toml"
    path.write_text(GOOD)
    recipe = load_recipe(path)
    assert (recipe.name, recipe.workflow, recipe.backend) == ("my-recipe", "sl", "local")
    assert recipe.model.lora_rank == 32
    assert recipe.training.learning_rate == 1e-3
    assert recipe.data_path(recipe.dataset.path).is_file()


def test_backend_override_is_validated() -> None:
    recipe = recipe_from_text(GOOD, "r.toml", backend="tinker", environ={})
    assert recipe.backend == "tinker" and [w.field for w in recipe.warnings] == ["backend"]


def test_key_positions_follow_tables_and_dotted_keys() -> None:
    text = 'a = 1\n[env]\noptions = { x = 1 }\ntext = """\nfake = 2\n"""\n  name.sub = "x"\n'
    pos = key_positions(text)
    assert pos["a"] == (1, 1)
    assert pos["env.options"] == (3, 1)
    assert "env.fake" not in pos and "fake" not in pos
    assert pos["env.name.sub"] == (7, 3)


def test_a_long_choice_list_is_counted_not_listed() -> None:
    from cookbook_tui.recipes.schema import RENDERERS

    [issue] = errors(GOOD.replace('renderer = "qwen3_instruct"', 'renderer = "qwen3_instrct"'))
    assert issue.message == f"must be one of {len(RENDERERS)} values, got \"qwen3_instrct\" (did you mean 'qwen3_instruct'?)"
