"""A run's local worker processes never outlive it, and a worker killed at any point of its
job, even while it sends its result back, costs only a re-run of that job: the run ends
with the results of an undisturbed run.

Each case runs the CLI in a child process with one function patched to SIGKILL a process
at a chosen step, never on a timer; waits are bounds on a stuck child, not assertions.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from funnelsim.atomic import MARKER

TINY = """\
name: tiny
horizon_days: 60
sources:
  inbound: {leads_per_week: 20, cost_per_lead: 50}
"""
WAIT = 120  # seconds: a bound on a stuck process, never a timing assertion

CHILD = textwrap.dedent(
    """
    import multiprocessing, os, signal, sys
    from multiprocessing import connection

    import funnelsim.experiment.executors as executors
    from funnelsim.cli import main

    hook, record = sys.argv[1], sys.argv[2]
    main_pid = os.getpid()

    if hook == "kill_main_after_queueing":
        real_submit = executors.submit_ahead
        def submit(*args, **kwargs):
            real_submit(*args, **kwargs)
            pids = [str(p.pid) for p in multiprocessing.active_children()]
            with open(record, "w") as stream:
                stream.write(" ".join(pids))
            os.kill(main_pid, signal.SIGKILL)
        executors.submit_ahead = submit
    elif hook == "ctrl_c_while_workers_wait":
        import contextlib, time
        real_pool = executors.prestarted_pool
        @contextlib.contextmanager
        def pool(workers):
            with real_pool(workers):
                children = multiprocessing.active_children()
                for child in children:  # each has run its initializer (a second thread)
                    while len(os.listdir(f"/proc/{child.pid}/task")) < 2:
                        time.sleep(0.01)
                with open(record, "w") as stream:
                    stream.write(" ".join(str(child.pid) for child in children))
                os.killpg(os.getpgid(0), signal.SIGINT)  # Ctrl-C: the whole group
                yield
        executors.prestarted_pool = pool
    elif hook == "kill_worker_mid_send":
        real_send = connection.Connection._send_bytes
        def send(self, buf):
            if os.getpid() != main_pid:
                try:  # the first worker to send a result claims the kill
                    os.close(os.open(record, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    return real_send(self, buf)
                data = bytes(buf)
                header = len(data).to_bytes(4, "big")
                self._send(header + data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return real_send(self, buf)
        connection.Connection._send_bytes = send
    main(sys.argv[3:])
    """
)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _child(tmp_path: Path, hook: str, record: Path, *args: object) -> subprocess.Popen:
    """The CLI in a child process of its own process group (as a terminal runs it), its
    output to a file (a pipe would stay open as long as any worker it left behind)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    command = [sys.executable, str(script), hook, str(record), *map(str, args)]
    with open(tmp_path / f"{hook}.log", "w") as log:
        return subprocess.Popen(
            command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, process_group=0
        )


def _finish(child: subprocess.Popen, tmp_path: Path, hook: str) -> str:
    """Wait (bounded) for the child; its output."""
    try:
        child.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        pytest.fail(f"the run hung ({hook})")
    return (tmp_path / f"{hook}.log").read_text()


def _exited(pid: int) -> bool:
    """Wait (bounded) until process ``pid``, not a child of this one, has exited."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([handle], [], [], WAIT)
        return bool(ready)
    finally:
        os.close(handle)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfd_open")
def test_workers_exit_when_the_run_is_killed(tiny: Path, tmp_path: Path) -> None:
    record = tmp_path / "workers.txt"
    run = ["run", tiny, "--reps", 6, "--workers", 2, "--out", tmp_path / "out"]
    child = _child(tmp_path, "kill_main_after_queueing", record, *run)
    _finish(child, tmp_path, "kill_main_after_queueing")
    assert child.returncode == -signal.SIGKILL
    workers = [int(pid) for pid in record.read_text().split()]
    assert len(workers) == 2
    try:
        assert all(_exited(pid) for pid in workers), "worker processes outlived the run"
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_ctrl_c_while_workers_wait_aborts_quietly(tiny: Path, tmp_path: Path) -> None:
    record = tmp_path / "workers.txt"
    run = ["run", tiny, "--reps", 6, "--workers", 2, "--out", tmp_path / "out"]
    child = _child(tmp_path, "ctrl_c_while_workers_wait", record, *run)
    output = _finish(child, tmp_path, "ctrl_c_while_workers_wait")
    assert child.returncode == 1, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert output.strip().splitlines()[-1] == "Aborted!"
    workers = [int(pid) for pid in record.read_text().split()]
    assert all(_exited(pid) for pid in workers)
    assert not (tmp_path / "out").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")]


def _same_results(first: Path, second: Path) -> None:
    names = {p.name for p in first.iterdir()} - {MARKER}
    assert names == {p.name for p in second.iterdir()} - {MARKER}
    for name in sorted(names):
        if name.endswith(".parquet"):
            assert pq.read_table(first / name).equals(pq.read_table(second / name)), name
        else:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_worker_killed_while_sending_its_result_costs_only_a_rerun(
    tiny: Path, tmp_path: Path
) -> None:
    record = tmp_path / "killed"
    run = ["run", tiny, "--reps", 6, "--workers", 2, "--seed", 3]
    child = _child(tmp_path, "kill_worker_mid_send", record, *run, "--out", tmp_path / "hit")
    output = _finish(child, tmp_path, "kill_worker_mid_send")
    assert record.exists(), "no worker was killed"
    assert child.returncode == 0, output
    calm = _child(tmp_path, "none", tmp_path / "unused", *run, "--out", tmp_path / "calm")
    output = _finish(calm, tmp_path, "none")
    assert calm.returncode == 0, output
    _same_results(tmp_path / "hit", tmp_path / "calm")


@pytest.fixture
def lone_dask_worker(tmp_path: Path):
    """A Dask scheduler and one worker without a nanny (so nothing restarts it once
    killed), as separate processes; yields (address, worker process)."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client

    dask = Path(sys.executable).with_name("dask")
    if not dask.exists():
        pytest.skip("needs the dask command line")
    file = tmp_path / "scheduler.json"
    common = ["--scheduler-file", str(file), "--no-dashboard"]
    scheduler = subprocess.Popen([dask, "scheduler", "--port", "0", *common])
    worker = subprocess.Popen([dask, "worker", "--no-nanny", "--nthreads", "1", *common])
    try:
        with Client(scheduler_file=str(file), timeout=WAIT) as client:
            client.wait_for_workers(1, timeout=WAIT)
            address = client.scheduler.address
        yield address, worker
    finally:
        for process in (worker, scheduler):
            process.kill()
            process.wait()


def test_a_dask_run_whose_only_worker_died_after_finishing_jobs_gives_up(
    lone_dask_worker: tuple[str, subprocess.Popen], monkeypatch: pytest.MonkeyPatch
) -> None:
    import operator
    import threading

    from funnelsim.experiment import executors

    monkeypatch.setattr(executors, "DASK_NO_WORKERS_SECONDS", 2.0)
    address, worker = lone_dask_worker
    outcome: list[BaseException | list[object]] = []

    def kill_the_worker(_index: int, _result: object) -> None:
        if worker.poll() is None:  # finished results not gathered yet die with it
            worker.kill()
            worker.wait()

    def run() -> None:
        try:
            jobs = [(i, 2) for i in range(40)]
            outcome.append(
                executors.execute(operator.mul, jobs, scheduler=address, on_done=kill_the_worker)
            )
        except BaseException as exc:  # the outcome is asserted below
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    assert outcome, "the run waited forever for results lost with the only worker"
    assert isinstance(outcome[0], executors.WorkerLostError), outcome[0]
