"""Where the queued part's time goes, per lead, at one scale: to see what grows with size.

Run ``python benchmarks/flow_profile.py FACTOR [SEED]`` (the factor as in ``bench.py``:
5 ~ 100k leads, 150 ~ 3M, 500 ~ 10M) at two sizes and compare the columns: a cost whose
time per call rises with the size is what makes leads per CPU-second fall. Each callback
is wrapped in a timer, so the times are inclusive (a completion's time holds its stage's
``done`` and the next start) and each call carries the wrapper's own ~0.2 us; the whole
``Flow.run`` is timed unwrapped in the first line. ``heappop`` is SimPy's pop of its event
heap. ``FarEvents`` only appears from 100k leads on (smaller runs schedule plainly), and
items are renumbered in pickup order only from 20k items on. Not part of the benchmark's
figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import simpy.core
from bench import scaled_scenario

from funnelsim.engine import far_events, flow, teams
from funnelsim.engine.heap import tune_allocator
from funnelsim.engine.simulate import simulate

# (class, method names) timed per call.
TIMED = (
    (flow.Flow, ("_arrive_sdr", "_sdr_hold", "_sdr_done", "_to_sales", "_ae_hold", "_ae_done")),
    (teams.Team, ("arrive", "_fill", "_finish", "_finish_per_head", "_finish_pooled")),
    (far_events.FarEvents, ("schedule", "_tick")),
)


def _timed(fn: Callable[..., Any], tally: list[int]) -> Callable[..., Any]:
    """``fn`` adding its nanoseconds and its calls to ``tally``."""
    clock = time.perf_counter_ns

    def wrapper(*args: Any) -> Any:
        start = clock()
        result = fn(*args)
        tally[0] += clock() - start
        tally[1] += 1
        return result

    return wrapper


def profile(factor: int, seed: int) -> tuple[int, float, dict[str, list[int]]]:
    """Leads, ``Flow.run`` CPU seconds (unwrapped) and per-callback tallies of one run."""
    tune_allocator()
    tallies: dict[str, list[int]] = {}
    for cls, names in TIMED:
        for name in names:
            tally = tallies.setdefault(f"{cls.__name__}.{name}", [0, 0])
            setattr(cls, name, _timed(getattr(cls, name), tally))
    simpy.core.heappop = _timed(simpy.core.heappop, tallies.setdefault("heappop", [0, 0]))
    run, cpu = flow.Flow.run, [0.0]

    def timed_run(self: flow.Flow) -> None:
        start = time.process_time()
        run(self)
        cpu[0] = time.process_time() - start

    flow.Flow.run = timed_run  # type: ignore[method-assign]
    ledger = simulate(scaled_scenario(factor), seed)
    return ledger.n_leads, cpu[0], tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("factor", type=int)
    parser.add_argument("seed", type=int, nargs="?", default=1)
    args = parser.parse_args()
    n, run_cpu, tallies = profile(args.factor, args.seed)
    print(f"factor {args.factor}: {n} leads, Flow.run {run_cpu / n * 1e6:.2f} us/lead")
    print(f"{'callback':28s} {'calls/lead':>10s} {'us/call':>8s} {'us/lead':>8s}")
    for name, (ns, calls) in sorted(tallies.items(), key=lambda kv: -kv[1][0]):
        if calls:
            print(f"{name:28s} {calls / n:10.3f} {ns / calls / 1e3:8.3f} {ns / n / 1e3:8.3f}")


if __name__ == "__main__":
    main()
