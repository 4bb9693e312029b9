"""Where replications run: in this process, a local process pool, or a Dask cluster.

Every job carries its own seed, so where and in what order jobs run never changes their
results: the same inputs give the same outputs bit for bit on any executor. A worker
process that dies takes only its running jobs with it; they are run again, and each
result is kept exactly once (by job index).

``available_cpus()`` is what the CLI caps ``--workers`` to. Local workers are forked on
Linux while this process runs no other thread (they inherit its imports instead of
repeating them), and ``prestarted_pool`` starts them ahead of the jobs, e.g. before a
progress bar's thread exists; ``submit_ahead`` queues a run's jobs on them before the run
is called, so that they work while this process loads what only it needs. A Dask
scheduler is checked
before use: a malformed address, nothing answering, or a service that does not speak
Dask's protocol within the connect timeout gives a ``SchedulerError``; a cluster left
without workers for ``DASK_NO_WORKERS_SECONDS`` gives a ``WorkerLostError`` instead of
waiting forever.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

MAX_POOL_RESTARTS = 3
PARENT_POLL_SECONDS = 0.5
WORKER_POLL_SECONDS = 0.5
DASK_CONNECT_SECONDS = 10.0
DASK_NO_WORKERS_SECONDS = 60.0
DASK_POLL_SECONDS = 1.0


class WorkerLostError(RuntimeError):
    """Worker processes kept dying, or a Dask cluster had none; the run could not complete."""


class SchedulerError(RuntimeError):
    """The Dask scheduler address is malformed, unreachable or not a Dask scheduler."""


@dataclass(frozen=True)
class DaskScheduler:
    """A Dask scheduler's address and how long to wait for it to answer (seconds)."""

    address: str
    timeout: float = DASK_CONNECT_SECONDS


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS reports one)."""
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return max(1, counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass
class _Prestarted:
    """A pool started ahead of its run, and the jobs queued on it ahead (``submit_ahead``):
    the function, the jobs and each future's job index."""

    pool: ProcessPoolExecutor
    # Its processes when forked (then all started by the first job), else None.
    processes: list[multiprocessing.process.BaseProcess] | None
    ahead: tuple[Callable[..., Any], list[tuple], dict[Future, int]] | None = None


_prestarted: dict[int, _Prestarted] = {}


def _pool_context() -> Any:
    """Fork (workers inherit the loaded modules) on Linux when no other thread runs, since
    forking a threaded process can deadlock a child; else the platform's default."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return None


def _new_pool(workers: int, context: Any = None) -> ProcessPoolExecutor:
    """A pool whose workers end themselves on Ctrl-C or once this process is gone."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )


def _init_worker(owner: int) -> None:
    """Worker initializer. Ctrl-C (SIGINT to the terminal's process group) ends a worker
    quietly: the run itself reports "Aborted!", and a worker waiting for a job would
    otherwise print a KeyboardInterrupt traceback. The worker also exits once the process
    that started it is gone: a run killed with SIGKILL cannot shut its pool down, and its
    workers would otherwise wait for jobs forever."""
    signal.signal(signal.SIGINT, _exit_quietly)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent and _alive(owner):
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="funnelsim-parent-watch", daemon=True).start()


def _exit_quietly(signum: int, _frame: object) -> None:
    os._exit(128 + signum)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def prestarted_pool(workers: int) -> Iterator[None]:
    """Start ``workers`` local processes now, for the first local run of this many workers
    inside the block (which takes them over); shut down at the end if no run took them."""
    if workers <= 1:
        yield
        return
    # Objects alive now are left out of the garbage collector's scans (here and in the
    # forked workers, whose scans would otherwise copy the pages they touch).
    gc.freeze()
    before = set(multiprocessing.active_children())
    context = _pool_context()
    pool = _new_pool(workers, context)
    pool.submit(int)  # starts the processes (all of them at once when forked)
    started = [p for p in multiprocessing.active_children() if p not in before]
    entry = _Prestarted(pool, started if context is not None else None)
    _prestarted[workers] = entry
    try:
        yield
    finally:
        gc.unfreeze()
        if _prestarted.get(workers) is entry:
            del _prestarted[workers]
        # Untaken, or taken by a run that let its workers exit without waiting for them.
        pool.shutdown(wait=True, cancel_futures=True)
        for process in entry.processes or ():
            process.join()


def submit_ahead(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int) -> None:
    """Queue ``fn(*job)`` for every job now on the prestarted pool of ``workers`` processes,
    for the ``execute`` of the same function and jobs in the block to collect (none
    there, or jobs that ``execute`` runs in this process: nothing is queued)."""
    entry = _prestarted.get(workers)
    if entry is None or entry.ahead is not None or workers <= 1 or len(jobs) <= 1:
        return
    futures = {entry.pool.submit(fn, *job): i for i, job in enumerate(jobs)}
    entry.ahead = (fn, list(jobs), futures)


def _take_pool(
    workers: int, fn: Callable[..., Any], jobs: Sequence[tuple], pending: list[int]
) -> tuple[ProcessPoolExecutor, dict[Future, int] | None, bool]:
    """The prestarted pool of ``workers`` processes if there is one, with the futures of
    the jobs queued on it ahead when they are the ``pending`` jobs (else those are
    cancelled), or a new pool of at most one process per job; and whether the run may let
    its workers exit without waiting (a forked prestarted pool: its block waits)."""
    entry = _prestarted.pop(workers, None)
    if entry is None:
        return _new_pool(min(workers, len(pending)), _pool_context()), None, False
    if entry.ahead is not None:
        ahead_fn, ahead_jobs, futures = entry.ahead
        if ahead_fn is fn and len(pending) == len(jobs) and ahead_jobs == list(jobs):
            return entry.pool, futures, entry.processes is not None
        for future in futures:
            future.cancel()
    return entry.pool, None, entry.processes is not None


def execute(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Run ``fn(*job)`` for every job and return the results in job order.

    ``scheduler`` is an existing Dask scheduler (``tcp://host:port``, or a
    ``DaskScheduler`` with its connect timeout); else ``workers`` local processes (1: in
    this process). ``on_done(index, result)`` is
    called once per job as results arrive, e.g. to advance a progress bar or save a
    sweep point.
    """
    if scheduler:
        target = scheduler if isinstance(scheduler, DaskScheduler) else DaskScheduler(scheduler)
        return _on_dask(fn, jobs, target, on_done)
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for index, job in enumerate(jobs):
            results.append(fn(*job))
            if on_done:
                on_done(index, results[-1])
        return results
    return _on_local_pool(fn, jobs, workers, on_done)


def _on_local_pool(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    workers: int,
    on_done: Callable[[int, Any], None] | None,
) -> list[Any]:
    results: dict[int, Any] = {}
    restarts = 0
    while len(results) < len(jobs):
        pending = [i for i in range(len(jobs)) if i not in results]
        try:
            pool, ahead, let_go = _take_pool(workers, fn, jobs, pending)
            completed = False
            try:
                futures = ahead or {pool.submit(fn, *jobs[i]): i for i in pending}
                try:
                    while futures:
                        done, _ = wait(
                            futures, timeout=WORKER_POLL_SECONDS, return_when=FIRST_COMPLETED
                        )
                        if not done:
                            _break_if_a_worker_died(pool)
                        for future in done:
                            index = futures.pop(future)
                            results[index] = future.result()
                            if on_done:
                                on_done(index, results[index])
                except Exception:
                    # A failed job or a callback that raised (a cancelled run): drop the
                    # queued jobs, so only the ones in flight are waited for.
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                completed = True
            finally:
                # The workers of a prestarted pool exit while the caller goes on with the
                # results (its block waits for them at its end).
                pool.shutdown(wait=not (let_go and completed))
        except BrokenProcessPool:
            restarts += 1
            if restarts > MAX_POOL_RESTARTS:
                raise WorkerLostError(
                    f"worker processes died {restarts} times; {len(results)} of "
                    f"{len(jobs)} jobs completed"
                ) from None
    return [results[i] for i in range(len(jobs))]


def _break_if_a_worker_died(pool: ProcessPoolExecutor) -> None:
    """Make the pool report a worker that died unnoticed as broken (BrokenProcessPool).

    A worker killed while it sends its result leaves a partial message in the results
    pipe, and the pool's reader waits for the rest forever. The other workers are ended
    and this process's end of the pipe closed, so the reader gets end-of-file and the
    pool fails its jobs, which are then run again. (Uses the executor's private fields,
    which CPython 3.9-3.13 share; without them nothing is done.)
    """
    processes = getattr(pool, "_processes", None)
    queue = getattr(pool, "_result_queue", None)
    if not processes or queue is None or getattr(pool, "_broken", False):
        return
    workers = list(processes.values())
    if all(worker.exitcode is None for worker in workers):
        return
    for worker in workers:
        worker.kill()
    for worker in workers:
        worker.join()
    queue._writer.close()


def _on_dask(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    scheduler: DaskScheduler,
    on_done: Callable[[int, Any], None] | None,
) -> list[Any]:
    from dask.distributed import Client

    check_scheduler(scheduler)
    try:
        client = Client(scheduler.address, timeout=scheduler.timeout, set_as_default=False)
    except (OSError, ValueError, TypeError, TimeoutError) as exc:
        raise SchedulerError(_scheduler_problem(scheduler, exc)) from None
    try:
        return _run_on_client(client, fn, jobs, on_done)
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=scheduler.timeout)


def _run_on_client(
    client: Any,
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    on_done: Callable[[int, Any], None] | None,
) -> list[Any]:
    """Submit every job, collect results as they finish; give up without workers."""
    from dask.distributed import as_completed

    futures = [
        client.submit(fn, *job, key=f"funnelsim-{fn.__name__}-{i}-{_token(job)}", retries=2)
        for i, job in enumerate(jobs)
    ]
    index_of = {future.key: i for i, future in enumerate(futures)}
    results: dict[int, Any] = {}
    pending = as_completed(futures, loop=client.loop)
    watch = _WorkerWatch(client, len(jobs))
    while not pending.is_empty():
        batch = pending.next_batch(block=False)
        if not batch:
            watch.check(len(results))
            with pending.thread_condition:
                if not pending.has_ready():
                    pending.thread_condition.wait(timeout=DASK_POLL_SECONDS)
            continue
        for future in batch:
            index = index_of[future.key]
            results[index] = _gathered(future, watch, len(results))
            if on_done:
                on_done(index, results[index])
            future.release()
    return [results[i] for i in range(len(jobs))]


def _gathered(future: Any, watch: _WorkerWatch, completed: int) -> Any:
    """A finished future's result. Its data may have died with a worker before it was
    gathered: Dask then computes it again, and a cluster left without workers meanwhile
    is given up on (``WorkerLostError``) rather than waited for forever."""
    while True:
        try:
            return future.result(timeout=DASK_POLL_SECONDS)
        except TimeoutError:
            if future.status == "error":  # the job itself raised TimeoutError
                raise
            watch.check(completed)


class _WorkerWatch:
    """Notices a cluster left without workers, and gives up after a bounded wait."""

    def __init__(self, client: Any, n_jobs: int) -> None:
        self.client = client
        self.n_jobs = n_jobs
        self.checked = time.monotonic()
        self.empty_since: float | None = None

    def check(self, completed: int) -> None:
        now = time.monotonic()
        if now - self.checked < DASK_POLL_SECONDS:
            return
        self.checked = now
        try:
            workers = len(self.client.nthreads(callback_timeout=DASK_CONNECT_SECONDS))
        except Exception:
            workers = 0
        if workers:
            self.empty_since = None
            return
        self.empty_since = self.empty_since or now
        if now - self.empty_since >= DASK_NO_WORKERS_SECONDS:
            raise WorkerLostError(
                f"the Dask cluster had no workers for {DASK_NO_WORKERS_SECONDS:.0f} s; "
                f"{completed} of {self.n_jobs} jobs completed"
            )


def check_scheduler(scheduler: DaskScheduler) -> None:
    """Ask the address who it is, within the timeout; ``SchedulerError`` if not a scheduler.

    Dask's own client waits forever for a handshake from a service that never answers
    (an HTTP server), so this asks first, in a thread with its own event loop, with every
    step bounded by the timeout.
    """
    import asyncio  # only here: a local run does without it (13 ms to import)

    _check_address(scheduler.address)
    with ThreadPoolExecutor(1) as pool:
        try:
            identity = pool.submit(asyncio.run, _identity(scheduler)).result()
        except Exception as exc:  # whatever the far end sent, the answer is the same
            raise SchedulerError(_scheduler_problem(scheduler, exc)) from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise SchedulerError(
            f"--scheduler {scheduler.address}: the service there is not a Dask scheduler"
        )


def _check_address(address: str) -> None:
    """A malformed address (no port, a bad host) is refused before connecting."""
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        registry.get_backend(scheme)
        if scheme in ("tcp", "tls"):
            _, port = parse_host_port(location)
            if not 0 < int(port) < 65536:
                raise ValueError(f"port {port} is not in 1-65535")
    except (ValueError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchedulerError(
            f"--scheduler {address}: not a usable address ({detail}); expected tcp://HOST:PORT"
        ) from None


async def _identity(scheduler: DaskScheduler) -> Any:
    import asyncio

    from distributed.comm import connect

    timeout = scheduler.timeout
    # Dask's connect gives up on an unanswered TCP connect itself (an OSError); the outer
    # bound, a little later, catches a handshake that never comes back.
    comm = await asyncio.wait_for(connect(scheduler.address, timeout=timeout), 1.5 * timeout + 1)
    try:
        await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
        return await asyncio.wait_for(comm.read(), timeout)
    finally:
        comm.abort()


def _scheduler_problem(scheduler: DaskScheduler, exc: BaseException) -> str:
    """One line saying why a scheduler address cannot be used."""
    from distributed.comm import CommClosedError

    where = f"--scheduler {scheduler.address}"
    if isinstance(exc, TimeoutError):
        return (
            f"{where}: no Dask scheduler answered within {scheduler.timeout:g} s "
            "(is the port right, and is it a Dask scheduler?)"
        )
    if isinstance(exc, OSError) and not isinstance(exc, CommClosedError):
        return f"{where}: could not connect within {scheduler.timeout:g} s"
    return f"{where}: the service there is not a Dask scheduler ({type(exc).__name__})"


def _token(job: tuple) -> str:
    from dask.base import tokenize

    return tokenize(job)
