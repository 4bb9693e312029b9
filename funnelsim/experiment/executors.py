"""Where replications run: in this process, a local process pool, or a Dask cluster.

Every job carries its own seed, so where and in what order jobs run never changes their
results: the same inputs give the same outputs bit for bit on any executor. A worker
process that dies takes only its running jobs with it; they are run again, and each
result is kept exactly once (by job index).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

MAX_POOL_RESTARTS = 3


class WorkerLostError(RuntimeError):
    """Worker processes kept dying; the run could not complete."""


def execute(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """Run ``fn(*job)`` for every job and return the results in job order.

    ``scheduler`` is the address of an existing Dask scheduler (``tcp://host:port``); else
    ``workers`` local processes (1: in this process). ``on_done(index, result)`` is called
    once per job as results arrive, e.g. to advance a progress bar or save a sweep point.
    """
    if scheduler:
        return _on_dask(fn, jobs, scheduler, on_done)
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
            with ProcessPoolExecutor(max_workers=min(workers, len(pending))) as pool:
                futures = {pool.submit(fn, *jobs[i]): i for i in pending}
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = futures.pop(future)
                        results[index] = future.result()
                        if on_done:
                            on_done(index, results[index])
        except BrokenProcessPool:
            restarts += 1
            if restarts > MAX_POOL_RESTARTS:
                raise WorkerLostError(
                    f"worker processes died {restarts} times; {len(results)} of "
                    f"{len(jobs)} jobs completed"
                ) from None
    return [results[i] for i in range(len(jobs))]


def _on_dask(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    scheduler: str,
    on_done: Callable[[int, Any], None] | None,
) -> list[Any]:
    from dask.distributed import Client, as_completed

    with Client(scheduler, set_as_default=False) as client:
        futures = [
            client.submit(fn, *job, key=f"funnelsim-{fn.__name__}-{i}-{_token(job)}", retries=2)
            for i, job in enumerate(jobs)
        ]
        index_of = {future.key: i for i, future in enumerate(futures)}
        results: dict[int, Any] = {}
        for future in as_completed(futures, loop=client.loop):
            index = index_of[future.key]
            results[index] = future.result()
            if on_done:
                on_done(index, results[index])
            future.release()
    return [results[i] for i in range(len(jobs))]


def _token(job: tuple) -> str:
    from dask.base import tokenize

    return tokenize(job)
