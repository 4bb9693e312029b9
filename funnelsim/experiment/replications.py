"""Independent replications of one scenario, with seeds spawned from one root seed.

Replication r of root seed s always gets the same seed, whatever the number of
replications, workers or the executor, so results are reproducible bit for bit and two
scenarios run with the same root seed meet the same fate draws (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelsim.engine import Ledger, simulate
from funnelsim.scenario.models import Scenario


@dataclass
class Replication:
    """What one replication sends back: its metrics, and its ledger only if asked."""

    index: int
    seed: int
    headline: pd.DataFrame
    leakage: pd.DataFrame
    ledger: Ledger | None


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Per-replication seeds spawned from the root seed with numpy's SeedSequence."""
    children = np.random.SeedSequence(int(seed)).spawn(int(replications))
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]


def run_replication(
    scenario: Scenario,
    index: int,
    seed: int,
    perfect_seams: tuple[int, ...] = (),
    keep_ledger: bool = True,
) -> Replication:
    """Simulate one replication and reduce it to headline metrics and leakage."""
    from funnelsim.analysis.headline import headline
    from funnelsim.analysis.leakage import attributed_leakage

    ledger = simulate(scenario, seed, perfect_seams=perfect_seams)
    return Replication(
        index=index,
        seed=seed,
        headline=headline(ledger, scenario),
        leakage=attributed_leakage(ledger),
        ledger=ledger if keep_ledger else None,
    )


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    workers: int = 1,
    perfect_seams: Iterable[int] = (),
    keep_ledgers: bool = True,
    on_done: Callable[[Replication], None] | None = None,
) -> list[Replication]:
    """Run replications on ``workers`` local processes; results in replication order."""
    if replications < 1:
        raise ValueError("replications: expected at least 1")
    perfect = tuple(sorted(set(perfect_seams)))
    seeds = replication_seeds(seed, replications)
    jobs = [(scenario, i, s, perfect, keep_ledgers) for i, s in enumerate(seeds)]
    results: list[Replication] = []
    if workers <= 1 or replications == 1:
        for job in jobs:
            results.append(run_replication(*job))
            if on_done:
                on_done(results[-1])
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_replication, *job) for job in jobs]
            for future in futures:
                results.append(future.result())
                if on_done:
                    on_done(results[-1])
    return sorted(results, key=lambda r: r.index)
