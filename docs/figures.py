"""The figures quoted in the documentation, from a command anyone can run.

    python docs/figures.py --write   # rerun, rewrite docs/figures.yaml and the marked blocks
    python docs/figures.py --check   # rerun; exit 1 when a quoted figure drifted

Every simulated figure that README.md or scenarios/README.md quotes sits in a block between
``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->``, rendered from docs/figures.yaml,
which ``--write`` produces from ``REPLICATIONS`` replications (seed ``SEED``) of the bundled
scenarios. Scenario comments quote no simulated outcome; they name a figure instead
(``figure baseline.grr``). tests/test_doc_figures.py reruns the same replications (few and
short, so the test stays cheap) and fails when a recorded figure lies outside the
recomputed confidence interval (allowing for its display rounding), when a block differs
from what the recorded figures render, or when a comment names an unknown figure. Unchanged
code reproduces every figure exactly; a change that moves one by less than its interval's
half-width keeps the docs honest, a larger one fails until the command is rerun.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

import funnelsim as fs
from funnelsim.experiment.replications import Replication
from funnelsim.experiment.stats import t_interval
from funnelsim.report.formatting import with_interval

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
FIGURES_FILE = ROOT / "docs" / "figures.yaml"
COMMAND = "python docs/figures.py --write"
REPLICATIONS = 6
SEED = 0
CURRENCY = "USD"

# Runs: name -> (scenario file in scenarios/, seams made perfect).
RUNS: dict[str, tuple[str, tuple[int, ...]]] = {
    "baseline": ("baseline.yaml", ()),
    "sla_1h_fallback": ("sla_1h_fallback.yaml", ()),
    "automated_q2c": ("automated_q2c.yaml", ()),
    "renewal_90d": ("renewal_90d.yaml", ()),
    "extra_sdr": ("extra_sdr.yaml", ()),
    "context_handoff": ("context_handoff.yaml", ()),
    **{f"fix_seam{s}": ("baseline.yaml", (s,)) for s in (1, 2, 3, 4)},
    "fix_all": ("baseline.yaml", (1, 2, 3, 4)),
}
SINGLES = "single fixes"
WHAT_IFS = ("sla_1h_fallback", "automated_q2c", "renewal_90d", "extra_sdr", "context_handoff")
SCENARIO_COLUMNS = ("baseline", *WHAT_IFS)

# Derived metrics: name -> (unit, label).
DERIVED = {
    "mql_share": ("share", "Leads that become MQLs"),
    "potential_revenue": (CURRENCY, "Potential revenue (realised + attributed leakage)"),
    **{f"attributed_seam{s}": (CURRENCY, f"Attributed leakage at seam {s}") for s in (1, 2, 3, 4)},
    "attributed_total": (CURRENCY, "Attributed leakage, all seams"),
    "occupancy_sdr": ("share", "SDR occupancy (wall-clock)"),
    "occupancy_ae": ("share", "AE occupancy (wall-clock)"),
}
SCENARIO_ROWS = (
    ("leads", "leads"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("won_deals", "won deals (booked)"),
    ("active_customers", "active customers at the horizon"),
    ("seam1_leads_lost", "leads lost at seam 1"),
    ("seam2_leads_lost", "deals lost at seam 2 (fell through)"),
    ("booked_arr", "booked ARR"),
    ("horizon_revenue", "revenue within the horizon"),
    ("deferred_revenue", "revenue deferred by quote-to-cash"),
)
WHAT_IF_ROWS = (
    ("won_deals", "won deals"),
    ("horizon_revenue", "revenue within the horizon"),
    ("gross_profit", "gross profit (revenue × gross margin)"),
    ("total_cost", "total cost"),
    ("net_value", "net value (gross profit − cost)"),
)
# Baseline figures beside the public benchmark ranges they are meant to sit in.
BENCHMARK_ROWS = (
    ("mql_share", "~20-50% (demand-waterfall style benchmarks)"),
    ("lead_to_customer", "~1-2%"),
    ("win_rate", "~15-30% for B2B SaaS"),
    ("median_first_response_hours", "HBR 2011 audit: ~42 h average"),
    ("occupancy_sdr", "-"),
    ("occupancy_ae", "-"),
    ("grr", "medians ~90%; SMB-heavy companies mid/high 80s"),
    ("nrr", "medians ~100-110%; SMB-heavy ~95-105%"),
    ("cac", "-"),
    ("cac_payback_months", "median ~15-20 months"),
    ("forecast_mape", "off by more than 20% is called unreliable; good teams ~5-10%"),
    ("forecast_mape_fitted", "(the same forecast, stage weights fitted on the run)"),
)
BASELINE_ROWS = (
    "arr_at_start",
    "horizon_revenue",
    "arr_at_horizon",
    "won_deals",
    "potential_revenue",
    "deferred_revenue",
)
LABELS = {
    "arr_at_start": "ARR at the start (the starting book)",
    "horizon_revenue": "Revenue within the horizon",
    "arr_at_horizon": "ARR at the horizon",
    "won_deals": "Won deals (booked; fell-through deals are not won)",
    "deferred_revenue": "Revenue deferred by slow quote-to-cash (not lost)",
    "net_value": "Net value (gross profit − cost)",
    "lead_to_customer": "Lead to active customer",
    "win_rate": "Win rate (booked / closed opportunities)",
    "median_first_response_hours": "Median first response",
    "grr": "Gross revenue retention (trailing 12 months, whole book)",
    "nrr": "Net revenue retention (trailing 12 months, whole book)",
    "cac": "CAC",
    "cac_payback_months": "CAC payback",
    "forecast_mape": "Stage-weighted forecast error (MAPE, CRM's stage weights)",
    "forecast_mape_fitted": "Stage-weighted forecast error (MAPE, fitted weights)",
}


@dataclass(frozen=True)
class Figure:
    """One quoted figure: a metric of a run, or its paired difference against another run."""

    key: str
    run: str
    metric: str
    against: str | None = None


def figure_specs() -> list[Figure]:
    """Every figure the documentation quotes."""
    specs = [
        Figure(f"{run}.{metric}", run, metric)
        for run in SCENARIO_COLUMNS
        for metric, _ in SCENARIO_ROWS
    ]
    specs += [
        Figure(f"{run}.vs_baseline.{metric}", run, metric, "baseline")
        for run in WHAT_IFS
        for metric, _ in WHAT_IF_ROWS
    ]
    baseline_only = [m for m, _ in BENCHMARK_ROWS] + list(BASELINE_ROWS)
    baseline_only += [f"attributed_seam{s}" for s in (1, 2, 3, 4)] + ["attributed_total"]
    specs += [Figure(f"baseline.{m}", "baseline", m) for m in dict.fromkeys(baseline_only)]
    specs += [
        Figure(f"{run}.vs_baseline.horizon_revenue", run, "horizon_revenue", "baseline")
        for run in ("fix_seam1", "fix_seam2", "fix_seam3", "fix_seam4", "fix_all")
    ]
    # All four fixed together minus the sum of the single fixes: the interaction.
    specs.append(
        Figure("fix_all.vs_singles.horizon_revenue", "fix_all", "horizon_revenue", SINGLES)
    )
    return list({spec.key: spec for spec in specs}.values())


def compute(replications: int, seed: int = SEED) -> dict[str, dict[str, object]]:
    """Run every scenario and return each figure's mean and interval (keyed by figure)."""
    values: dict[str, dict[str, np.ndarray]] = {}
    units: dict[str, str] = {}
    for name, (file, perfect) in RUNS.items():
        scenario = fs.load_scenario(SCENARIOS / file)
        runs = fs.run(scenario, replications, seed, keep_ledgers=False, perfect_seams=perfect)
        values[name], run_units = _per_replication(runs.replications, scenario.currency)
        units.update(run_units)
    figures = {}
    for spec in figure_specs():
        series = values[spec.run][spec.metric]
        if spec.against == SINGLES:
            base = values["baseline"][spec.metric]
            singles = sum(values[f"fix_seam{s}"][spec.metric] - base for s in (1, 2, 3, 4))
            series = series - base - singles
        elif spec.against is not None:
            series = series - values[spec.against][spec.metric]
        mean, low, high = t_interval(series)
        figures[spec.key] = {
            "run": spec.run,
            "metric": spec.metric,
            "against": spec.against,
            "unit": units[spec.metric],
            "mean": _round(mean),
            "ci_low": _round(low),
            "ci_high": _round(high),
        }
    return figures


def _per_replication(reps: list[Replication], currency: str):
    """Per metric, its value in each replication (headline, seam losses, derived)."""
    tables = [rep.metrics(currency).set_index("metric") for rep in reps]
    metrics = list(tables[0].index)
    values = {m: np.array([float(t.at[m, "value"]) for t in tables]) for m in metrics}
    units = {m: str(tables[0].at[m, "unit"]) for m in metrics}
    values["mql_share"] = values["mqls"] / values["leads"]
    lost = [rep.leakage.groupby("seam")["horizon_revenue_lost"].sum() for rep in reps]
    for seam in (1, 2, 3, 4):
        values[f"attributed_seam{seam}"] = np.array([float(s.get(seam, 0.0)) for s in lost])
    values["attributed_total"] = np.array([float(s.sum()) for s in lost])
    values["potential_revenue"] = values["horizon_revenue"] + values["attributed_total"]
    for team in ("sdr", "ae"):
        values[f"occupancy_{team}"] = np.array(
            [float(rep.team_load.set_index("team").at[team, "occupancy"]) for rep in reps]
        )
    units.update({name: unit for name, (unit, _) in DERIVED.items()})
    return values, units


def _round(value: float) -> float | None:
    return None if not math.isfinite(value) else float(f"{value:.6g}")


# Rendering the blocks.


def text(figure: dict[str, object]) -> str:
    """A figure as the docs show it: 'mean [low, high]'."""
    return with_interval(
        _num(figure["mean"]),
        _num(figure["ci_low"]),
        _num(figure["ci_high"]),
        str(figure["unit"]),
        CURRENCY,
    )


def render_blocks(
    figures: dict[str, dict[str, object]], header: dict[str, object]
) -> dict[str, str]:
    """Each documentation block (by name) rendered from the recorded figures."""
    note = (
        f"Means of {header['replications']} replications (seed {header['seed']}, 2-year "
        f"horizon) with 95% intervals; generated by `{COMMAND}`, checked by "
        "`tests/test_doc_figures.py`. Do not edit by hand."
    )

    def cell(key: str) -> str:
        return text(figures[key])

    baseline = [f"_{note}_", "", "| baseline | mean [95% CI] |", "| --- | --- |"]
    for metric in BASELINE_ROWS:
        label = DERIVED[metric][1] if metric in DERIVED else LABELS[metric]
        baseline.append(f"| {label} | {cell(f'baseline.{metric}')} |")
    baseline.append(
        f"| Net value of `sla_1h_fallback` (gross profit − cost), paired | "
        f"{cell('sla_1h_fallback.vs_baseline.net_value')} |"
    )
    leaks = [
        f"_{note}_",
        "",
        "| fix | fixing it is worth (counterfactual) | attributed leakage (capacity-aware) |",
        "| --- | --- | --- |",
    ]
    for seam in (1, 2, 3, 4):
        leaks.append(
            f"| seam {seam} | {cell(f'fix_seam{seam}.vs_baseline.horizon_revenue')} | "
            f"{cell(f'baseline.attributed_seam{seam}')} |"
        )
    leaks.append(
        f"| all four together | {cell('fix_all.vs_baseline.horizon_revenue')} | "
        f"{cell('baseline.attributed_total')} |"
    )
    leaks.append(
        "| interaction: all four together − sum of single fixes | "
        f"{cell('fix_all.vs_singles.horizon_revenue')} | - |"
    )
    scenarios = [f"_{note}_", "", "| | " + " | ".join(SCENARIO_COLUMNS) + " |"]
    scenarios.append("|---" * (len(SCENARIO_COLUMNS) + 1) + "|")
    for metric, label in SCENARIO_ROWS:
        cells = " | ".join(cell(f"{run}.{metric}") for run in SCENARIO_COLUMNS)
        scenarios.append(f"| {label} | {cells} |")
    whatifs = [f"_{note}_", "", "| paired difference vs baseline | " + " | ".join(WHAT_IFS) + " |"]
    whatifs.append("|---" * (len(WHAT_IFS) + 1) + "|")
    for metric, label in WHAT_IF_ROWS:
        cells = " | ".join(cell(f"{run}.vs_baseline.{metric}") for run in WHAT_IFS)
        whatifs.append(f"| {label} | {cells} |")
    bench = [f"_{note}_", "", "| baseline | mean [95% CI] | figure | public benchmark (approx.) |"]
    bench.append("| --- | --- | --- | --- |")
    for metric, benchmark in BENCHMARK_ROWS:
        label = DERIVED[metric][1] if metric in DERIVED else LABELS[metric]
        bench.append(
            f"| {label} | {cell(f'baseline.{metric}')} | `baseline.{metric}` | {benchmark} |"
        )
    return {
        "baseline": "\n".join(baseline),
        "leaks": "\n".join(leaks),
        "scenarios": "\n".join(scenarios),
        "whatifs": "\n".join(whatifs),
        "benchmarks": "\n".join(bench),
    }


# Where each block lives.
DOCUMENTS: dict[Path, tuple[str, ...]] = {
    ROOT / "README.md": ("baseline", "leaks"),
    SCENARIOS / "README.md": ("scenarios", "whatifs", "benchmarks"),
}


def block_pattern(name: str) -> re.Pattern[str]:
    """The marked block ``name`` in a document; group 1 is its content."""
    return re.compile(rf"<!-- figures:{name} -->\n(.*?)<!-- /figures:{name} -->", re.DOTALL)


def read_block(document: str, name: str) -> str | None:
    """The content of the marked block ``name`` in ``document`` (None when it is missing)."""
    match = block_pattern(name).search(document)
    return match.group(1).removesuffix("\n") if match else None


def replace_block(document: str, name: str, content: str, where: Path) -> str:
    """``document`` with the marked block ``name`` holding ``content``; exits naming the
    document (``where``) when it has no such block."""
    pattern = block_pattern(name)
    if not pattern.search(document):
        raise SystemExit(f"{where}: no <!-- figures:{name} --> block")
    marked = f"<!-- figures:{name} -->\n{content}\n<!-- /figures:{name} -->"
    return pattern.sub(lambda _match: marked, document)


def quoted_blocks(path: Path) -> dict[str, str | None]:
    """The blocks a document holds now, by name (None for a missing block)."""
    document = path.read_text(encoding="utf-8")
    return {name: read_block(document, name) for name in DOCUMENTS[path]}


def write_documents(blocks: dict[str, str]) -> None:
    """Replace each marked block's content with its rendering."""
    for path, names in DOCUMENTS.items():
        document = path.read_text(encoding="utf-8")
        for name in names:
            document = replace_block(document, name, blocks[name], path)
        path.write_text(document, encoding="utf-8")


# Checking.


def load() -> tuple[dict[str, object], dict[str, dict[str, object]]]:
    """The recorded header (command, replications, seed) and figures."""
    document = yaml.safe_load(FIGURES_FILE.read_text(encoding="utf-8"))
    figures = document.pop("figures")
    return document, figures


def drifted(
    recorded: dict[str, dict[str, object]], recomputed: dict[str, dict[str, object]]
) -> list[str]:
    """Figures whose recorded mean (give or take its display rounding) lies outside the
    recomputed interval, or that are missing on either side."""
    problems = [f"{key}: not recorded" for key in recomputed if key not in recorded]
    problems += [f"{key}: no longer produced" for key in recorded if key not in recomputed]
    for key, new in recomputed.items():
        old = recorded.get(key)
        if old is None:
            continue
        mean = _num(old["mean"])
        low, high = _num(new["ci_low"]), _num(new["ci_high"])
        if not (math.isfinite(mean) and math.isfinite(low) and math.isfinite(high)):
            if math.isfinite(mean) != math.isfinite(_num(new["mean"])):
                problems.append(f"{key}: {text(old)} now {text(new)}")
            continue
        slack = display_tolerance(mean, str(old["unit"]))
        if mean + slack < low or mean - slack > high:
            problems.append(f"{key}: quoted {text(old)}, recomputed {text(new)}")
    return problems


def display_tolerance(value: float, unit: str) -> float:
    """Half the rounding step with which :func:`number` shows ``value``."""
    magnitude = abs(value)
    if unit == CURRENCY:
        for threshold in (1e9, 1e6, 1e3):
            if magnitude >= threshold:
                return 0.05 * threshold
        return 0.5
    if unit == "share":
        return 0.0005
    if unit in {"days", "hours", "months"}:
        return 0.05
    if magnitude >= 10 or float(value).is_integer():
        return 0.5
    return 0.05 if unit in {"leads", "deals", "customers", "opportunities"} else 0.005


def _num(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    """--write: recompute, record and rewrite the blocks; --check: report drift."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="recompute and rewrite the docs")
    mode.add_argument("--check", action="store_true", help="exit 1 if a quoted figure drifted")
    args = parser.parse_args(argv)
    if args.write:
        header = {
            "command": COMMAND,
            "replications": REPLICATIONS,
            "seed": SEED,
        }
        figures = compute(REPLICATIONS)
        document = {**header, "figures": figures}
        comment = (
            "# Figures quoted in README.md and scenarios/README.md (generated; do not edit).\n"
            f"# Regenerate with: {COMMAND}\n"
        )
        FIGURES_FILE.write_text(
            comment + yaml.safe_dump(document, sort_keys=False), encoding="utf-8"
        )
        write_documents(render_blocks(figures, header))
        print(
            f"wrote {FIGURES_FILE.relative_to(ROOT)} and the blocks in {len(DOCUMENTS)} documents"
        )
        return 0
    header, recorded = load()
    problems = drifted(recorded, compute(int(header["replications"]), int(header["seed"])))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
