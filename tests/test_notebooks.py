"""Every notebook executes from top to bottom (nbclient) without a failing cell, and every
chart cell shows its chart exactly once (an ``image/png`` output), as a reader sees it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# A chart cell calls a chart: results.plot.x(), table.plot(), or a charts.x() function.
CHART_CALL = re.compile(r"\.plot\b|\bcharts\.\w+\(")


def test_there_are_notebooks() -> None:
    names = {path.stem for path in NOTEBOOKS}
    assert {"quickstart", "where_revenue_leaks", "sla_and_routing_what_ifs"} <= names


def _images(cell: dict) -> int:
    return sum("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_each_chart_once(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.get("outputs") for cell in code), (
        f"{path.name} has outputs committed; strip them"
    )
    assert not any("matplotlib.use" in cell.source for cell in code), "charts would not show"
    # The kernel picks its own (inline) backend, as for a reader; never a headless override.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    charts = [cell for cell in code if CHART_CALL.search(cell.source)]
    assert charts, f"{path.name} has no chart cell"
    for cell in code:
        outputs = cell.get("outputs", [])
        assert not [o for o in outputs if o.get("output_type") == "error"], cell.source
        expected = 1 if cell in charts else 0
        assert _images(cell) == expected, f"{_images(cell)} images from:\n{cell.source}"
        bare = [o for o in outputs if "image/png" not in o.get("data", {})]
        text = "".join(str(o.get("data", {}).get("text/plain", "")) for o in bare)
        assert "<Figure size" not in text, f"a figure shown as text:\n{cell.source}"
