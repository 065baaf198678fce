"""What every fuzz case asserts: only documented exceptions, an allocation bound, a deadline.

``@fuzz(n)`` runs a test ``n`` times (x10 under the ``fuzz`` profile) with hypothesis and wraps
each case in :func:`bounded`: tracemalloc's peak over the case must stay under ``MAX_CASE_BYTES``.
Each test then calls :func:`documented` around the call under test: it returns the result or
the exception, which must be one of the documented types.
"""

from __future__ import annotations

import functools
import os
import tracemalloc
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
SCALE = {"ci": 1, "fuzz": 10, "dev": 0.1}  # dev: a quick look while writing tests
MAX_CASE_BYTES = 256 << 20  # what one fuzz case may allocate (Python and NumPy, tracemalloc's peak)
CASES: Counter = Counter()  # cases run, per test
_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.function_scoped_fixture]
DEADLINE = timedelta(seconds=30)  # per case: catches a hang; roomy enough for a kernel's first compile on 2 busy cores
settings.register_profile("ci", deadline=DEADLINE, derandomize=True, database=None,
                          suppress_health_check=_CHECKS, print_blob=True)
settings.register_profile("fuzz", deadline=DEADLINE, suppress_health_check=_CHECKS, print_blob=True)
settings.register_profile("dev", settings.get_profile("ci"))


def fuzz(examples: int):
    """Hypothesis settings of the chosen profile with ``examples`` cases (times the profile's scale)."""
    parent = settings.get_profile(PROFILE if PROFILE in SCALE else "ci")

    def decorate(test):
        @functools.wraps(test)
        def counted(*args, **kwargs):
            CASES[test.__name__] += 1
            with bounded():
                return test(*args, **kwargs)

        return settings(parent, max_examples=max(1, int(examples * SCALE.get(PROFILE, 1))))(counted)

    return decorate


class bounded:
    """Trace allocations over a block and fail if their peak exceeds ``MAX_CASE_BYTES``."""

    def __enter__(self):
        self.started = not tracemalloc.is_tracing()
        if self.started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self.base = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        peak = tracemalloc.get_traced_memory()[1] - self.base
        if self.started:
            tracemalloc.stop()
        assert peak <= MAX_CASE_BYTES, f"a case allocated {peak} bytes (limit {MAX_CASE_BYTES})"
        return False


def documented(call, *allowed: type[BaseException]):
    """``call()``'s result, or the exception it raised if it is one of ``allowed`` (default ValueError,
    TypeError); any other exception fails the case."""
    try:
        return call()
    except allowed or (ValueError, TypeError) as exc:
        return exc
