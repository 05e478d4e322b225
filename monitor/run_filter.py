"""The runs list's filter: words that must all match a run.

- `sft` (any other word): found in the run's name, state, recipe, workflow, backend, model, tags
  or note (case-insensitive);
- `tag:baseline`: the run has that tag; `state:running`: its state (also `workflow:`, `backend:`);
- `KEY OP VALUE` with OP one of `> >= < <= = !=`: a config value or last metric. KEY is matched
  against the run's recipe.toml and config.json keys (`model.lora_rank` matches
  `recipe:model.lora_rank`; a last part alone, `lora_rank`, a key ending in it, not a `[warmup]`
  stage's), the short names of run labels (`lr` = learning_rate, `bs` = batch_size, …) or a metric
  of its last row (`env/all/reward/total>0.5`). Numbers compare as numbers, anything else as text.

Plain Python: the runs screen reads each run's facts in its worker and filters the rows here.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cookbook_tui.monitor.run_compare import ABBREVIATIONS

FIELDS = ("tag", "state", "workflow", "backend")
_COMPARE = re.compile(r"^(?P<key>[^<>=!\s]+?)\s*(?P<op>>=|<=|!=|==|=|>|<)\s*(?P<value>.*)$")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "=": operator.eq, "==": operator.eq, "!=": operator.ne,
}
_LONG_NAMES = {short: long for long, short in ABBREVIATIONS.items()}


@dataclass(frozen=True)
class RunFacts:
    """What a filter looks at for one run."""

    words: str  # name, state, recipe, workflow, backend, model, note: searched as text
    state: str = ""
    workflow: str = ""
    backend: str = ""
    tags: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)  # run_compare.run_config's flattened keys
    metrics: dict[str, Any] = field(default_factory=dict)  # the last metrics row


@dataclass(frozen=True)
class Term:
    kind: str  # "text", "field" or "compare"
    key: str
    op: str = ""
    value: str = ""


def parse_filter(text: str) -> tuple[list[Term], list[str]]:
    """The filter's terms, and a message for each word that cannot be one (it is left out)."""
    terms, problems = [], []
    for word in text.split():
        name, colon, rest = word.partition(":")
        if colon and name.lower() in FIELDS:
            if rest:
                terms.append(Term("field", name.lower(), "=", rest))
            else:
                problems.append(f"{word} needs a value ({name}:NAME)")
            continue
        found = _COMPARE.match(word)
        if found is None:
            terms.append(Term("text", word.lower()))
            continue
        key, op, value = found["key"], found["op"], found["value"]
        if not value:
            problems.append(f"{word} needs a value after {op}")
        elif op in (">", ">=", "<", "<=") and _number(value) is None:
            problems.append(f"{word}: {value!r} is not a number")
        else:
            terms.append(Term("compare", key, op, value))
    return terms, problems


def matches(terms: Sequence[Term], facts: RunFacts) -> bool:
    return all(_matches(term, facts) for term in terms)


def _matches(term: Term, facts: RunFacts) -> bool:
    if term.kind == "text":
        return term.key in facts.words.lower() or any(term.key in tag.lower() for tag in facts.tags)
    if term.kind == "field":
        wanted = term.value.lower()
        if term.key == "tag":
            return any(tag.lower() == wanted for tag in facts.tags)
        return str(getattr(facts, term.key) or "").lower() == wanted
    return any(_compare(value, term.op, term.value) for value in values_for(term.key, facts))


def values_for(key: str, facts: RunFacts) -> list[Any]:
    """The run's values a KEY names, the main stage's first: a `recipe:`/`config:` key exactly; else
    keys whose dotted path is KEY (config.json's, the run's resolved config, before recipe.toml's;
    short names expanded); else keys whose path ends in it, a `[warmup]` stage's left out unless
    KEY names it; else the last row's metric of that name."""
    if ":" in key and key in facts.config:
        return [facts.config[key]]
    wanted = [key] + ([_LONG_NAMES[key]] if key in _LONG_NAMES else [])
    paths = [(full.split(":", 1)[-1], full) for full in facts.config]
    paths.sort(key=lambda item: not item[1].startswith("config:"))
    exact = [facts.config[full] for path, full in paths if path in wanted]
    if exact:
        return exact
    ending = [facts.config[full] for path, full in paths
              if any(path.endswith("." + w) for w in wanted) and (not path.startswith("warmup.") or key.startswith("warmup."))]
    if ending:
        return ending
    return [facts.metrics[key]] if key in facts.metrics else []


def _number(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text)
    try:
        return float(str(text))
    except ValueError:
        return None


def _compare(value: Any, op: str, wanted: str) -> bool:
    have, want = _number(value), _number(wanted)
    if have is not None and want is not None:
        return OPERATORS[op](have, want)
    if op in ("=", "==", "!="):
        return OPERATORS[op](str(value).lower(), wanted.lower())  # true/false as TOML writes them
    return False
