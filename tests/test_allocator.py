"""The allocator settings a run makes (glibc's mmap and trim thresholds): what is set,
the opt-out, and that they change no number."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from funnelsim.engine import heap

ROOT = Path(__file__).resolve().parents[1]
LEDGER_DIGEST = """
import hashlib, sys
import funnelsim as fs
from funnelsim.engine import heap
from funnelsim.experiment.variants import with_overrides
scenario = with_overrides(fs.load_scenario(sys.argv[1]), {"horizon_days": 60})
ledger = fs.simulate(scenario, 3)
digest = hashlib.sha256()
for name in sorted(ledger.columns):
    digest.update(name.encode())
    digest.update(ledger.columns[name].tobytes())
digest.update(ledger.terms.to_csv().encode())
print(heap.tune_allocator(), digest.hexdigest())
"""


class FakeLibc:
    """Records mallopt calls; accepts every setting like glibc does."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


@pytest.fixture
def fake_libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    libc = FakeLibc()
    monkeypatch.setattr(heap, "_libc", lambda: libc)
    heap.tune_allocator.cache_clear()
    yield libc
    heap.tune_allocator.cache_clear()


def test_the_thresholds_are_set_once_per_process(fake_libc, monkeypatch) -> None:
    monkeypatch.delenv(heap.TUNE_ENV, raising=False)
    assert heap.tune_allocator() is True
    assert heap.tune_allocator() is True
    assert fake_libc.calls == [
        (heap.M_MMAP_THRESHOLD, 32 * 1024 * 1024),
        (heap.M_TRIM_THRESHOLD, 64 * 1024 * 1024),
    ]


def test_the_environment_variable_leaves_the_allocator_alone(fake_libc, monkeypatch) -> None:
    monkeypatch.setenv(heap.TUNE_ENV, "0")
    assert heap.tune_allocator() is False
    assert fake_libc.calls == []


def test_no_c_library_means_nothing_is_set(monkeypatch) -> None:
    monkeypatch.setattr(heap, "_libc", lambda: None)
    heap.tune_allocator.cache_clear()
    try:
        assert heap.tune_allocator() is False
    finally:
        heap.tune_allocator.cache_clear()


def _ledger_digest(tune: str) -> tuple[str, str]:
    env = {**os.environ, heap.TUNE_ENV: tune}
    out = subprocess.run(
        [sys.executable, "-c", LEDGER_DIGEST, str(ROOT / "scenarios" / "baseline.yaml")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return out[0], out[1]


def test_a_run_gives_the_same_ledger_with_and_without_the_settings() -> None:
    """Two fresh processes, one with the allocator tuned and one without: same bytes."""
    tuned, tuned_digest = _ledger_digest("1")
    plain, plain_digest = _ledger_digest("0")
    assert plain == "False"
    if sys.platform.startswith("linux") and heap._libc() is not None:
        assert tuned == "True"
    assert tuned_digest == plain_digest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_the_c_library_is_found_without_starting_a_process(monkeypatch) -> None:
    """Each new worker looks libc up: from the process's own symbols, not by running
    ``ldconfig`` (a library search starts it in a subprocess)."""

    def no_process(*args, **kwargs):
        raise AssertionError("a subprocess was started to find libc")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    heap._libc.cache_clear()
    try:
        libc = heap._libc()
    finally:
        heap._libc.cache_clear()
    if libc is not None:
        assert hasattr(libc, "malloc_trim")
