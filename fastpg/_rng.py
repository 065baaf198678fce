"""Per-episode random streams: xoshiro256** (Blackman & Vigna, 2018) seeded by splitmix64.

Episode ``e`` of a batch with key ``K`` (uint64) owns the stream whose four state words are the
splitmix64 outputs at counters ``K + (4e + 1) G``, ..., ``K + (4e + 4) G`` (``G`` =
0x9E3779B97F4A7C15, mod 2**64): every episode of a batch has its own window of four counters,
disjoint from every other episode's, and splitmix64's output function is a bijection, so no two
episodes of a batch share a state word. Their xoshiro256** streams (period 2**256 - 1) then
overlap only if one 256-bit state lands within L steps of another's: probability below
m**2 L / 2**256 for m episodes of L draws each, the same guarantee as ``SeedSequence.spawn``.
Each uniform is ``(next >> 11) * 2**-53`` in [0, 1). Plain uint64 arithmetic, so a C reference
reproduces it bit for bit.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit, types

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_4 = np.uint64(4)
_5, _7, _9, _11, _17 = np.uint64(5), np.uint64(7), np.uint64(9), np.uint64(11), np.uint64(17)
_27, _30, _31, _45, _64 = np.uint64(27), np.uint64(30), np.uint64(31), np.uint64(45), np.uint64(64)
_TWO_M53 = 2.0**-53


@njit(inline="always")
def _rotl(x, k):
    return (x << k) | (x >> (_64 - k))


@njit(inline="always")
def rng_seed_episode(key, episode, rng):
    """Seed ``rng`` (uint64[4]) with episode ``episode``'s stream of batch key ``key`` (uint64)."""
    z = key + np.uint64(episode) * _4 * _GOLDEN  # counters K + (4e + 1..4) G
    for k in range(4):
        z += _GOLDEN
        x = z
        x = (x ^ (x >> _30)) * _MIX1
        x = (x ^ (x >> _27)) * _MIX2
        rng[k] = x ^ (x >> _31)


@njit(inline="always")
def rng_next(s0, s1, s2, s3):
    """One xoshiro256** step on a state held in registers: (uniform in [0, 1), s0, s1, s2, s3)."""
    result = _rotl(s1 * _5, _7) * _9
    t = s1 << _17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _45)
    return np.float64(result >> _11) * _TWO_M53, s0, s1, s2, s3


@njit(inline="always")
def rng_uniform(rng):
    """The next uniform double in [0, 1) of the xoshiro256** state ``rng`` (uint64[4], advanced in place)."""
    u, rng[0], rng[1], rng[2], rng[3] = rng_next(rng[0], rng[1], rng[2], rng[3])
    return u


@njit(types.void(types.uint64, types.int64, types.float64[::1]))
def episode_uniforms(key, episode, out):
    """Write the first ``len(out)`` uniforms of episode ``episode``'s stream into ``out`` (float64[n])."""
    rng = np.empty(4, dtype=np.uint64)
    rng_seed_episode(key, episode, rng)
    for i in range(out.shape[0]):
        out[i] = rng_uniform(rng)
