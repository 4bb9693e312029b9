"""Bounded work: size estimates, refusals above the limits, --workers, Dask timeouts."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import funnelsim as fs
from funnelsim import budget
from funnelsim.budget import TooLargeError, estimate
from funnelsim.cli import main
from funnelsim.engine import simulate
from funnelsim.experiment import executors, replications
from funnelsim.experiment.plans import Hire
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.loading import load_scenario, scenario_from_dict
from funnelsim.scenario.models import OutboundSource

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TINY = "name: tiny\nhorizon_days: 14\nsources:\n  inbound: {leads_per_week: 20}\n"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def base60(tmp_path: Path) -> Path:
    path = tmp_path / "base60.yaml"
    path.write_text(f"extends: {BASELINE}\nhorizon_days: 60\n")
    return path


@pytest.fixture
def never_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record (and fail) any attempt to spawn replication seeds, i.e. to start running."""
    calls: list[int] = []

    def spawned(seed: int, count: int) -> list[int]:
        calls.append(count)
        raise AssertionError("replications were started")

    monkeypatch.setattr(replications, "replication_seeds", spawned)
    return calls


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


# The estimate against real runs.


def _scaled(scenario: fs.Scenario, factor: float, days: int) -> fs.Scenario:
    rates = {
        f"sources.{name}.leads_per_week": source.leads_per_week * factor
        for name, source in scenario.sources.items()
        if not isinstance(source, OutboundSource)
    }
    return with_overrides(scenario, {"horizon_days": days, **rates})


@pytest.mark.parametrize(
    ("name", "factor", "days"),
    [("baseline.yaml", 1, 60), ("baseline.yaml", 8, 60), ("outbound_motion.yaml", 1, 120)],
)
def test_estimate_is_within_25_percent_of_a_real_run(name: str, factor: float, days: int) -> None:
    scenario = _scaled(load_scenario(ROOT / "scenarios" / name), factor, days)
    guess = estimate(scenario)
    ledger = simulate(scenario, seed=11)
    assert 0.75 <= guess.leads / ledger.n_leads <= 1.25, (guess.leads, ledger.n_leads)
    mqls = ledger.meta["queued_leads"]
    assert 0.75 <= guess.mqls / mqls <= 1.25, (guess.mqls, mqls)
    assert guess.peak_bytes > budget.PROCESS_BYTES + budget.LEAD_BYTES * 0.75 * ledger.n_leads


def test_estimate_grows_with_scale_hires_and_outbound_markets() -> None:
    base = load_scenario(BASELINE)
    small, large = estimate(base), estimate(_scaled(base, 10, base.horizon_days))
    book = base.book.size if base.book is not None else 0  # the starting book does not scale
    assert book > 0
    assert large.leads - book == pytest.approx(10 * (small.leads - book))
    assert large.peak_bytes > small.peak_bytes
    planned = with_overrides(base, {"teams.ae.plan": [{"date": "2027-02-01", "change": 50}]})
    assert estimate(planned).heads == small.heads + 50
    assert estimate(planned).heads_by_team["ae"] == base.teams["ae"].headcount + 50
    market = with_overrides(
        base,
        {
            "sources.ob": {
                "kind": "outbound",
                "accounts": 1000,
                "attempts_per_week": 700,
                "connect_prob": 0.5,
            }
        },
    )
    outbound = estimate(market)
    assert outbound.outbound_accounts == 1000
    assert outbound.outbound_attempts == pytest.approx(700 * base.horizon_days / 7)
    assert outbound.leads_by_source["ob"] == 1000  # at most one lead per account


# Refusals: one line, exit 2, nothing started.

SOFT = "--allow-large"
HARD = "beyond what --allow-large lifts"


@pytest.mark.parametrize(
    ("args", "expect", "hard"),
    [
        (
            ["run", "{tiny}", "--reps", "1000000000", "--no-ledger"],
            "1,000,000,000 replications",
            True,
        ),
        (
            ["run", "{tiny}", "--reps", "20000", "--no-ledger"],
            "20,000 replications (limit 10,000)",
            False,
        ),
        (
            [
                "run",
                "{base60}",
                "--set",
                "horizon_days=730",
                "--set",
                "sources.paid_search.leads_per_week=100000",
                "--no-ledger",
            ],
            "leads per replication (limit 5,000,000; most from sources.paid_search)",
            False,
        ),
        (
            ["run", "{base60}", "--set", "sources.paid_search.leads_per_week=900000"],
            "leads per replication (limit 5,000,000",
            False,
        ),
        (
            [
                "run",
                "{base60}",
                "--set",
                "horizon_days=730",
                "--set",
                "sources.ob={kind: outbound, accounts: 1000, attempts_per_week: 1000000, "
                "connect_prob: 0.1}",
            ],
            "GB peak memory in one process (limit 4.0 GB",
            False,
        ),
        (
            [
                "run",
                "{base60}",
                "--set",
                "horizon_days=3650",
                "--set",
                "sources.paid_search.leads_per_week=900000",
            ],
            "(hard limit 256 GB)",
            True,
        ),
        (
            ["plan", "{base60}", "--reps", "2", "--hire", "ae=+2000@2027-01-20"],
            "--hire ae=+2000@2027-01-20 changes 2,000 heads on 2027-01-20 in one step "
            "(limit 1,000)",
            False,
        ),
        (
            [
                "compare",
                "{tiny}",
                "--set",
                "teams.ae.headcount=6000",
                "--set",
                "teams.sdr.headcount=6000",
                "--reps",
                "2",
            ],
            "heads (limit 10,000",
            False,
        ),
        (["leaks", "{tiny}", "--reps", "20000"], "20,000 replications", False),
        (
            [
                "sweep",
                "{base60}",
                "--grid",
                "sources.paid_search.leads_per_week=85,900000",
                "--reps",
                "2",
            ],
            "leads per replication",
            False,
        ),
        (["sensitivity", "{tiny}", "--reps", "1000000000"], "1,000,000,000 replications", True),
    ],
)
def test_too_large_is_refused_in_one_line_before_anything_runs(
    args: list[str], expect: str, hard: bool, tiny: Path, base60: Path, never_run: list[int]
) -> None:
    paths = {"tiny": str(tiny), "base60": str(base60)}
    argv = [arg.format(**paths) if arg.startswith("{") else arg for arg in args]
    out = tiny.parent / "out"
    result = CliRunner().invoke(main, [*argv, *(["--out", str(out)] if argv[0] == "run" else [])])
    line = _one_line_error(result)
    assert line.startswith("error: too large: "), line
    assert expect in line, line
    assert (HARD in line) == hard and (SOFT in line), line
    assert never_run == []
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["run", "{base60}", "--set", "teams.sdr.headcount=1000000000"], "teams.sdr.headcount"),
        (
            [
                "run",
                "{base60}",
                "--set",
                "sources.ob={kind: outbound, accounts: 1000000000, attempts_per_week: 10, "
                "connect_prob: 0.1}",
            ],
            "sources.ob.accounts",
        ),
        (
            ["plan", "{base60}", "--reps", "2", "--hire", "ae=+999999999999@2027-01-20"],
            "teams.ae.plan.0.change",
        ),
        (["compare", "{tiny}", "--set", "teams.ae.headcount=20000", "--reps", "2"], "headcount"),
    ],
)
def test_sizes_beyond_the_sanity_caps_name_the_field(
    args: list[str], field: str, tiny: Path, base60: Path, never_run: list[int]
) -> None:
    paths = {"tiny": str(tiny), "base60": str(base60)}
    argv = [arg.format(**paths) if arg.startswith("{") else arg for arg in args]
    line = _one_line_error(CliRunner().invoke(main, argv))
    assert field in line and "less than or equal to" in line, line
    assert never_run == []


def test_allow_large_lifts_a_soft_limit_but_not_a_hard_one(tiny: Path) -> None:
    runner = CliRunner()
    hire = ["plan", str(tiny), "--reps", "2", "--hire", "ae=+1001@2027-01-08", "--json"]
    refused = runner.invoke(main, hire)
    assert "limit 1,000" in _one_line_error(refused)
    allowed = runner.invoke(main, [*hire, "--allow-large"])
    assert allowed.exit_code == 0, allowed.output
    assert '"metric"' in allowed.stdout
    hard = runner.invoke(main, ["run", str(tiny), "--reps", "2000000", "--allow-large"])
    assert "hard limit 1,000,000" in _one_line_error(hard)


def test_the_api_refuses_with_a_clear_exception(never_run: list[int]) -> None:
    scenario = scenario_from_dict({"name": "tiny", "horizon_days": 14})
    with pytest.raises(TooLargeError, match=r"20,000 replications \(limit 10,000\)"):
        fs.run(scenario, replications=20_000)
    with pytest.raises(TooLargeError, match="hard limit"):
        fs.compare(scenario, scenario, replications=10**9, allow_large=True)
    with pytest.raises(TooLargeError, match="--hire ae=\\+5000"):
        fs.api.plan(scenario, [Hire("ae", 5000, scenario.start_date)], replications=2)
    longer = scenario_from_dict({"name": "tiny", "horizon_days": 60})
    with pytest.raises(TooLargeError, match="leads per replication"):
        fs.sweep(longer, {"sources.inbound.leads_per_week": [100, 9e5]}, replications=2)
    with pytest.raises(TooLargeError, match="replications"):
        fs.leaks(scenario, replications=10**7)
    with pytest.raises(TooLargeError, match="replications"):
        fs.sensitivity(scenario, replications=10**7)
    assert never_run == []
    assert issubclass(TooLargeError, fs.ScenarioError)


def test_a_huge_replication_count_never_reaches_seed_spawning() -> None:
    with pytest.raises(TooLargeError, match="hard limit"):
        replications.replication_seeds(0, 10**9)


def test_kept_ledgers_count_towards_memory_and_no_ledger_keeps_none() -> None:
    scenario = _scaled(load_scenario(BASELINE), 40, 365)
    with pytest.raises(TooLargeError, match="--no-ledger keeps less"):
        budget.check_run_size([scenario], 500, keep_ledgers=True)
    assert budget.check_run_size([scenario], 500, keep_ledgers=False) is not None


# A mass hire costs linear, not quadratic, work.

_SEAT_ENGINE = ("seats.py", "staffing.py", "repeated_sum.py")
WIDE = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [7, 21]}


def _seat_engine_lines(scenario: fs.Scenario) -> int:
    """Lines of the seat-by-seat engine run in one simulation: work, counted exactly.

    Every scan over the seats (a comprehension, a loop) is one line per seat, so work that
    grows with the team shows here; a count is deterministic, where a time is not.
    """
    engine = Path(simulate.__code__.co_filename).parent
    files = {str(engine / name) for name in _SEAT_ENGINE}
    lines = [0]

    def local(frame, event, arg):
        lines[0] += event == "line"
        return local

    def trace(frame, event, arg):
        return local if frame.f_code.co_filename in files else None

    sys.settrace(trace)
    try:
        simulate(scenario, seed=1)
    finally:
        sys.settrace(None)
    return lines[0]


@pytest.mark.parametrize(
    ("team", "changes"),
    [
        ("ae", {"teams.ae.ramp": [0.4, 0.7]}),  # least-loaded routing, ramping hires
        ("ae", {"teams.ae.calendar": WIDE}),  # least-loaded routing on staggered shifts
        (
            "sdr",
            {"teams.sdr.calendar": WIDE, "teams.sdr.vacation_days_per_year": 25},
        ),  # round robin on shifts, with absences
        ("sdr", {"teams.sdr.calendar": WIDE, "seam1.routing": "pooled"}),  # a pooled queue
    ],
)
def test_staffing_work_per_hire_does_not_grow_with_the_team(team: str, changes: dict) -> None:
    """Doubling a mass hire at most doubles the seat engine's work (linear, not quadratic).

    Every hire once filled every queue, summed every seat's capacity and scanned every
    seat to route; each now touches its own seat's queue, sorted lists and heaps. On
    shifts a routing decision looks at each distinct shift, not at each head.
    """
    base = with_overrides(scenario_from_dict({"name": "hire", "horizon_days": 30}), changes)
    work = []
    for hires in (400, 800):
        plan = {f"teams.{team}.plan": [{"date": "2027-01-11", "change": hires}]}
        work.append(_seat_engine_lines(with_overrides(base, plan)))
    # Quadratic work makes this ~4 (3.8-4.0 before); linear work, with its O(log n)
    # steps and a fixed part, stays near 2 (1.8-2.0).
    assert work[1] / work[0] < 2.5, work


# --workers.


def test_workers_are_capped_to_the_cpus_with_a_note(tiny: Path, monkeypatch) -> None:
    used: list[int] = []
    run_replications = fs.api.run_replications

    def recording(*args, **kwargs):
        used.append(kwargs["workers"])
        return run_replications(*args, **kwargs)

    monkeypatch.setattr("funnelsim.cli.common.available_cpus", lambda: 1)
    monkeypatch.setattr(fs.api, "run_replications", recording)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(tiny),
            "--workers",
            "64",
            "--no-ledger",
            "--json",
            "--out",
            str(tiny.parent / "o"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "note: --workers 64 capped to the 1 CPUs available" in result.stderr
    assert used == [1]


def test_available_cpus_follows_the_affinity() -> None:
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    assert executors.available_cpus() >= 1
    if expected is not None and not hasattr(os, "process_cpu_count"):
        assert executors.available_cpus() == expected


# Dask: bad, unreachable and non-Dask addresses give one line, exit 2, no hang.


@pytest.fixture
def http_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1: answers, but not in Dask's protocol."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """A TCP server that sends bytes that are not a Dask message, then hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"\xff" * 64 + b"garbage\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def closed_port() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"tcp://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("address", "expect"),
    [
        ("not-an-address", "not a usable address (missing port number"),
        ("tcp://::::", "not a usable address (invalid address"),
        ("tcp://127.0.0.1:99999", "port 99999 is not in 1-65535"),
        ("{http}", "no Dask scheduler answered within 1 s"),
        ("{garbage}", "the service there is not a Dask scheduler"),
        ("{closed}", "could not connect within 1 s"),
    ],
)
def test_an_unusable_scheduler_is_one_line_and_exit_2(
    address: str,
    expect: str,
    tiny: Path,
    http_server: str,
    garbage_server: str,
    closed_port: str,
    never_run: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dask.distributed

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Dask client was created")

    monkeypatch.setattr(dask.distributed, "Client", no_client)
    target = address.format(http=http_server, garbage=garbage_server, closed=closed_port)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(tiny),
            "--no-ledger",
            "--json",
            "--workers",
            "2",
            "--scheduler",
            target,
            "--scheduler-timeout",
            "1",
            "--out",
            str(tiny.parent / "o"),
        ],
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert (
        lines[0]
        == "note: --workers is ignored with --scheduler (the cluster's workers run the jobs)"
    )
    assert len(lines) == 2 and lines[1].startswith(f"error: --scheduler {target}: "), lines
    assert expect in lines[1], lines[1]
    assert never_run == []


@pytest.mark.parametrize("which", ["not-an-address", "http"])
def test_the_scheduler_error_leaves_no_destructor_traceback(
    which: str, tiny: Path, http_server: str
) -> None:
    address = http_server if which == "http" else which
    command = [
        sys.executable,
        "-c",
        "from funnelsim.cli import main; main()",
        "run",
        str(tiny),
        "--no-ledger",
        "--json",
        "--scheduler",
        address,
        "--scheduler-timeout",
        "1",
        "--out",
        str(tiny.parent / "o"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --scheduler"), done.stderr
    assert done.stdout == ""


def test_a_cluster_without_workers_fails_after_a_bounded_wait(monkeypatch) -> None:
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setattr(executors, "DASK_NO_WORKERS_SECONDS", 1.0)
    monkeypatch.setattr(executors, "DASK_POLL_SECONDS", 0.2)
    cluster = distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None)
    lost = pytest.raises(executors.WorkerLostError, match="no workers for 1 s; 0 of 2 jobs")
    with cluster, lost:
        executors.execute(abs, [(-1,), (-2,)], scheduler=cluster.scheduler_address)


# The README quotes the limits from the code.


def test_the_readme_limits_are_the_code_constants() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = dict(
        (cells[0], cells[1])
        for cells in (
            [c.strip() for c in line.strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ") and "---" not in line
        )
    )
    gigabytes = lambda value: f"{value / 1e9:g} GB"  # noqa: E731
    assert rows == {
        "limit": "value",
        "replications (`--reps`)": f"{budget.MAX_REPLICATIONS:,}",
        "leads per replication": f"{budget.MAX_LEADS:,}",
        "estimated peak memory of one process": gigabytes(budget.MAX_MEMORY_BYTES),
        "heads in one scenario (every seat the teams and their plans open)": (
            f"{budget.MAX_HEADS:,}"
        ),
        "heads one plan step or `--hire` adds or cuts": f"{budget.MAX_HIRE:,}",
        "leads over all the runs and replications of a command": f"{budget.MAX_TOTAL_LEADS:,}",
        "replications (`--reps`), hard": f"{budget.HARD_MAX_REPLICATIONS:,}",
        "estimated peak memory of one process, hard": gigabytes(budget.HARD_MAX_MEMORY_BYTES),
    }
    prose = " ".join(section.split())
    for figure in (
        f"{budget.LEAD_BYTES:,} bytes per lead",
        f"{budget.ATTEMPT_BYTES:,} bytes per outbound attempt",
        f"{budget.ACCOUNT_BYTES:,} bytes per outbound account",
        f"{budget.HEAD_BYTES:,} bytes per head",
        f"{budget.KEPT_LEDGER_BYTES:,} bytes per lead and replication",
        f"(default {executors.DASK_CONNECT_SECONDS:g})",
        f"without workers for {executors.DASK_NO_WORKERS_SECONDS:g} seconds",
    ):
        assert figure in prose, figure
