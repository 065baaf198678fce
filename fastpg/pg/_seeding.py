"""A batch's start from its seed in one kernel call: NumPy's ``default_rng(seed)`` draws, bit for bit.

``batch_seed(seed, low, high, out)`` writes ``np.random.default_rng(seed).uniform(low, high, out.shape)``
into ``out`` and returns the generator's next ``bit_generator.random_raw()``, in about a microsecond
(NumPy takes ~10 µs, mostly building the generator). It follows NumPy's published algorithms:
``SeedSequence`` (pool of 4 uint32 words, hashmix/mix, ``generate_state(4, uint64)``) seeding ``PCG64``
(128-bit LCG, XSL-RR output; ``next_double`` = (next64 >> 11) * 2**-53; uniform = low + (high - low) u).
``seed_sequence_word(seed, stream, index)`` is ``SeedSequence([seed, stream, index]).generate_state(1, uint64)``
(~0.3 µs instead of NumPy's ~19 µs): the training loop derives its per-update seeds with it.
Seeds are ints in [0, 2**63); tests compare both with NumPy.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, types

_M32 = np.uint64(0xFFFFFFFF)
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_MUL_HI, _MUL_LO = np.uint64(0x2360ED051FC65DA4), np.uint64(0x4385DF649FCCF645)  # PCG's 128-bit multiplier
_0, _1, _11, _16, _32, _58, _64 = (np.uint64(v) for v in (0, 1, 11, 16, 32, 58, 64))
_TWO_M53 = 2.0**-53


@njit(inline="always")
def _hashmix(value, hash_const):
    """SeedSequence's hashmix on uint32 values held in uint64: (mixed value, next hash constant)."""
    value = value ^ hash_const
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _16), hash_const


@njit(inline="always")
def _mix(x, y):
    result = ((_MIX_L * x) - (_MIX_R * y)) & _M32
    return result ^ (result >> _16)


@njit(inline="always")
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    a0, a1, b0, b1 = a & _M32, a >> _32, b & _M32, b >> _32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    middle = (p00 >> _32) + (p01 & _M32) + (p10 & _M32)
    return p11 + (p01 >> _32) + (p10 >> _32) + (middle >> _32)


@njit(inline="always")
def _step(hi, lo, inc_hi, inc_lo):
    """One PCG64 LCG step: state * multiplier + increment (mod 2**128), as (hi, lo)."""
    new_hi = _mulhi(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    new_lo = lo * _MUL_LO
    lo = new_lo + inc_lo
    return new_hi + inc_hi + (_1 if lo < new_lo else _0), lo


@njit(inline="always")
def _output(hi, lo):
    """XSL-RR: rotate hi ^ lo right by the top 6 bits of the state."""
    value, rot = hi ^ lo, hi >> _58
    return (value >> rot) | (value << ((_64 - rot) & np.uint64(63)))


@njit(inline="always")
def _pool(entropy, n):
    """SeedSequence's pool (uint64[4] of uint32 values) from its first ``n`` entropy words (uint32 in uint64)."""
    pool = np.empty(4, dtype=np.uint64)
    hash_const = _INIT_A
    for i in range(4):
        pool[i], hash_const = _hashmix(entropy[i] if i < n else _0, hash_const)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                mixed, hash_const = _hashmix(pool[i_src], hash_const)
                pool[i_dst] = _mix(pool[i_dst], mixed)
    for i_src in range(4, n):  # entropy beyond the pool's 4 words
        for i_dst in range(4):
            mixed, hash_const = _hashmix(entropy[i_src], hash_const)
            pool[i_dst] = _mix(pool[i_dst], mixed)
    return pool


@njit(inline="always")
def _state_word(pool, i, hash_const):
    """generate_state's uint32 word i: (word, next hash constant)."""
    value = pool[i % 4] ^ hash_const
    hash_const = (hash_const * _MULT_B) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _16), hash_const


@njit(inline="always")
def _put_int(value, entropy, n):
    """Append the uint32 words of the int ``value`` >= 0 (low word first; 0 is one word) at entropy[n:]; new n."""
    value = np.uint64(value)
    entropy[n] = value & _M32
    n += 1
    value >>= _32
    while value != _0:
        entropy[n] = value & _M32
        n += 1
        value >>= _32
    return n


@njit(types.uint64(types.int64, types.int64, types.int64))
def seed_sequence_word(seed, stream, index):
    """``np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0]`` (ints in [0, 2**63))."""
    entropy = np.empty(6, dtype=np.uint64)
    n = _put_int(index, entropy, _put_int(stream, entropy, _put_int(seed, entropy, 0)))
    pool = _pool(entropy, n)
    low, hash_const = _state_word(pool, 0, _INIT_B)
    high, _ = _state_word(pool, 1, hash_const)
    return low | (high << _32)


@njit(types.uint64(types.int64, types.float64, types.float64, types.float64[:, ::1]))
def batch_seed(seed, low, high, out):
    """``g = np.random.default_rng(seed)``; ``out[:] = g.uniform(low, high, out.shape)``; returns
    ``g.bit_generator.random_raw()`` (seed: an int in [0, 2**63))."""
    entropy = np.empty(2, dtype=np.uint64)
    pool = _pool(entropy, _put_int(seed, entropy, 0))
    state = np.empty(4, dtype=np.uint64)  # generate_state(4, uint64): 8 uint32 words, little-endian pairs
    hash_const = _INIT_B
    for i in range(4):
        word_low, hash_const = _state_word(pool, 2 * i, hash_const)
        word_high, hash_const = _state_word(pool, 2 * i + 1, hash_const)
        state[i] = word_low | (word_high << _32)
    inc_hi = (state[2] << _1) | (state[3] >> np.uint64(63))  # increment = (state[2:4] << 1) | 1
    inc_lo = (state[3] << _1) | _1
    hi, lo = _step(_0, _0, inc_hi, inc_lo)
    lo_sum = lo + state[1]
    hi, lo = _step(hi + state[0] + (_1 if lo_sum < lo else _0), lo_sum, inc_hi, inc_lo)
    width = high - low
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            hi, lo = _step(hi, lo, inc_hi, inc_lo)
            out[i, j] = low + width * (np.float64(_output(hi, lo) >> _11) * _TWO_M53)
    hi, lo = _step(hi, lo, inc_hi, inc_lo)
    return _output(hi, lo)
