"""The outputs and figures of docs/calibration.md, from a command anyone can run.

    python docs/calibration_figures.py --write   # rerun; rewrite the page's marked blocks
    python docs/calibration_figures.py --check   # rerun; exit 1 when the page drifted

The page's walkthrough (its Python block, run as written, simulates
docs/examples/calibration_truth.yaml and thins the MQLs to a sparse export that
``funnelsim calibrate`` fits and ``funnelsim check-fit`` checks) and its hold-out recipe on
the maven sample are rerun in a scratch folder. Every command's output and every figure the
text around them quotes sits in a block between ``<!-- figures:NAME -->`` and
``<!-- /figures:NAME -->`` (docs/figures.py's markers), which ``--write`` renders afresh.

tests/test_calibrate_docs.py runs the check. What follows from the data, the fits and the
truth's simulation (counts, observed values, fitted values, whole lines of ``calibrate``)
must be the page's exactly. A check-fit line's simulated range moves with any change to the
engine's draws, so there only the quantity, the observed value and the verdicts that hold by
a wide margin (``ROBUST``) are compared. The sentences around the figures make claims (the
hold-out's win rate carries over, its volume does not, ...): a rerun that no longer bears
one out fails the check and stops ``--write``, naming the claim, so the text gets revised.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import shlex
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd
from click.testing import CliRunner

from funnelsim.calibrate import load_mapping, read_export
from funnelsim.calibrate.calibration import Calibration, calibrate
from funnelsim.calibrate.export import ledger_records, to_deals, with_stage_dates
from funnelsim.calibrate.mapping import POOLED
from funnelsim.calibrate.reading import Export
from funnelsim.cli import main as cli
from funnelsim.engine import simulate
from funnelsim.scenario.loading import load_scenario
from funnelsim.scenario.models import Scenario

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "calibration.md"
COMMAND = "python docs/calibration_figures.py --write"
# Folders of the project the page's commands read, linked into the scratch folder.
LINKED = ("docs", "scenarios", "tests")
WIDTH = 90  # the page's line width, for generated paragraphs

# The walkthrough: its export is cut one year in (365 * 24.0 hours in its Python block).
FIRST_YEAR_HOURS = 365 * 24.0
MQL_MAPPING = "scenarios/mappings/mql_won_dates.yaml"
# The hold-out recipe on the maven sample.
MAVEN = "tests/data/maven-crm/sales_pipeline.csv.gz"
MAVEN_MAPPING = "scenarios/mappings/maven_crm.yaml"
HOLD_OUT_CUT = "2017-08-31"
HOLD_OUT_PERIOD = "2017-09-01..2017-12-31"

# The commands as the page shows them (a backslash-newline continues a line).
MQL_CALIBRATE = f"funnelsim calibrate mql_export.csv --mapping {MQL_MAPPING} -o mql.yaml"
MQL_CHECK = f"funnelsim check-fit mql.yaml mql_export.csv --mapping {MQL_MAPPING}"
HOLD_OUT_CALIBRATE = (
    f"funnelsim calibrate {MAVEN} \\\n"
    f"    --mapping {MAVEN_MAPPING} --as-of {HOLD_OUT_CUT} -o fit.yaml"
)
HOLD_OUT_CHECK = (
    f"funnelsim check-fit fit.yaml {MAVEN} \\\n"
    f"    --mapping {MAVEN_MAPPING} --period {HOLD_OUT_PERIOD}"
)
WHOLE_CALIBRATE = f"funnelsim calibrate {MAVEN} --mapping {MAVEN_MAPPING} -o whole.yaml"
WHOLE_CHECK = f"funnelsim check-fit whole.yaml {MAVEN} --mapping {MAVEN_MAPPING}"
# The sales-stage example: its truth, simulated and exported as deals with stage dates.
STAGES_TRUTH = "docs/examples/stages_truth.yaml"
DEALS_MAPPING = "scenarios/mappings/hubspot_deals.yaml"
STAGES_SEED = 2
STAGES_EXPORT_DAY = 450
STAGES_AS_OF = "2028-03-28"  # the truth's start_date + STAGES_EXPORT_DAY - 1 days
STAGES_CALIBRATE = (
    f"funnelsim calibrate deals.csv --mapping {DEALS_MAPPING} \\\n"
    f"    --as-of {STAGES_AS_OF} -o deals.yaml --report-dir deals-report"
)
COMMANDS = (
    MQL_CALIBRATE,
    MQL_CHECK,
    HOLD_OUT_CALIBRATE,
    HOLD_OUT_CHECK,
    WHOLE_CALIBRATE,
    WHOLE_CHECK,
    STAGES_CALIBRATE,
)

# check-fit quantities whose verdict holds by a wide margin: compared with the page's.
ROBUST = frozenset(
    {
        "MQLs per week",
        "conversion mql -> won",
        "opportunities per week",
        "conversion opportunity -> won",
    }
)
BLOCKS = (
    "mql-calibrate",
    "mql-truth",
    "mql-check-fit",
    "hold-out",
    "hold-out-reading",
    "stages-calibrate",
    "stages-table",
    "stages-book",
)

_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|inf"
_RESULT = re.compile(r"(ok|outside|close|differs|-) +(.+?): (.*)")
_RANGE = re.compile(rf"observed ({_FLOAT}), simulated 95% range ({_FLOAT})-({_FLOAT})")
_KS = re.compile(rf"median ({_FLOAT}) vs ({_FLOAT}), D=({_FLOAT}) p=({_FLOAT})")


def _figures_tool() -> ModuleType:
    """docs/figures.py, whose block markers this page uses too."""
    name = "doc_figures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "figures.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


# Reading check-fit's lines.


@dataclass(frozen=True)
class Result:
    """One check-fit line: verdict, quantity and figures (as printed and as numbers)."""

    verdict: str
    quantity: str
    detail: str

    @property
    def observed(self) -> str:
        """The observed figure as printed (the observed median for a KS line; the reason
        for a skipped one)."""
        figure = re.search(r"(?:observed |median )(\S+)", self.detail)
        return figure.group(1).rstrip(",") if figure else self.detail

    def numbers(self) -> tuple[float, ...]:
        """(observed, low, high) of a range line; (observed, simulated, D, p) of a KS line."""
        match = _RANGE.fullmatch(self.detail) or _KS.fullmatch(self.detail)
        if match is None:
            raise ValueError(f"{self.quantity}: no figures in {self.detail!r}")
        return tuple(float(x) for x in match.groups())


def parse_result(line: str) -> Result | None:
    """A check-fit result line, or None for any other line."""
    match = _RESULT.fullmatch(line)
    return Result(*match.groups()) if match else None


def results(lines: list[str]) -> dict[str, Result]:
    """check-fit's results by quantity."""
    parsed = (parse_result(line) for line in lines)
    return {r.quantity: r for r in parsed if r is not None}


# Rerunning.


def walkthrough_code(page: str) -> str:
    """The page's Python block: the walkthrough's truth and export, run as written."""
    match = re.search(r"^```python\n(.*?)^```", page, re.DOTALL | re.MULTILINE)
    if match is None:
        raise SystemExit(f"{PAGE.name}: no ```python block (the walkthrough's code)")
    return match.group(1)


def run_command(command: str) -> list[str]:
    """Run one of the page's commands in the current folder; its terminal lines."""
    args = shlex.split(command.replace("\\\n", " "))
    result = CliRunner().invoke(cli, args[1:])
    if result.exit_code != 0:
        problem = "" if result.exception is None else f"{result.exception!r}\n"
        raise SystemExit(f"{command} -> exit {result.exit_code}\n{problem}{result.output}")
    return result.output.splitlines()


@dataclass
class Fresh:
    """A rerun: the blocks rendered from it, each command's output, and the page's claims
    it no longer bears out."""

    blocks: dict[str, str]
    outputs: dict[str, list[str]]
    broken: list[str]


def compute() -> Fresh:
    """Rerun the walkthrough and the hold-out recipe; render the page's blocks."""
    page = PAGE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        for name in LINKED:
            Path(name).symlink_to(ROOT / name, target_is_directory=True)
        namespace: dict[str, object] = {}
        exec(compile(walkthrough_code(page), f"{PAGE.name} (walkthrough)", "exec"), namespace)
        truth = _write_deals("deals.csv")
        outputs = {command: run_command(command) for command in COMMANDS}
        fit = calibrate("mql_export.csv", MQL_MAPPING)
        export = read_export(MAVEN, load_mapping(MAVEN_MAPPING))
        stages = pd.read_csv("deals-report/sales_stages.csv")
        book = Path("deals-report/summary.md").read_text(encoding="utf-8")
    leads = namespace.get("leads")
    if not isinstance(leads, pd.DataFrame):
        raise SystemExit(f"{PAGE.name}: the walkthrough's code must leave its ledger in `leads`")
    hold_out, whole = results(outputs[HOLD_OUT_CHECK]), results(outputs[WHOLE_CHECK])
    volume, stalled = _maven_cohorts(export)
    blocks = {
        "mql-calibrate": _console([MQL_CALIBRATE], outputs),
        "mql-truth": _truth_text(leads, fit),
        "mql-check-fit": _console([MQL_CHECK], outputs),
        "hold-out": _console([HOLD_OUT_CALIBRATE, HOLD_OUT_CHECK], outputs),
        "hold-out-reading": _reading_text(hold_out, whole, volume, stalled),
        "stages-calibrate": _console([STAGES_CALIBRATE], outputs),
        "stages-table": _stages_table(stages, truth),
        "stages-book": _book_text(book),
    }
    broken = _broken_claims(hold_out, whole, volume, stalled) + _stage_claims(stages, truth)
    return Fresh(blocks, outputs, broken)


def _write_deals(path: str) -> Scenario:
    """Simulate the stage example's truth and write its deals as a HubSpot deal export."""
    truth = load_scenario(STAGES_TRUTH)
    ledger = simulate(truth, seed=STAGES_SEED)
    hours = STAGES_EXPORT_DAY * 24.0
    records = ledger_records(ledger.leads, truth.start_date, hours, "opportunity")
    records = with_stage_dates(records, ledger.stages, truth.stage_names, truth.start_date, hours)
    to_deals(records, truth.stage_names).to_csv(path, index=False)
    return truth


def _pooled(stages: pd.DataFrame) -> pd.DataFrame:
    return stages[stages["segment"] == POOLED].set_index("stage")


def _stages_table(stages: pd.DataFrame, truth: Scenario) -> str:
    """The fit report's pooled stage rows beside the truth."""
    lines = [
        "| stage | entered | moved on (95% CI) | truth | median days (95% CI) | truth | "
        "fitted days | CRM weight |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in _pooled(stages).iterrows():
        spec = truth.sales.stages[name]
        lines.append(
            f"| {name} | {row.entered} | {row.moved_on_share:.3f} ({row.ci_low:.3f}-"
            f"{row.ci_high:.3f}) | {spec.advance_for('smb'):.2f} | {row.km_median_days:.1f} "
            f"({row.median_ci_low:.1f}-{row.median_ci_high:.1f}) | "
            f"{spec.days_for('smb').ppf(0.5):.0f} | {row.family}, median "
            f"{row.fitted_median:.1f} | {row.weight:.3f} |"
        )
    return "\n".join(lines)


def _stage_claims(stages: pd.DataFrame, truth: Scenario) -> list[str]:
    """The claim that every interval of the stage table covers the truth, if broken."""
    broken = []
    for name, row in _pooled(stages).iterrows():
        spec = truth.sales.stages[name]
        if not row.ci_low <= spec.advance_for("smb") <= row.ci_high:
            broken.append(f"the chance of moving on from {name} is covered by its interval")
        if not row.median_ci_low <= spec.days_for("smb").ppf(0.5) <= row.median_ci_high:
            broken.append(f"the median days in {name} are covered by their interval")
    return broken


def _book_text(summary: str) -> str:
    """The fit report's starting-book section."""
    section = summary.split("## starting book\n\n", 1)[1].split("\n\n", 1)[0]
    return _paragraph(section.strip())


def _maven_cohorts(export: Export) -> tuple[pd.Series, pd.Series]:
    """Per month created (as of the real export date): opportunities a week, and the share
    still open (stalled)."""
    cohort = export.cohort
    month = cohort["created"].dt.to_period("M")
    days = pd.Series(pd.date_range(export.start_date, export.last_day)).dt.to_period("M")
    volume = cohort.groupby(month).size() / days.value_counts() * 7
    stalled = (cohort["status"] == "open").groupby(month).mean()
    return volume.sort_index(), stalled.sort_index()


# Rendering.


def _console(commands: list[str], outputs: dict[str, list[str]]) -> str:
    """A terminal session: each command after ``$``, then its output, fenced."""
    lines = ["```"]
    for command in commands:
        lines += [f"$ {command}", *outputs[command]]
    return "\n".join([*lines, "```"])


def _paragraph(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def _truth_text(leads: pd.DataFrame, fit: Calibration) -> str:
    """The truth's MQL -> won share beside what the export shows and what is written."""
    mqls = leads[leads["mql_time"] < FIRST_YEAR_HOURS]
    won = mqls["won_time"].notna()
    by_source = won.groupby(mqls["source"].astype(str), observed=True).mean()
    sources = ", ".join(f"{source} {share:.1%}" for source, share in by_source.items())
    cycle = fit.fitted.cycles[POOLED]
    low, high = cycle.win_ci
    written = fit.scenario.sales.cycle_days
    distribution = next(iter(written.values())) if isinstance(written, dict) else written
    return _paragraph(
        f"The MQLs of the first year that the truth scenario wins within its two years: "
        f"{won.mean():.1%} ({sources}); the export, cut at one year, shows "
        f"{cycle.win_rate:.1%} (95% CI {low * 100:.1f}-{high:.1%}) and a median of "
        f"{cycle.median_days:.0f} days to win, which `mql.yaml` writes as a "
        f"{cycle.time.family} cycle with a median of {distribution.ppf(0.5):.0f} days."
    )


def _month(period: pd.Period) -> str:
    return period.strftime("%B")


def _share_range(shares: pd.Series) -> str:
    low, high = round(shares.min() * 100), round(shares.max() * 100)
    return f"{low}%" if low == high else f"{low}-{high}%"


def _reading_text(
    hold_out: dict[str, Result],
    whole: dict[str, Result],
    volume: pd.Series,
    stalled: pd.Series,
) -> str:
    """What the hold-out and the whole-period check say, with the figures they rest on."""
    cut = pd.Period(HOLD_OUT_CUT, "M")
    fitted, last_two = volume[volume.index <= cut], volume.index[-2:]
    seen, later = stalled.loc[cut - 1 : cut], stalled[stalled.index > cut]
    won_ks, lost_ks = hold_out["cycle days (won) KS"], hold_out["cycle days (lost) KS"]
    conversion = hold_out["conversion opportunity -> won"].numbers()[0]
    opportunities = whole["opportunities per week"].observed
    win_rate = whole["win rate"].numbers()[0]
    whole_conversion = whole["conversion opportunity -> won"].numbers()[0]
    drop = " and ".join(f"{volume[m]:.0f} in {_month(m)}" for m in last_two)
    return _paragraph(
        "What it says: the win rate among closed deals carries over; the volume does not "
        f"(the engagements drop from about {round(volume.iloc[:-2].median(), -1):.0f} "
        f"a week to {drop}, which a flat rate fitted on {_month(fitted.index[0])} to "
        f"{_month(cut)} cannot know); more of the late cohorts close ({conversion:.0%} end "
        f"won, above the simulated range: the fit saw the {_month(seen.index[0])} and "
        f"{_month(seen.index[1])} cohorts, {_share_range(seen)} of which stall, against "
        f"{_share_range(later)} of the {_month(later.index[0])} to {_month(later.index[-1])} "
        f"ones); and the cycles differ from the fit's (median days to win "
        f"{won_ks.observed} observed against {won_ks.numbers()[1]:.4g} simulated, to lose "
        f"{lost_ks.observed} against {lost_ks.numbers()[1]:.4g}). The whole-period check "
        "(`funnelsim check-fit` on a scenario calibrated from the full export) reads ok for "
        f"opportunities per week ({opportunities} observed), win rate ({win_rate:.3f}) and "
        f"conversion to won ({whole_conversion:.3f}), and outside for won revenue in "
        "2017Q1-Q3: a non-stationary export seen through a stationary scenario."
    )


def _broken_claims(
    hold_out: dict[str, Result],
    whole: dict[str, Result],
    volume: pd.Series,
    stalled: pd.Series,
) -> list[str]:
    """The hold-out reading's claims that this rerun does not bear out."""
    cut = pd.Period(HOLD_OUT_CUT, "M")
    opportunities = hold_out["opportunities per week"]
    conversion = hold_out["conversion opportunity -> won"]

    def outside(result: Result, side: str) -> bool:
        observed, low, high = result.numbers()
        return result.verdict == "outside" and (
            observed < low if side == "below" else high < observed
        )

    claims = {
        "the hold-out's win rate carries over (ok)": hold_out["win rate"].verdict == "ok",
        "the hold-out's volume does not (opportunities per week outside, below)": outside(
            opportunities, "below"
        ),
        "the engagements of the last two months drop below the earlier ones": (
            volume.iloc[-2:].max() < volume.iloc[:-2].min()
        ),
        "more of the late cohorts close (conversion to won outside, above)": outside(
            conversion, "above"
        ),
        "the cohorts the fit saw last stall more than the later ones": (
            stalled.loc[cut - 1 : cut].min() > stalled[stalled.index > cut].max()
        ),
        "the hold-out's cycles differ (won and lost KS not ok)": all(
            hold_out[f"cycle days ({side}) KS"].verdict in {"close", "differs"}
            for side in ("won", "lost")
        ),
        "the whole-period check reads ok for opportunities per week, win rate and conversion": all(
            whole[q].verdict == "ok"
            for q in ("opportunities per week", "win rate", "conversion opportunity -> won")
        ),
        "the whole-period check reads outside for won revenue in 2017Q1-Q3": all(
            whole[f"won revenue 2017Q{q}"].verdict == "outside" for q in (1, 2, 3)
        ),
    }
    return [claim for claim, holds in claims.items() if not holds]


# Comparing with the page and writing it.


def documented() -> dict[str, str | None]:
    """The page's blocks as they stand, by name (None for a missing block)."""
    page = PAGE.read_text(encoding="utf-8")
    return {name: _figures_tool().read_block(page, name) for name in BLOCKS}


def drifted(page: dict[str, str | None], fresh: Fresh) -> list[str]:
    """Where the page's blocks differ from a rerun (check-fit's simulated ranges apart),
    and the page's claims the rerun no longer bears out."""
    problems = [f"the text says {claim}; the rerun does not" for claim in fresh.broken]
    for name, rendered in fresh.blocks.items():
        quoted = page.get(name)
        if quoted is None:
            problems.append(f"{name}: no <!-- figures:{name} --> block")
            continue
        old, new = quoted.splitlines(), rendered.splitlines()
        if len(old) != len(new):
            problems.append(f"{name}: {len(old)} lines on the page, {len(new)} rerun")
            continue
        problems += [f"{name}: {p}" for a, b in zip(old, new, strict=True) if (p := _differs(a, b))]
    return problems


def _differs(quoted: str, rerun: str) -> str | None:
    """How one line of the page differs from its rerun, or None."""
    old, new = parse_result(quoted), parse_result(rerun)
    if old is None or new is None:
        return None if quoted == rerun else f"{quoted!r} is now {rerun!r}"
    if old.quantity != new.quantity or old.observed != new.observed:
        return f"{quoted!r} is now {rerun!r}"
    if (new.quantity in ROBUST or "-" in (old.verdict, new.verdict)) and (
        old.verdict != new.verdict
    ):
        return f"{new.quantity}: verdict {old.verdict!r} is now {new.verdict!r}"
    return None


def write(fresh: Fresh) -> None:
    """Rewrite the page's blocks with a rerun's rendering."""
    tool = _figures_tool()
    page = PAGE.read_text(encoding="utf-8")
    for name, content in fresh.blocks.items():
        page = tool.replace_block(page, name, content, PAGE)
    PAGE.write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """--write: rerun and rewrite the page's blocks; --check: report where it drifted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rerun and rewrite the page")
    mode.add_argument("--check", action="store_true", help="exit 1 if the page drifted")
    args = parser.parse_args(argv)
    fresh = compute()
    if args.write:
        if fresh.broken:
            for claim in fresh.broken:
                print(f"the text says {claim}; the rerun does not", file=sys.stderr)
            print(
                f"revise that text in {Path(__file__).name}, then rerun `{COMMAND}`",
                file=sys.stderr,
            )
            return 1
        write(fresh)
        print(f"rewrote {len(fresh.blocks)} blocks in {PAGE.relative_to(ROOT)}")
        return 0
    problems = drifted(documented(), fresh)
    for problem in problems:
        print(problem)
    if problems:
        print(f"fix: run `{COMMAND}` and commit docs/calibration.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
