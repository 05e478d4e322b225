"""The runs list's filter grammar: words, tag:/state:, and KEY OP VALUE on config and metrics."""

from __future__ import annotations

from cookbook_tui.monitor.run_filter import RunFacts, matches, parse_filter
from cookbook_tui.runners.run_notes import RunNotes, parse_tags, read_notes, write_notes

SFT = RunFacts(
    "arithmetic-sft/20261128-101500 finished arithmetic-sft sl local cookbook-tui/tiny-chat the first try",
    state="finished", workflow="sl", backend="local", tags=("baseline",),
    config={"recipe:training.learning_rate": 0.003, "recipe:model.lora_rank": 32, "config:learning_rate": 0.003,
            "recipe:samples.every": 25, "config:model_name": "cookbook-tui/tiny-chat", "config:eval_every": 25},
    metrics={"train_mean_nll": 0.16, "step": 59},
)
RL = RunFacts("arithmetic-rl/20261128-110000 running arithmetic-rl rl local", state="running", workflow="rl",
              config={"recipe:training.learning_rate": 1e-4, "recipe:model.lora_rank": 8,
                      "recipe:warmup.learning_rate": 3e-3})  # the warmup stage's is not the run's


def kept(text: str) -> list[str]:
    terms, problems = parse_filter(text)
    assert problems == []
    return [name for name, facts in (("sft", SFT), ("rl", RL)) if matches(terms, facts)]


def test_config_comparisons_by_short_name_dotted_path_or_last_part() -> None:
    assert kept("lr>1e-3") == ["sft"]
    assert kept("lr<=1e-4") == ["rl"]
    assert kept("learning_rate!=0.003") == ["rl"]
    assert kept("model.lora_rank=32") == ["sft"]
    assert kept("lora_rank>=8") == ["sft", "rl"]
    assert kept("recipe:model.lora_rank=8") == ["rl"]
    assert kept("model_name=cookbook-tui/tiny-chat") == ["sft"]  # text compares as text
    assert kept("every=25") == ["sft"]
    assert kept("warmup.learning_rate>1e-3") == ["rl"]  # named, the warmup stage's counts


def test_tags_states_metrics_and_plain_words_all_must_match() -> None:
    assert kept("tag:baseline") == ["sft"]
    assert kept("tag:BASELINE state:finished") == ["sft"]
    assert kept("state:running") == ["rl"]
    assert kept("train_mean_nll<0.2") == ["sft"]
    assert kept("arithmetic") == ["sft", "rl"]
    assert kept("first try") == ["sft"]  # the note is searched
    assert kept("base") == ["sft"]  # and the tags
    assert kept("workflow:rl lr>1e-3") == []


def test_a_term_that_cannot_be_one_is_named_and_left_out() -> None:
    terms, problems = parse_filter("lr>abc tag: sft")
    assert problems == ["lr>abc: 'abc' is not a number", "tag: needs a value (tag:NAME)"]
    assert [t.key for t in terms] == ["sft"]


def test_notes_and_tags_round_trip_through_the_run_dir(tmp_path) -> None:
    assert read_notes(tmp_path) == RunNotes()
    assert parse_tags("#baseline, lr-sweep  baseline") == ("baseline", "lr-sweep")
    write_notes(tmp_path, RunNotes("lr 3e-3", ("baseline",)))
    assert read_notes(tmp_path) == RunNotes("lr 3e-3", ("baseline",))
    assert read_notes(tmp_path).summary() == "#baseline  lr 3e-3"
