"""The solve check's kernel on several threads: "play until hopeless" in chunks, with the serial decision.

``play_until_hopeless`` (``fastpg.pg._rollout``) plays episodes 0, 1, ... one after another and
stops at the first episode after which the target total is out of reach. This kernel plays the
episodes ``chunk`` at a time, one per ``prange`` iteration, then adds their returns in episode order
and applies the same test after each: it stops after the same episode, with the same returns,
whatever ``chunk`` and the thread count (a test holds it to the serial kernel). At most
``chunk - 1`` episodes past the stopping one are played and discarded.
"""

from __future__ import annotations

from .._jit import pnjit, prange
from ._rollout import episode_play


@pnjit
def play_until_hopeless_chunked(theta, states0, key, params, greedy, min_total, best_return, chunk, rng, feature,
                                lengths, returns):
    """Like ``play_until_hopeless`` (same arguments, plus ``chunk`` >= 1 episodes played in parallel at a
    time); writes lengths[i] and returns[i] of the episodes played and returns how many count."""
    m = states0.shape[0]
    total = 0.0
    for first in range(0, m, chunk):
        last = min(first + chunk, m)
        for i in prange(first, last):
            lengths[i], returns[i] = episode_play(theta, states0[i], key, i, params, greedy, rng[i], feature[i])
        for i in range(first, last):
            total += returns[i]
            if total + (m - 1 - i) * best_return < min_total:
                return i + 1
    return m
