"""No drifting numbers in the docs: every simulated figure README.md and scenarios/README.md
quote is one recorded in docs/figures.yaml by ``python docs/figures.py --write``, and a fresh
run of the same (few, short) replications still puts it inside its confidence interval."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = "run `python docs/figures.py --write` and commit the docs it rewrites"


def _load_tool() -> ModuleType:
    """docs/figures.py, the command that writes and checks the figures."""
    spec = importlib.util.spec_from_file_location("doc_figures", ROOT / "docs" / "figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return _load_tool()


@pytest.fixture(scope="module")
def recorded(tool: ModuleType) -> tuple[dict, dict]:
    return tool.load()


def test_docs_quote_exactly_the_recorded_figures(tool: ModuleType, recorded: tuple) -> None:
    header, figures = recorded
    assert set(figures) == {spec.key for spec in tool.figure_specs()}, FIX
    rendered = tool.render_blocks(figures, header)
    for path, names in tool.DOCUMENTS.items():
        quoted = tool.quoted_blocks(path)
        for name in names:
            assert quoted[name] is not None, f"{path.name}: the figures:{name} block is missing"
            assert quoted[name] == rendered[name], f"{path.name}: figures:{name} edited; {FIX}"


def test_quoted_figures_lie_in_a_fresh_runs_intervals(tool: ModuleType, recorded: tuple) -> None:
    header, figures = recorded
    fresh = tool.compute(int(header["replications"]), int(header["seed"]))
    problems = tool.drifted(figures, fresh)
    assert not problems, "\n".join([*problems, FIX])


def test_drift_is_caught(tool: ModuleType, recorded: tuple) -> None:
    _, figures = recorded
    key = "baseline.won_deals"
    moved = {**figures, key: {**figures[key], "mean": figures[key]["ci_high"] * 1.5}}
    assert [p.split(":")[0] for p in tool.drifted(moved, figures)] == [key]
    assert tool.drifted(figures, figures) == []
    assert tool.drifted({k: v for k, v in figures.items() if k != key}, figures) == [
        f"{key}: not recorded"
    ]


def test_scenario_comments_name_figures_instead_of_quoting_them(recorded: tuple) -> None:
    _, figures = recorded
    named = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            comment = line.partition("#")[2]
            named += [(path.name, key) for key in re.findall(r"figure (\w+\.[\w.]*\w)", comment)]
    assert named, "the baseline's comments point to its measured figures"
    unknown = [f"{name}: figure {key}" for name, key in named if key not in figures]
    assert not unknown, unknown
