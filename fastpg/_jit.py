"""The one place that imports Numba and fixes the compiler flags.

Exact kernels are compiled with ``fastmath=False`` (no reassociation, no FMA
contraction) so that float64 arithmetic matches NumPy/Gymnasium bit for bit.
Every kernel is cached on disk (``cache=True``): a second process loads the
machine code instead of compiling it again.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
from numba import prange, types

__all__ = ["njit", "pnjit", "prange", "types", "typeof", "get_num_threads", "set_num_threads", "max_threads",
           "numba_threads"]

_FLAGS = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}


def njit(*signatures, **overrides):
    """``numba.njit`` with fastpg's flags; pass explicit signatures to compile eagerly."""
    return numba.njit(*signatures, **{**_FLAGS, **overrides})


def pnjit(*signatures, **overrides):
    """Like :func:`njit`, compiled with ``parallel=True`` so ``prange`` loops run on threads."""
    return numba.njit(*signatures, **{**_FLAGS, "parallel": True, **overrides})


typeof = numba.typeof
get_num_threads = numba.get_num_threads
set_num_threads = numba.set_num_threads
max_threads = numba.config.NUMBA_NUM_THREADS  # the most threads set_num_threads accepts
version = numba.__version__


@contextmanager
def numba_threads(count: int):
    """Run parallel kernels on ``count`` of Numba's threads inside the block, then restore the previous count."""
    previous = get_num_threads()
    if previous == count:
        yield
        return
    set_num_threads(count)
    try:
        yield
    finally:
        set_num_threads(previous)
