"""Benchmark ``funnelsim explore``: server startup, and one update of the baseline.

Run ``python benchmarks/explore_bench.py`` (``--reps 10 --workers 2`` by default). It
times (1) ``funnelsim explore`` started in a subprocess until its page answers, and (2)
one control change on the bundled baseline (one more SDR, as ``scenarios/extra_sdr.yaml``)
from the change to the first answer (3 replications) and to the refined one (``--reps``),
through the explorer's own code path (``funnelsim.explore.compute``: validation by the
scenario model, then ``funnelsim.api.compare``). Nothing is asserted; numbers are printed
as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

STARTUP_LIMIT = 120.0


def startup_seconds() -> float:
    """Seconds from starting ``funnelsim explore`` until its page answers HTTP 200."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-c", "from funnelsim.cli import main; main()", "explore"]
        command += ["--port", str(port), "--out", folder]
        start = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while time.perf_counter() - start < STARTUP_LIMIT:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                        return time.perf_counter() - start
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.05)
            raise RuntimeError("the explorer did not answer within the limit")
        finally:
            child.terminate()
            child.wait(timeout=30)


def update_seconds(reps: int, workers: int) -> dict[str, float]:
    """Seconds from one control change to the first and to the refined answer."""
    from funnelsim.explore.compute import Base, CancelToken, answers, check
    from funnelsim.explore.levers import base_values, levers_for

    base = Base.load("baseline")
    levers = levers_for(base.scenario)
    start = time.perf_counter()
    values = {**base_values(levers), "teams.sdr.headcount": 5}
    checked = check(base, levers, values)
    timings = {"validate_s": time.perf_counter() - start}
    for answer in answers(base.scenario, checked.option, reps, 0, workers, CancelToken()):
        key = "refined_s" if answer.final else "first_s"
        timings[key] = time.perf_counter() - start
        timings[f"{key[:-2]}_replications"] = answer.replications
        timings[f"{key[:-2]}_net_value"] = answer.row["net_value"]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    result = {
        "cpus": os.cpu_count(),
        "startup_s": startup_seconds(),
        **update_seconds(args.reps, args.workers),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
