"""The one place that imports Numba and fixes the compiler flags.

Exact kernels are compiled with ``fastmath=False`` (no reassociation, no FMA
contraction) so that float64 arithmetic matches NumPy/Gymnasium bit for bit.
Every kernel is cached on disk (``cache=True``): a second process loads the
machine code instead of compiling it again.
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager

import numba
from numba import prange, types

__all__ = ["njit", "pnjit", "prange", "types", "typeof", "get_num_threads", "set_num_threads", "max_threads",
           "numba_threads"]

_FLAGS = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}


def njit(*signatures, **overrides):
    """``numba.njit`` with fastpg's flags; pass explicit signatures to compile eagerly.

    Where no cache folder is writable (neither the package's nor ``$HOME/.cache``, e.g. a read-only
    install run with ``HOME=/nonexistent``), kernels are compiled without a cache, with a warning.
    """
    flags = {**_FLAGS, **overrides}
    if len(signatures) == 1 and callable(signatures[0]) and not isinstance(signatures[0], (str, types.Type)):
        return _jit(signatures[0], (), flags)  # used as a bare @njit
    return lambda function: _jit(function, signatures, flags)


def pnjit(*signatures, **overrides):
    """Like :func:`njit`, compiled with ``parallel=True`` so ``prange`` loops run on threads."""
    return njit(*signatures, **{"parallel": True, **overrides})


def _jit(function, signatures, flags):
    try:
        return numba.njit(*signatures, **flags)(function)
    except RuntimeError as exc:
        if not flags.get("cache") or "cannot cache" not in str(exc):
            raise
        warnings.warn(f"fastpg: no writable cache folder for compiled kernels ({exc}); compiling without a cache "
                      "(set NUMBA_CACHE_DIR to a writable folder to keep them)", RuntimeWarning, stacklevel=3)
        return numba.njit(*signatures, **{**flags, "cache": False})(function)


typeof = numba.typeof
get_num_threads = numba.get_num_threads
set_num_threads = numba.set_num_threads
max_threads = numba.config.NUMBA_NUM_THREADS  # the most threads set_num_threads accepts
version = numba.__version__


_PARALLEL_LOCK = threading.RLock()  # one parallel kernel at a time in this process


@contextmanager
def numba_threads(count: int):
    """Run parallel kernels on ``count`` of Numba's threads inside the block, then restore the previous count.

    Every launch of a ``pnjit`` kernel happens inside this block, which holds one process-wide lock:
    Numba's ``workqueue`` threading layer aborts the process when two Python threads launch parallel
    kernels at once, so concurrent callers take turns (on every layer, for the same results).
    """
    with _PARALLEL_LOCK:
        previous = get_num_threads()
        if previous == count:
            yield
            return
        set_num_threads(count)
        try:
            yield
        finally:
            set_num_threads(previous)
