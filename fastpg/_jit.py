"""The one place that imports Numba and fixes the compiler flags.

Exact kernels are compiled with ``fastmath=False`` (no reassociation, no FMA
contraction) so that float64 arithmetic matches NumPy/Gymnasium bit for bit.
Every kernel is cached on disk (``cache=True``): a second process loads the
machine code instead of compiling it again.
"""

from __future__ import annotations

import threading
import types as pytypes
import warnings

import numba
from numba import prange, types

__all__ = ["njit", "pnjit", "serial_and_parallel", "prange", "types", "typeof", "get_num_threads",
           "set_num_threads", "max_threads", "numba_threads"]

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


def serial_and_parallel(function):
    """(serial, parallel) kernels compiled from one Python function whose episode loop is a ``prange``.

    The serial one runs ``prange`` as ``range`` on the calling thread (no thread-pool launch); it is
    compiled from a copy of the function under another qualified name, so the two never share a
    cache entry (Numba keys its disk cache by name and bytecode, not by compiler flags).
    """
    serial = pytypes.FunctionType(function.__code__, function.__globals__, function.__name__ + "_serial",
                                  function.__defaults__, function.__closure__)
    serial.__qualname__ = function.__qualname__ + "_serial"
    return njit(serial), pnjit(function)


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


class numba_threads:
    """Run parallel kernels on ``count`` of Numba's threads inside the ``with`` block, then restore the previous count.

    Every launch of a ``pnjit`` kernel happens inside this block, which holds one process-wide lock:
    Numba's ``workqueue`` threading layer aborts the process when two Python threads launch parallel
    kernels at once, so concurrent callers take turns (on every layer, for the same results).
    Enter and exit cost well under a microsecond: once the thread pool is up, they call the threading
    layer's get/set functions directly (``numba.set_num_threads`` re-checks its pool and arguments on
    every call), and set nothing when ``count`` is already the current count.
    """

    __slots__ = ("count", "previous")

    def __init__(self, count: int):
        self.count = count

    def __enter__(self):
        _PARALLEL_LOCK.acquire()
        try:
            get, put = _thread_count_functions()
            self.previous = get()
            if self.previous != self.count:
                put(self.count)
        except BaseException:
            _PARALLEL_LOCK.release()
            raise

    def __exit__(self, *exc_info):
        try:
            if self.previous != self.count:
                _thread_count_functions()[1](self.previous)
        finally:
            _PARALLEL_LOCK.release()


_COUNT_FUNCTIONS = []


def _thread_count_functions():
    """(get, set) of the number of threads for the calling thread; Numba's public pair if its internals moved."""
    if not _COUNT_FUNCTIONS:
        from numba.np.ufunc import parallel

        parallel._launch_threads()
        raw = getattr(parallel, "_get_num_threads", None), getattr(parallel, "_set_num_threads", None)
        _COUNT_FUNCTIONS.extend(raw if all(raw) else (get_num_threads, set_num_threads))
    return _COUNT_FUNCTIONS
