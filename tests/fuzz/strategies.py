"""Hostile values: numbers at every edge, arrays of every shape and dtype, and things that are not arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 5e-324, 1e308]),
                   st.floats(-3.0, 3.0))
HUGE_INTS = st.sampled_from([-(2**63), -1, 2**31, 2**32 + 1, 2**63 - 1, 2**63, 2**64, 10**400])
INTS = st.one_of(st.integers(-3, 40), HUGE_INTS)
JUNK = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.binary(max_size=5), st.complex_numbers(),
                 st.just([]), st.just({}), st.just(object()), st.just(np.float16(1.0)), st.just(np.int8(1)))
SIZES = st.one_of(st.integers(-2, 12), st.sampled_from([10**6 + 1, 2**31, 2**40, 10**400]))


def arrays(shapes=None, dtypes=None, elements=None):
    """Arrays of small random shapes (or ``shapes``) and dtypes, with hostile floats."""
    if dtypes is None:
        dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_, np.uint8, np.float16,
                                  np.complex128])
    if shapes is None:
        shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)
    return dtypes.flatmap(lambda dtype: hnp.arrays(dtype, shapes, elements=elements if dtype == np.float64
                                                   else None))


def thetas():
    """Mostly plausible θ (4 or 5 finite values), then anything."""
    good = hnp.arrays(np.float64, st.sampled_from([4, 5]), elements=st.floats(-20, 20))
    return st.one_of(good, good, good, arrays(elements=FLOATS), JUNK,
                     st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=2)), max_size=6))
