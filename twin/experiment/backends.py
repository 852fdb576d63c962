"""Where runs execute: here, on a local process pool, or on a Dask cluster.

Every backend has one contract (:func:`execute`): a top-level worker function
applied to picklable inputs, results yielded as they finish. Results are
always written by the calling process, so a sweep's store is the same
whichever backend ran it.

This is the only module that imports Dask, and only inside the function that
needs it: the main install works without it (``pip install 'twin[dask]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from twin.errors import ExperimentError
from twin.processes import pool_context

__all__ = ["execute"]

S = TypeVar("S")
R = TypeVar("R")


def execute(
    specs: Sequence[S],
    worker: Callable[[S], R],
    *,
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[R]:
    """Run ``worker(spec)`` for every spec and yield the results as they finish.

    Parameters
    ----------
    specs : sequence
        Picklable inputs.
    worker : callable
        A top-level (importable) function, so other processes can run it.
    workers : int, optional
        Local processes (default 1: run here, one after the other, no pool).
        Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``): the runs go to its
        workers instead (needs ``twin[dask]``).

    Notes
    -----
    Results come in completion order; callers that summarise must sort. Local
    pools start processes with ``forkserver`` (``spawn`` where that is missing),
    not ``fork``: the caller may have threads (progress bars, Dask) and forking
    a threaded process can deadlock. The fork server imports twin once, so each
    worker starts in milliseconds; it keeps the environment of its first use,
    with numeric libraries limited to one thread per worker.
    As with any such pool, a script that calls this with ``workers > 1`` must
    guard its own work with ``if __name__ == "__main__":`` (workers import the
    script's main module).
    """
    if scheduler is not None:
        yield from _dask_results(specs, worker, scheduler)
        return
    if workers < 1:
        raise ExperimentError(f"--workers must be at least 1, got {workers}.")
    if workers == 1 or len(specs) <= 1:
        for spec in specs:
            yield worker(spec)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(specs)), mp_context=pool_context(["twin.experiment"])
    )
    try:
        futures = [pool.submit(worker, spec) for spec in specs]
        for future in as_completed(futures):
            yield future.result()
    finally:
        # An early stop (an error, a closed generator) must not wait for all the rest.
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_results(specs: Sequence[S], worker: Callable[[S], R], address: str) -> Iterator[R]:
    """Same contract as the local pool, on a Dask cluster's workers."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ExperimentError(
            "--scheduler needs Dask; install it with `pip install 'twin[dask]'`."
        ) from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExperimentError(
            f"--scheduler {address}: cannot reach a Dask scheduler there ({exc}); "
            "check the address or start one with `dask scheduler`."
        ) from None
    with client:
        # pure=False: every submission is a fresh task, never a cached result of another.
        futures = [client.submit(worker, spec, pure=False) for spec in specs]
        try:
            for future in as_completed(futures, loop=client.loop):
                yield future.result()
        finally:
            client.cancel([f for f in futures if not f.done()])
