"""libyaml (C) where PyYAML's pure-Python code did the same: the scenario dump
(``FastScenarioDumper`` writes the text ``ScenarioDumper`` writes) and the loading
(``load_yaml`` reads what ``LimitedLoader`` reads, and refuses with its words)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml

from funnelsim.bundled import bundled_names, resolve_scenario
from funnelsim.scenario import load_scenario
from funnelsim.scenario.safe_yaml import (
    MAX_DEPTH,
    FastLimitedLoader,
    FastScenarioDumper,
    LimitedLoader,
    ScenarioDumper,
    dump_yaml,
    load_yaml,
)


def _plain(data: object) -> str:
    return yaml.dump(data, Dumper=ScenarioDumper, sort_keys=False, allow_unicode=True)


def test_the_c_emitter_is_used_when_pyyaml_has_it() -> None:
    assert (FastScenarioDumper is not ScenarioDumper) == yaml.__with_libyaml__


@pytest.mark.parametrize("name", bundled_names())
def test_a_bundled_scenario_dumps_to_the_same_text(name: str) -> None:
    data = load_scenario(resolve_scenario(name)).model_dump(mode="json", by_alias=True)
    text = dump_yaml(data)
    assert text == _plain(data)
    assert load_yaml(text) == data


TRICKY = {
    "numbers as text": ["1e5", "-2.5E-3", "0x10", ".inf", "1_000", "12:30", "7"],
    "booleans as text": ["no", "NO", "yes", "on", "off", "true", "False", "~", "null", ""],
    "punctuation": ["a: b", "- item", "#hash", "'quoted'", '"double"', "&anchor", "*alias",
                    "!tag", "%pct", "@at", "`tick`", "{x}", "[y]", "a, b", "? q", "|", ">"],
    "unicode": ["Zürich €", "東京", "emoji 🚀", "\u00a0nbsp", "tab\there", "bell\x07"],
    "lines": ["two\nlines", "trailing\n", " leading space", "trailing space ", "x" * 200,
              " ".join(["word"] * 60)],
    "values": [None, True, False, 0, -1, 2**70, 0.1, 1e300, -0.0, float("inf"), 3.5e-12],
    "dates": [dt.date(2027, 1, 31)],
    "nested": {"empty map": {}, "empty list": [], "deep": [[1, [2, {"k": ["v"]}]]]},
}  # fmt: skip


def test_tricky_values_dump_to_the_same_text_and_read_back() -> None:
    text = dump_yaml(TRICKY)
    assert text == _plain(TRICKY)
    assert load_yaml(text) == TRICKY


@pytest.mark.parametrize(
    "data",
    [{"s": "line\r\nbreak"}, {"s": "next\x85line"}, {"s": "emoji 🚀"}, {"": 1}, {"🚀": [1]}],
)
def test_what_libyaml_writes_otherwise_is_dumped_by_pyyaml(data: dict) -> None:
    assert dump_yaml(data) == _plain(data)


def test_random_text_dumps_to_the_same_text() -> None:
    """Keys and values drawn from YAML's special characters and a few non-ASCII ones."""
    alphabet = list("ab :-#'\"\\\n\r\t{}[],&*!|>%@`?~ 0.eE+_") + list("\x85\u2028é東🚀\ufeff\x1b")
    rng = np.random.default_rng(7)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet, size=rng.integers(0, 12)))
        data = {"s": text, text: [text, {"k": text}]}
        assert dump_yaml(data) == _plain(data)


def _plain_load(text: str) -> tuple[str, object]:
    try:
        return "data", yaml.load(text, Loader=LimitedLoader)
    except yaml.YAMLError as exc:
        return "error", str(exc)


def _load(text: str) -> tuple[str, object]:
    try:
        return "data", load_yaml(text)
    except yaml.YAMLError as exc:
        return "error", str(exc)


def test_the_c_parser_is_used_when_pyyaml_has_it() -> None:
    assert (FastLimitedLoader is not LimitedLoader) == yaml.__with_libyaml__


@pytest.mark.parametrize("name", bundled_names())
def test_a_bundled_scenario_reads_as_with_pyyamls_parser(name: str) -> None:
    text = resolve_scenario(name).read_text(encoding="utf-8")
    assert yaml.load(text, Loader=FastLimitedLoader) == yaml.load(text, Loader=LimitedLoader)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key
        "a: [" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),  # too deep for the limit
        "a: [" * 1500 + "]" * 1500,  # deeper than libyaml's own limit
        "a: &x [*x]\n",  # recursive anchor
        "a: {b: 1\n",  # unclosed
        "a: 2027-02-30\n",  # a date that does not exist
        "a:\tb\n",
        "c: {<<: {1}, e?: 2}\n",
        "k: !\n",
        "x\ufeffy: 1\n",
    ],
)
def test_what_the_c_parser_refuses_or_reads_otherwise_is_pyyamls_answer(text: str) -> None:
    assert _load(text) == _plain_load(text)


def test_mutated_scenarios_read_as_with_pyyamls_parser() -> None:
    """Bundled scenario texts with a few characters inserted, removed or replaced (YAML's
    special characters among them): the same data, or PyYAML's error."""
    texts = [resolve_scenario(name).read_text(encoding="utf-8")[:2500] for name in bundled_names()]
    pieces = [*" \t\n\r:-#'\"\\{}[],&*!|>%@`?~.0e+_", "\ufeff", "é", "\x85", "<<", "---"]
    rng = np.random.default_rng(11)
    for _ in range(1500):
        text = texts[rng.integers(len(texts))]
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(len(text) + 1))
            piece = pieces[rng.integers(len(pieces))]
            cut = int(rng.integers(0, 3))
            text = text[:at] + piece + text[at + cut :]
        assert _load(text) == _plain_load(text)
