"""Installed from a wheel, funnelsim works from any directory: its scenarios ship inside it.

The wheel is built from a clean copy of the sources and installed (without dependencies)
into a fresh venv that sees the test venv's packages through a ``.pth`` line, so nothing
is downloaded; the ``funnelsim`` under test is the wheel's, never this checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 600  # seconds: a bound on a stuck command, never a timing assertion

pytestmark = pytest.mark.slow


def _call(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv with funnelsim installed from a freshly built wheel."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    for name in ("funnelsim", "scenarios"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip"]
    _call([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, source], base)
    (wheel,) = wheels.glob("funnelsim-*.whl")
    venv = base / "venv"
    _call([sys.executable, "-m", "venv", "--without-pip", venv], base)
    python = venv / "bin" / "python"
    _call([*pip, "--python", python, "install", "-q", "--no-deps", wheel], base)
    purelib = Path(
        _call(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base
        ).stdout.strip()
    )
    (purelib / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_wheel_carries_the_scenarios_and_is_the_one_imported(
    installed: Path, empty: Path
) -> None:
    script = "import funnelsim; print(funnelsim.__file__)"
    where = _call([installed / "python", "-c", script], empty)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)
    listing = _call([installed / "funnelsim", "scenarios"], empty).stdout
    names = {line.split()[0] for line in listing.splitlines()}
    top_level = {path.stem for path in (ROOT / "scenarios").glob("*.yaml")}
    assert names == top_level and "baseline" in names


def test_run_from_an_empty_directory(installed: Path, empty: Path) -> None:
    result = _call([installed / "funnelsim", "run", "--reps", "2"], empty)
    assert "Results written to" in result.stdout
    (folder,) = (empty / "results").iterdir()
    assert (folder / "summary.csv").is_file()


def test_a_copied_what_if_extends_the_bundled_baseline(installed: Path, empty: Path) -> None:
    _call([installed / "funnelsim", "init", "mine.yaml", "--from", "sla_1h_fallback"], empty)
    assert "extends: baseline.yaml" in (empty / "mine.yaml").read_text()
    checked = _call([installed / "funnelsim", "validate", "mine.yaml"], empty).stdout
    assert "valid (saas-80-sla-1h-fallback" in checked
