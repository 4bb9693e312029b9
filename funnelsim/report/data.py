"""What charts and the HTML report draw from: one run's tables, from memory or a results directory.

:class:`ReportData` holds a run's summaries (always) and its per-replication ledgers (when
they were kept). It is built from a :class:`~funnelsim.results.Results` or from a results
directory written by :mod:`funnelsim.output`; the Parquet ledger is turned back into
:class:`~funnelsim.engine.ledger.Ledger` objects so the same analysis functions run on
both. The helpers below reduce ledgers to the tidy tables the charts take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.analysis._common import durations, observed
from funnelsim.analysis.funnel import STAGES, stage_masks
from funnelsim.analysis.leakage import attributed_leakage
from funnelsim.analysis.revenue import pipeline
from funnelsim.analysis.saturation import quarterly_load, saturation, saturation_warnings
from funnelsim.engine.ledger import OUTCOMES, Ledger
from funnelsim.experiment.stats import CONFIDENCE, summarise, t_interval
from funnelsim.report.labels import REASON_LABELS as REASON_LABELS
from funnelsim.results import LEAKAGE_MEASURES, Results
from funnelsim.scenario.loading import ScenarioError, load_scenario
from funnelsim.scenario.models import Scenario

# Headline metric of each funnel stage, and how a reader names it.
FUNNEL_METRICS: tuple[tuple[str, str, str], ...] = (
    ("leads", "leads", "Leads"),
    ("mql", "mqls", "MQLs"),
    ("sql", "sqls", "SQLs"),
    ("opportunity", "opportunities", "Opportunities"),
    ("won", "won_deals", "Won deals"),
    ("active_customer", "active_customers", "Active customers"),
)
SEAM_NAMES: dict[int, str] = {
    1: "marketing → sales",
    2: "sales → finance",
    3: "finance → customer success",
    4: "renewal",
}
OUTCOME_LABELS: dict[str, str] = {
    "active": "active customer",
    "churned": "churned",
    "closed_lost": "closed lost",
    "not_a_fit": "not a fit",
    "in_flight": "in flight",
}
REQUIRED_FILES: tuple[str, ...] = ("summary.json", "scenario.yaml")


class ReportInputError(ValueError):
    """A path given to the report is not a readable results directory."""


@dataclass
class ReportData:
    """A run's summaries, leakage and (optionally) ledgers: what charts and the report show."""

    name: str
    description: str
    currency: str
    horizon_days: int
    seed: int
    n_replications: int
    confidence: float
    summary: pd.DataFrame
    leakage_summary: pd.DataFrame
    leakage: pd.DataFrame | None = None
    ledgers: list[Ledger] | None = None
    scenario: Scenario | None = None
    warnings: list[str] | None = None
    # Monthly results on the calendar, mean and bands over replications (None: not kept).
    timeseries_bands: pd.DataFrame | None = None
    # Quarterly forecasts and actuals per replication (analysis.forecast; None: not kept).
    forecast: pd.DataFrame | None = None

    @classmethod
    def from_results(cls, results: Results) -> ReportData:
        """From an in-memory run (ledgers only when the run kept them)."""
        scenario = results.scenario
        kept = all(rep.ledger is not None for rep in results.replications)
        return cls(
            name=scenario.name,
            description=scenario.description or "",
            currency=scenario.currency,
            horizon_days=scenario.horizon_days,
            seed=results.seed,
            n_replications=results.n_replications,
            confidence=results.confidence,
            summary=results.summary(),
            leakage_summary=results.leakage_summary(),
            leakage=results.leakage(),
            ledgers=[rep.ledger for rep in results.replications] if kept else None,
            scenario=scenario,
            warnings=results.warnings(),
            timeseries_bands=results.timeseries_bands() if kept else None,
            forecast=results.forecast() if kept else None,
        )

    @classmethod
    def from_directory(cls, path: str | Path) -> ReportData:
        """From a results directory written by ``funnelsim run`` (see funnelsim.output)."""
        folder = Path(path)
        if not folder.exists():
            raise ReportInputError(f"{folder}: no such results directory")
        if not folder.is_dir():
            raise ReportInputError(f"{folder}: not a directory")
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise ReportInputError(
                f"{folder}: not a results directory (missing {', '.join(missing)})"
            )
        try:
            document = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            summary = _frame(document["headline"], ["metric", "unit"])
            leakage_summary = _frame(document["leakage"], ["seam", "reason", "measure"])
            scenario = load_scenario(folder / "scenario.yaml")
            ledgers = _read_ledgers(folder, scenario)
            bands_file = folder / "timeseries_bands.csv"
            bands = pd.read_csv(bands_file) if bands_file.is_file() else None
            forecast_file = folder / "forecast.csv"
            forecast = pd.read_csv(forecast_file) if forecast_file.is_file() else None
        except ScenarioError as exc:
            raise ReportInputError(f"{folder}: scenario.yaml: {exc}") from exc
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise ReportInputError(f"{folder}: unreadable results ({exc})") from exc
        leakage = None
        if ledgers is not None:
            frames = []
            for index, ledger in enumerate(ledgers):
                frame = attributed_leakage(ledger, scenario)
                frame.insert(0, "replication", index)
                frames.append(frame)
            leakage = pd.concat(frames, ignore_index=True)
        return cls(
            name=str(document.get("scenario", scenario.name)),
            description=str(document.get("description") or ""),
            currency=str(document.get("currency", scenario.currency)),
            horizon_days=int(document.get("horizon_days", scenario.horizon_days)),
            seed=int(document.get("seed", 0)),
            n_replications=int(document.get("replications", 1)),
            confidence=float(document.get("confidence", CONFIDENCE)),
            summary=summary,
            leakage_summary=leakage_summary,
            leakage=leakage,
            ledgers=ledgers,
            scenario=scenario,
            timeseries_bands=bands,
            forecast=forecast,
        )

    def metric(self, name: str) -> tuple[float, float, float]:
        """A headline metric's mean and interval (NaN when absent)."""
        rows = self.summary[self.summary["metric"] == name]
        if rows.empty:
            return np.nan, np.nan, np.nan
        row = rows.iloc[0]
        return _num(row["mean"]), _num(row["ci_low"]), _num(row["ci_high"])

    def unit(self, name: str) -> str:
        """A headline metric's unit ('' when absent)."""
        rows = self.summary[self.summary["metric"] == name]
        return "" if rows.empty else str(rows.iloc[0]["unit"])

    def saturation_warnings(self) -> list[str]:
        """Saturated teams, one line each: from the run, else from the kept ledgers."""
        if self.warnings is not None:
            return self.warnings
        if not self.ledgers or self.scenario is None:
            return []
        load = pd.concat([quarterly_load(ledger) for ledger in self.ledgers], ignore_index=True)
        return saturation_warnings(saturation(load), self.scenario)

    def origins(self, by: str) -> pd.DataFrame:
        """Per source or segment: leads, won deals, new ARR and conversion with intervals
        (``Results.by_source()``), from the kept ledgers."""
        if self.ledgers is None or self.scenario is None:
            raise ValueError("this run kept no ledgers; run with keep_ledgers=True")
        from funnelsim.analysis.origins import origin_summary, origins

        frames = []
        for index, ledger in enumerate(self.ledgers):
            frame = origins(ledger, self.scenario, by)  # type: ignore[arg-type]
            frame.insert(0, "replication", index)
            frames.append(frame)
        stacked = pd.concat(frames, ignore_index=True)
        return origin_summary(stacked, self.scenario, by, self.confidence)  # type: ignore[arg-type]

    @property
    def team_levels(self) -> pd.DataFrame | None:
        """Weekly team levels of every replication, with a ``replication`` column."""
        if self.ledgers is None:
            return None
        frames = []
        for index, ledger in enumerate(self.ledgers):
            # Results.team_levels may have added a replication column to the ledger's frame.
            frame = ledger.team_levels.drop(columns="replication", errors="ignore")
            frame.insert(0, "replication", index)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def funnel_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Funnel stages from the headline summary: stage, label, mean, ci_low, ci_high, rate.

    ``rate`` is the stage's mean over the previous stage's mean (NaN for the first stage
    or after an empty stage).
    """
    indexed = summary.set_index("metric")
    rows = []
    previous = np.nan
    for stage, metric, label in FUNNEL_METRICS:
        if metric not in indexed.index:
            continue
        row = indexed.loc[metric]
        mean = _num(row["mean"])
        rate = mean / previous if previous and np.isfinite(previous) else np.nan
        rows.append((stage, label, mean, _num(row["ci_low"]), _num(row["ci_high"]), rate))
        previous = mean
    return pd.DataFrame(rows, columns=["stage", "label", "mean", "ci_low", "ci_high", "rate"])


def seam_leakage(leakage: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per seam and measure, the per-replication sum over reasons: mean and interval."""
    per_rep = leakage.groupby(["replication", "seam"], sort=True)[list(LEAKAGE_MEASURES)].sum()
    long = per_rep.reset_index().melt(
        id_vars=["replication", "seam"],
        value_vars=list(LEAKAGE_MEASURES),
        var_name="measure",
        value_name="value",
    )
    return summarise(long, ["seam", "measure"], "value", confidence)


def total_leakage(leakage: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per measure, the per-replication sum over every seam and reason: mean and interval."""
    per_rep = leakage.groupby("replication", sort=True)[list(LEAKAGE_MEASURES)].sum()
    rows = []
    for measure in LEAKAGE_MEASURES:
        mean, low, high = t_interval(per_rep[measure].to_numpy(), confidence)
        rows.append({"measure": measure, "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def flow_table(ledgers: list[Ledger]) -> pd.DataFrame:
    """Leads by the last funnel stage they reached and their outcome, mean per replication.

    Columns stage (the last of ``STAGES`` reached, stages taken as nested), outcome (a
    reader's label: 'lost at seam N' for seam losses) and leads (mean over replications).
    """
    counts: dict[tuple[str, str], float] = {}
    for ledger in ledgers:
        masks = stage_masks(ledger)
        reached = np.ones(ledger.n_leads, dtype=bool)
        last = np.zeros(ledger.n_leads, dtype=np.int64)
        for position, stage in enumerate(STAGES[1:], start=1):
            reached &= masks[stage]
            last[reached] = position
        labels = outcome_labels(ledger)
        frame = pd.DataFrame({"stage": last, "outcome": labels})
        for (stage, outcome), n in frame.value_counts().items():
            key = (STAGES[int(stage)], str(outcome))
            counts[key] = counts.get(key, 0.0) + float(n)
    rows = [(stage, outcome, n / len(ledgers)) for (stage, outcome), n in counts.items()]
    table = pd.DataFrame(rows, columns=["stage", "outcome", "leads"])
    order = {stage: i for i, stage in enumerate(STAGES)}
    table["_order"] = table["stage"].map(order)
    table = table.sort_values(["_order", "outcome"], kind="stable").drop(columns="_order")
    return table.reset_index(drop=True)


def outcome_labels(ledger: Ledger) -> np.ndarray:
    """Each lead's outcome as a reader's label ('lost at seam N' for a seam loss)."""
    c = ledger.columns
    names = np.array([OUTCOME_LABELS.get(name, name) for name in OUTCOMES], dtype=object)
    labels = names[c["outcome"]]
    lost = c["outcome"] == OUTCOMES.index("lost_at_seam")
    seam_labels = np.array([f"lost at seam {s}" for s in range(5)], dtype=object)
    labels[lost] = seam_labels[np.clip(c["seam"][lost], 0, 4)]
    return labels


def response_hours(ledgers: list[Ledger]) -> pd.DataFrame:
    """Hours from MQL to first response of every answered lead: replication, hours."""
    frames = []
    for index, ledger in enumerate(ledgers):
        hours = durations(observed(ledger, "mql_time"), observed(ledger, "first_response"))
        frames.append(pd.DataFrame({"replication": index, "hours": hours}))
    return pd.concat(frames, ignore_index=True)


def pipeline_table(ledgers: list[Ledger]) -> pd.DataFrame:
    """The quarterly pipeline (analysis.revenue.pipeline) of every replication, stacked."""
    frames = []
    for index, ledger in enumerate(ledgers):
        frame = pipeline(ledger)
        frame.insert(0, "replication", index)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def team_colors(scenario: Scenario | None, teams: list[str]) -> dict[str, str]:
    """A colour per team: the colour of the seam it serves, so teams match the leakage."""
    from funnelsim.report.charts import NEUTRAL_COLORS, SEAM_COLORS, TEAM_FALLBACK_COLORS

    colors: dict[str, str] = {}
    if scenario is not None:
        serves = {
            scenario.seam1.team: SEAM_COLORS[1],
            scenario.seam2.team: SEAM_COLORS[2],
            scenario.seam3.team: SEAM_COLORS[3],
            scenario.sales.team: NEUTRAL_COLORS["sales"],
        }
        if scenario.seam1.fallback_team is not None:
            serves.setdefault(scenario.seam1.fallback_team, NEUTRAL_COLORS["fallback"])
        colors.update({team: color for team, color in serves.items() if team in teams})
    spare = iter(TEAM_FALLBACK_COLORS)
    for team in teams:
        if team not in colors:
            colors[team] = next(spare, "#7f7f7f")
    return colors


def _read_ledgers(folder: Path, scenario: Scenario) -> list[Ledger] | None:
    """Per-replication ledgers rebuilt from the directory's Parquet files (None if absent)."""
    files = [folder / f"{name}.parquet" for name in ("ledger", "terms", "team_levels")]
    if not all(f.is_file() for f in files):
        return None
    leads, terms, levels = (pd.read_parquet(f) for f in files)
    stages_file = folder / "stages.parquet"
    stages = pd.read_parquet(stages_file) if stages_file.is_file() else None
    ledgers = []
    for index in sorted(leads["replication"].unique()):
        mine = leads[leads["replication"] == index].sort_values("lead_id")
        ledger = _ledger(
            mine,
            terms[terms["replication"] == index].drop(columns="replication"),
            levels[levels["replication"] == index].drop(columns="replication"),
            scenario,
        )
        if stages is not None:
            ledger.stages = stages[stages["replication"] == index].drop(columns="replication")
            ledger.stages = ledger.stages.reset_index(drop=True)
        ledger.stage_names = scenario.stage_names
        ledgers.append(ledger)
    return ledgers


def _ledger(
    leads: pd.DataFrame, terms: pd.DataFrame, levels: pd.DataFrame, scenario: Scenario
) -> Ledger:
    """One replication's Ledger from its tidy frames (the inverse of ``Ledger.leads``)."""
    columns: dict[str, np.ndarray] = {}
    reasons = tuple(str(name) for name in leads["loss_reason"].cat.categories)
    for name in leads.columns:
        if name in {"replication", "lead_id"}:
            continue
        values = leads[name]
        if name == "loss_reason":
            columns[name] = values.cat.codes.to_numpy().astype(np.int32) + 1
        elif name in {"source", "segment", "outcome"}:
            columns[name] = values.cat.codes.to_numpy().astype(np.int32)
        else:
            columns[name] = values.to_numpy()
    return Ledger(
        columns=columns,
        terms=terms.reset_index(drop=True),
        team_levels=levels.reset_index(drop=True),
        source_names=tuple(str(n) for n in leads["source"].cat.categories),
        segment_names=tuple(str(n) for n in leads["segment"].cat.categories),
        reason_names=("", *reasons),
        meta={"horizon_hours": scenario.horizon_hours, "currency": scenario.currency},
    )


def _frame(records: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """Summary records from JSON as a DataFrame (None back to NaN)."""
    frame = pd.DataFrame.from_records(records)
    for column in ("mean", "ci_low", "ci_high"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    missing = [key for key in [*keys, "mean"] if key not in frame]
    if missing:
        raise ValueError(f"summary.json: missing {missing}")
    return frame


def _num(value: Any) -> float:
    """A float, NaN for None."""
    return np.nan if value is None else float(value)
