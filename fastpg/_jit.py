"""The one place that imports Numba and fixes the compiler flags.

Exact kernels are compiled with ``fastmath=False`` (no reassociation, no FMA
contraction) so that float64 arithmetic matches NumPy/Gymnasium bit for bit.
Every kernel is cached on disk (``cache=True``): a second process loads the
machine code instead of compiling it again.
"""

from __future__ import annotations

import types as pytypes

import numba
from numba import prange, types

__all__ = ["njit", "pnjit", "serial_and_parallel", "prange", "types", "typeof", "get_num_threads",
           "set_num_threads", "max_threads"]

_FLAGS = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}


def njit(*signatures, **overrides):
    """``numba.njit`` with fastpg's flags; pass explicit signatures to compile eagerly."""
    return numba.njit(*signatures, **{**_FLAGS, **overrides})


def pnjit(*signatures, **overrides):
    """Like :func:`njit`, compiled with ``parallel=True`` so ``prange`` loops run on threads."""
    return numba.njit(*signatures, **{**_FLAGS, "parallel": True, **overrides})


def serial_and_parallel(fn):
    """Compile one Python function twice: serially, and with ``parallel=True`` (``prange`` on threads).

    The parallel copy gets its own qualified name so the two never share an on-disk cache entry.
    """
    clone = pytypes.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__,
                                 fn.__closure__)
    clone.__qualname__ = fn.__qualname__ + "_parallel"
    clone.__doc__ = fn.__doc__
    return njit()(fn), pnjit()(clone)


typeof = numba.typeof
get_num_threads = numba.get_num_threads
set_num_threads = numba.set_num_threads
max_threads = numba.config.NUMBA_NUM_THREADS  # the most threads set_num_threads accepts
