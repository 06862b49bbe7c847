"""How many CPU threads the neural paths use.

torch's default (one thread per core, plus as many inter-op threads) oversubscribes a busy
machine: a 10 s stereo n-SBG encode took 67-97 s with the defaults beside another job and
12.6 s with one thread (issue 16); here, on 2 cores under a load of 4, 38-42 s with 2 threads
and 5-6 s with 1.  :func:`set_threads` caps both pools, through the OpenMP/MKL
environment for a torch imported later and directly for one already imported, so the
CLI can call it first thing without importing torch (which costs a second of start-up).
"""

from __future__ import annotations

import contextlib
import os
import sys

DEFAULT_MAX_THREADS = 4
"""Upper bound of the default thread count (more rarely helps the small models)."""

_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def default_threads() -> int:
    """``min(4, idle cores)``, at least 1: the usable cores less the 1-minute load average.

    On a machine another job keeps busy, more threads than idle cores make OpenMP's threads
    wait for each other: a 10 s stereo n-SBG encode on 2 cores under a load of 4 took 38-42 s
    with 2 threads and 5-6 s with 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        idle = round(cores - os.getloadavg()[0])
    except OSError:  # no load average on this system
        idle = cores
    return max(1, min(DEFAULT_MAX_THREADS, cores, idle))


def set_threads(num_threads: int | None = None) -> int:
    """Cap the CPU threads of torch and the BLAS/OpenMP libraries.

    Args:
        num_threads: threads to use; ``None`` keeps ``$OMP_NUM_THREADS`` when it is set,
            else :func:`default_threads`.

    Returns:
        The thread count now in force.

    Raises:
        ValueError: ``num_threads < 1``.
    """
    if num_threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        num_threads = int(env) if env.isdigit() and int(env) > 0 else default_threads()
    if num_threads < 1:
        raise ValueError(f"the thread count must be at least 1, got {num_threads}")
    for var in _ENV_VARS:
        os.environ[var] = str(num_threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(num_threads)
        # torch allows this once, before any inter-op work; later calls keep the first value
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(num_threads)
    return num_threads
