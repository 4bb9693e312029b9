"""Measure the constants behind ``funnelsim.budget``: memory per lead, attempt and head.

Run ``python benchmarks/memory_budget.py`` (a minute or two; ``--quick`` for a smoke run).
Each probe runs one replication job (``run_replication``, what a worker runs) in a fresh
subprocess and reports its peak RSS above the RSS after imports and scenario loading,
with the run's leads, MQLs, SimPy events and outbound attempts. Slopes between two sizes
of the same scenario give bytes per lead, per attempt and per head, and (from ``run``
keeping its ledgers and writing the results directory) per lead and replication kept;
SimPy events per MQL come from the baseline run's own counter. The figures printed are
what ``funnelsim/budget.py`` states (rounded up) as its constants.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _probe(kind: str, size: float) -> dict[str, Any]:
    """Run one replication of a probe scenario in this process; measure its peak RSS."""
    from funnelsim.experiment.replications import run_replication
    from funnelsim.experiment.variants import with_overrides
    from funnelsim.scenario.loading import load_scenario

    base = load_scenario(BASELINE)
    if kind == "leads":  # every source's rate times size, teams as they are
        overrides = {
            f"sources.{name}.leads_per_week": source.leads_per_week * size
            for name, source in base.sources.items()
        }
        overrides["horizon_days"] = 365
    elif kind == "attempts":  # an outbound motion whose attempts rarely become leads
        overrides = {
            "horizon_days": 365,
            "sources.outbound": {
                "kind": "outbound",
                "accounts": int(size),
                "attempts_per_week": size / 10,
                "connect_prob": 0.001,
            },
        }
    else:  # "heads": a hiring plan adding size AEs in the first week
        overrides = {
            "horizon_days": 120,
            "teams.ae.plan": [{"date": "2027-01-11", "change": int(size)}],
        }
    if kind == "kept":  # a run keeping every ledger, written as a results directory
        return _kept(with_overrides(base, {"horizon_days": 365}), int(size))
    scenario = with_overrides(base, overrides)
    before = _peak_rss()
    rep = run_replication(scenario, 0, 12345, (), True)
    ledger = rep.ledger
    return {
        "kind": kind,
        "size": size,
        "peak_bytes": _peak_rss() - before,
        "leads": int(ledger.n_leads),
        "mqls": int(ledger.meta["queued_leads"]),
        "events": int(ledger.meta["simpy_events"]),
        "attempts": len(ledger.outbound_attempts),
        "ledger_bytes": int(ledger.columns.stored_bytes()),
    }


def _kept(scenario: Any, reps: int) -> dict[str, Any]:
    """Peak RSS of ``run`` with ledgers kept for ``reps`` replications, then written."""
    import tempfile

    from funnelsim.api import run
    from funnelsim.output import write_results

    before = _peak_rss()
    results = run(scenario, replications=reps, seed=12345)
    with tempfile.TemporaryDirectory() as folder:
        write_results(results, Path(folder) / "out", force=False)
    leads = sum(int(rep.ledger.n_leads) for rep in results.replications)
    return {"kind": "kept", "size": reps, "peak_bytes": _peak_rss() - before, "leads": leads}


def measure(kind: str, size: float) -> dict[str, Any]:
    """One probe in a fresh subprocess, so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--probe", kind, str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def slope(small: dict[str, Any], large: dict[str, Any], per: str) -> float:
    """Extra peak bytes per extra unit of ``per`` between two probes."""
    return (large["peak_bytes"] - small["peak_bytes"]) / (large[per] - small[per])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(_probe(args.probe[0], float(args.probe[1]))))
        return
    scale = 0.1 if args.quick else 1.0
    leads = [measure("leads", s) for s in (1, 1 + 40 * scale)]
    attempts = [measure("attempts", s) for s in (1e4, 1e4 + 2e6 * scale)]
    # A team's headcount stays within the scenario limit of 10,000.
    heads = [measure("heads", s) for s in (10, 10 + 9000 * scale)]
    kept = [measure("kept", s) for s in (1, 1 + max(1, round(8 * scale)))]
    for row in leads + attempts + heads + kept:
        print(json.dumps(row))
    base = leads[0]
    print(f"bytes per lead:    {slope(*leads, 'leads'):.0f}")
    print(f"ledger bytes/lead: {base['ledger_bytes'] / base['leads']:.0f}")
    print(f"bytes per attempt: {slope(*attempts, 'attempts'):.0f}")
    print(f"bytes per head:    {slope(*heads, 'size'):.0f}")
    print(f"kept bytes/lead:   {slope(*kept, 'leads'):.0f}")
    print(f"events per MQL:    {base['events'] / base['mqls']:.2f}")
    print(f"MQLs per lead:     {base['mqls'] / base['leads']:.3f}")


if __name__ == "__main__":
    main()
