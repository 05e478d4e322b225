"""Ctrl+Space's candidates, read off the recipe models: tables, the keys of the table under the
cursor (those not written yet), a key's choices."""

from __future__ import annotations

from cookbook_tui.recipes.completion import completions
from cookbook_tui.recipes.schema import RENDERERS, SECTIONS

TEXT = 'workflow = "rl"\n[model]\nname = "m"\nrenderer = "qw"\n[training]\nl\n\n[ro\n[env]\nname = \n'


def labels(row: int, column: int, text: str = TEXT) -> list[str]:
    found = completions(text, row, column)
    return [c.label for c in found.candidates] if found else []


def test_keys_of_the_table_under_the_cursor_that_start_with_the_word() -> None:
    # TEXT is an rl recipe: [training]'s keys that rl reads (lr_schedule is sl's and dpo's)
    assert labels(5, 1) == [k for k, spec in SECTIONS["training"].fields.items() if k.startswith("l") and spec.used_by("rl")]
    found = completions(TEXT, 5, 1)
    assert found is not None and (found.column, found.end) == (0, 1)
    assert found.candidates[0].insert == "learning_rate = " and "learning rate" in found.candidates[0].doc


def test_keys_already_written_are_not_offered() -> None:
    assert "name" not in labels(2, 0, 'workflow = "rl"\n[model]\n\nname = "m"\n')
    assert labels(0, 1, "w") == ["workflow"]


def test_a_keys_choices_replace_the_quoted_word() -> None:
    assert labels(3, 14) == [r for r in RENDERERS if r.startswith("qw")]
    found = completions(TEXT, 3, 14)
    assert found is not None and (found.column, found.end) == (11, 15)  # the opening and closing quote
    assert found.candidates[0].insert == '"qwen3"'


def test_tables_for_the_workflow_and_values_per_workflow() -> None:
    assert labels(7, 3) == ["[rollouts]"]
    # rl takes no [dataset]/[dpo]/[teacher]/[config]; [model], [training], [env] are written already
    assert labels(7, 1) == ["[rollouts]", "[warmup]", "[samples]", "[cookbook]"]
    assert labels(9, 7) == ["arithmetic", "gsm8k", "math", "polaris", "deepmath"]  # rl's bundled envs


def test_nothing_to_offer_in_a_comment_or_a_free_value() -> None:
    assert completions("# wor", 0, 5) is None
    assert completions('[model]\nname = "', 1, 8) is None


def test_cookbook_keys_come_from_the_chz_config_less_those_our_sections_set() -> None:
    assert labels(2, 3, 'workflow = "rl"\n[cookbook.async_config]\nmax\n') == ["max_steps_off_policy"]
    offered = labels(2, 0, 'workflow = "rl"\n[cookbook]\n\n')
    assert "compute_post_kl" in offered and "learning_rate" not in offered  # [training] sets that one


def test_keys_the_workflow_ignores_are_not_offered() -> None:
    sl = 'workflow = "sl"\n[training]\n\n'
    offered = labels(2, 0, sl)
    assert "loss" not in offered and "kl_penalty" not in offered  # rl, distill, multiturn_rl read them
    assert "lr_schedule" in offered and "learning_rate" in offered
    rl = labels(2, 0, sl.replace('"sl"', '"rl"'))
    assert "loss" in rl and "kl_penalty" in rl and "lr_schedule" not in rl
