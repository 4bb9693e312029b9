"""Benchmark ``funnelsim calibrate`` on large synthetic opportunity exports.

Run ``python benchmarks/calibrate_bench.py`` (default sizes 200,000 and 2,000,000 rows;
``--rows 50000`` for a quick run). Each export is generated into a temporary folder
(``funnelsim.calibrate.synthetic``), then calibrated by the CLI in a fresh subprocess, so
the wall time and peak RSS reported are those of one ``calibrate`` run. The documented
bound (docs/calibration.md) is a 2M-row export within 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from funnelsim.calibrate.synthetic import SYNTHETIC_MAPPING, write_synthetic_export

SIZES = (200_000, 2_000_000)


def calibrate_once(rows: int, folder: Path) -> dict[str, float]:
    """Generate a ``rows``-row export and time one ``calibrate`` run on it."""
    export = write_synthetic_export(folder / f"export_{rows}.csv", rows)
    mapping = folder / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(SYNTHETIC_MAPPING))
    command = [
        sys.executable,
        "-c",
        "from funnelsim.cli import main; main()",
        "calibrate",
        str(export),
        "--mapping",
        str(mapping),
        "-o",
        str(folder / f"calibrated_{rows}.yaml"),
        "--force",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"calibrate failed on {rows} rows (status {status})")
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return {
        "rows": rows,
        "export_mb": round(export.stat().st_size / 2**20, 1),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak),
    }


def main() -> None:
    """Parse arguments, run each size and print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            result = calibrate_once(rows, Path(tmp))
            print(
                f"{rows:>10,} rows ({result['export_mb']} MB): {result['wall_s']} s, "
                f"peak RSS {result['peak_rss_mb']} MB",
                flush=True,
            )
            results.append(result)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
