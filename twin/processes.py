"""Worker process pools that behave alike wherever twin runs them.

Replications of an experiment and the parts of a city-scale plan both run in
worker processes. Each pool gets its context here, so that both keep the same
rules: a fork server (a clean process that has imported twin once, forked per
worker) where the platform has one, spawn elsewhere, and one thread per
numeric library in every worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

__all__ = ["cpu_seconds", "pool_context"]

#: Worker processes keep numeric libraries to one thread each. Otherwise every
#: worker's OpenBLAS/OpenMP pool has a thread per core, the pools spin on each
#: other's cores and two workers ran slower than one (measured; Dask's nanny sets
#: the same variables for its workers). A user's own setting wins.
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def pool_context(preload: Sequence[str]) -> BaseContext:
    """A multiprocessing context for worker pools, with ``preload`` imported once.

    The fork server is one per process: the first caller's ``preload`` is the
    one it keeps (workers import whatever else they need on first use).
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    # The fork server takes the environment it starts with and passes it to every
    # worker; set the thread limits for it alone, not for this process.
    saved = {name: os.environ.get(name) for name in _ONE_THREAD}
    try:
        for name, value in _ONE_THREAD.items():
            os.environ.setdefault(name, value)
        forkserver.ensure_running()
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
    return context


def cpu_seconds() -> float:
    """CPU seconds of this process and of the child processes it has waited for.

    Workers started by a fork server are the server's children, not this
    process's: they report their own CPU (see
    :func:`twin.routing.decompose.solve_each`). Without the ``resource`` module
    (Windows), this process's own time only.
    """
    try:
        import resource
    except ImportError:
        return time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime
