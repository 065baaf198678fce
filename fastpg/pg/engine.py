"""The policy-gradient engine: batched rollouts and gradient estimates, validated at the boundary.

Parameters theta: float64[4] (no bias) or float64[5] (bias last), over the features
(cart position, cart velocity, pole angle, pole angular velocity[, 1]).
P(left | s) = sigmoid(theta . s), action 0 = push left, as in Gymnasium.

Seeding: a batch with seed ``seed`` makes one generator ``g = np.random.default_rng(seed)``; its m
episodes start from ``g.uniform(-0.05, 0.05, size=(m, 4))``, i.e. the initial states a Gymnasium
CartPole env gives on ``reset(seed=seed)`` followed by m - 1 plain ``reset()`` calls. Episode i
then draws its action uniforms from the xoshiro256** stream (key, i) of ``fastpg._rng`` with
key = ``g.bit_generator.random_raw()`` (the generator's next 64 bits); action 0 iff u < P(left).
Results are bit-identical for any thread count: each episode owns its stream and its output row,
and per-episode terms are summed in episode order.

Kernels run on ``threads`` of Numba's threads (1 by default; at most ``NUMBA_NUM_THREADS``); every
count runs the same compiled loop.
"""

from __future__ import annotations

import math
import numbers
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from .._jit import max_threads, numba_threads
from ..cartpole.spec import DEFAULT_PARAMS, RESET_HIGH, RESET_LOW, CartPoleParams, params_array
from ..limits import MAX_BATCH_BYTES, MAX_THREADS
from ..validate import check_episodes, check_gamma, check_int, check_seed, check_theta
from . import _estimators as est
from ._rollout import rollout_batch, rollout_batch_serial, stream_kernel
from ._seeding import batch_seed
from .options import (
    BASELINES, LEAVE_ONE_OUT_BASELINES, NORMALIZE, NORMALIZE_EPISODE, baseline_code, normalize_name,
    psi_code, streamable,
)

LEAVE_ONE_OUT_CODES = tuple(BASELINES[name] for name in LEAVE_ONE_OUT_BASELINES)
_ONE_THREAD = nullcontext()  # a serial kernel needs no thread count


@dataclass(frozen=True)
class Batch:
    """m stored episodes collected under ``theta``; arrays are padded to the horizon T.

    features float64[m, T, d], left bool[m, T] (action 0 taken), logits float64[m, T]
    (theta . features), rewards float64[m, T], lengths int64[m] in [0, T]. Entries at t >= lengths[i]
    are unspecified. Built inconsistently (shapes, dtypes, layout, lengths), it raises ``ValueError``.
    """

    theta: np.ndarray
    features: np.ndarray
    left: np.ndarray
    logits: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray

    def __post_init__(self) -> None:
        check_batch(self)

    @property
    def returns(self) -> np.ndarray:
        """Undiscounted return of each episode, float64[m]."""
        check_batch(self)
        return _returns(self)


def check_batch(batch: Batch) -> Batch:
    """``batch`` if it is consistent, else ``TypeError``/``ValueError``: kernels trust its shapes and lengths.

    Checked when a Batch is built and again before every kernel reads one (its arrays are mutable).
    """
    if not isinstance(batch, Batch):
        raise TypeError(f"expected a fastpg.pg.engine.Batch, got {type(batch).__name__}")
    theta = check_theta(batch.theta)
    if batch.features.__class__ is not np.ndarray or batch.features.ndim != 3:
        raise ValueError("Batch.features must be a float64 array of shape (m, T, d)")
    m, horizon, _ = batch.features.shape
    expected = {"features": (np.float64, (m, horizon, theta.shape[0])), "left": (np.bool_, (m, horizon)),
                "logits": (np.float64, (m, horizon)), "rewards": (np.float64, (m, horizon)),
                "lengths": (np.int64, (m,))}
    for name, (dtype, shape) in expected.items():
        array = getattr(batch, name)
        if array.__class__ is not np.ndarray or array.dtype != dtype or array.shape != shape \
                or not array.flags.c_contiguous:
            raise ValueError(f"Batch.{name} must be a C-contiguous {np.dtype(dtype).name} array of shape {shape} "
                             f"(theta has {theta.shape[0]} entries), got "
                             f"{getattr(array, 'dtype', type(array).__name__)} {getattr(array, 'shape', '')}")
    if m < 1 or batch.lengths.min() < 0 or batch.lengths.max() > horizon:
        raise ValueError(f"Batch needs at least one episode and 0 <= lengths <= T = {horizon}")
    return batch


@dataclass(frozen=True)
class GradientEstimate:
    """A batch gradient estimate.

    grad float64[d] = mean of per_episode float64[m, d]; variance float64[d], the empirical
    variance of the estimator, var(per_episode, ddof=1) / m (zero when m = 1); fisher
    float64[d, d] = 1/m sum_i sum_t p(1-p) f f^T (None for a streamed estimate made without
    ``fisher=True``); lengths int64[m]; returns float64[m]
    (undiscounted). ``batch`` and ``advantages`` (float64[m, T, d], the advantage of step t for
    parameter k exactly as the estimator weighted it: Psi - b, normalized if asked) are None
    when the estimate was streamed.
    """

    grad: np.ndarray
    per_episode: np.ndarray
    fisher: np.ndarray | None
    lengths: np.ndarray
    returns: np.ndarray
    batch: Batch | None = None
    advantages: np.ndarray | None = None

    @property
    def steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def variance(self) -> np.ndarray:
        m = self.per_episode.shape[0]
        return self.per_episode.var(axis=0, ddof=1) / m if m > 1 else np.zeros(self.per_episode.shape[1])


def check_stored_batch(episodes: int, horizon: int, d: int, baseline: str = "none") -> None:
    """``ValueError`` if a stored batch (trajectories and the estimators' work arrays) would not fit.

    A leave-one-out baseline holds one baseline per episode: 8 d more bytes per step.
    """
    per_step = 16 * d + 33 + (8 * d if baseline in LEAVE_ONE_OUT_BASELINES else 0)
    if episodes * horizon * per_step > MAX_BATCH_BYTES:
        raise ValueError(f"a stored batch of {episodes} episodes x {horizon} steps needs more than "
                         f"{MAX_BATCH_BYTES >> 20} MiB; use a smaller batch or a streaming estimate "
                         f"(baseline none, batch_mean or batch_mean_loo, no normalization)")


def check_streamed_batch(episodes: int, d: int) -> None:
    """``ValueError`` if a streaming estimate's per-episode arrays (gradients, Fisher matrices) would not fit."""
    if episodes * 8 * (d * d + 4 * d + 8) > MAX_BATCH_BYTES:
        raise ValueError(f"a streaming estimate over {episodes} episodes needs more than {MAX_BATCH_BYTES >> 20} "
                         "MiB (the limit); use fewer episodes")


def check_threads(threads) -> int:
    """The Numba threads a call may use: an int in [1, MAX_THREADS], capped at ``NUMBA_NUM_THREADS``."""
    return min(check_int("threads", threads, 1, MAX_THREADS), max_threads)


def batch_start(theta, episodes, seed, params):
    """Validated (theta, params, params as a kernel array, initial states float64[m, 4], stream key uint64)."""
    theta = check_theta(theta)
    check_episodes(episodes)
    check_seed(seed)
    array = params_array(params)
    states0 = np.empty((episodes, 4))
    key = batch_seed(seed, RESET_LOW, RESET_HIGH, states0)  # NumPy's default_rng(seed) draws, bit for bit, ~10x faster
    return theta, params, array, states0, np.uint64(key)


def initial_states(episodes: int, seed: int) -> np.ndarray:
    """float64[episodes, 4]: the initial states of the ``episodes`` episodes of a batch seeded ``seed``."""
    check_episodes(episodes)
    return seeded_uniforms(episodes, seed, RESET_LOW, RESET_HIGH)


def seeded_uniforms(rows: int, seed: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """float64[rows, 4]: ``np.random.default_rng(seed).uniform(low, high, (rows, 4))``, drawn in a kernel
    (finite ``low <= high``)."""
    check_episodes(rows, "rows")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"low and high must be finite with low <= high, got {low!r}, {high!r}")
    out = np.empty((rows, 4))
    batch_seed(check_seed(seed), low, high, out)
    return out


def rollout(theta, episodes: int, seed: int, *, params: CartPoleParams = DEFAULT_PARAMS, greedy: bool = False,
            threads: int = 1) -> Batch:
    """Collect ``episodes`` episodes under the policy ``theta`` and store them."""
    theta, params, array, states0, key = batch_start(theta, episodes, seed, params)
    horizon, d = params.max_episode_steps, theta.shape[0]
    check_stored_batch(episodes, horizon, d)
    features = np.empty((episodes, horizon, d))
    left = np.empty((episodes, horizon), dtype=np.bool_)
    logits, rewards = np.empty((episodes, horizon)), np.empty((episodes, horizon))
    lengths = np.empty(episodes, dtype=np.int64)
    threads = check_threads(threads)
    kernel = rollout_batch if threads > 1 else rollout_batch_serial
    with numba_threads(threads) if threads > 1 else _ONE_THREAD:
        kernel(theta, states0, key, array, bool(greedy), np.empty((episodes, 4), dtype=np.uint64), features, left,
               logits, rewards, lengths)
    return Batch(theta, features, left, logits, rewards, lengths)


def check_estimator(baseline: str, normalize, episodes: int) -> tuple[int, int]:
    """Kernel codes (baseline, normalization) of an estimator; ``ValueError`` if unknown or if a leave-one-out
    baseline is asked of fewer than 2 episodes."""
    kind, mode = baseline_code(baseline), NORMALIZE[normalize_name(normalize)]
    if baseline in LEAVE_ONE_OUT_BASELINES and episodes < 2:
        raise ValueError(f"baseline {baseline!r} leaves each episode out of its own baseline: it needs at least 2 "
                         f"episodes per batch, got {episodes}")
    return kind, mode


def advantage_terms(batch: Batch, code: int, gamma: float, kind: int, mode: int):
    """Psi float64[m, T], the baseline float64[1 or m, T, d] of a stored batch, and room for the
    normalization's shift and scale float64[1 or m, d] (one row for all episodes, or one per episode)."""
    m, horizon, d = batch.features.shape
    psi_values = np.zeros((m, horizon))
    est.psi_fill(batch.rewards, batch.lengths, code, gamma, psi_values)
    b = np.empty((m if kind in LEAVE_ONE_OUT_CODES else 1, horizon, d))
    est.baseline_fill(batch.features, batch.left, batch.logits, batch.lengths, psi_values, kind, b)
    rows = m if mode == NORMALIZE_EPISODE else 1
    return psi_values, b, np.empty((rows, d)), np.empty((rows, d))


def gradient(batch: Batch, *, psi: str = "reward_to_go", gamma: float = 1.0, discount: str = "from_start",
             baseline: str = "none", normalize: bool | str = False) -> GradientEstimate:
    """Estimate the policy gradient at ``batch.theta`` from a stored batch (see the estimators' docs).

    ``normalize``: "none" (or False), "batch" (or True) or "episode".
    """
    check_batch(batch)
    return _stored_gradient(batch, psi_code(psi, discount), check_gamma(gamma), baseline, normalize)


def _returns(batch: Batch) -> np.ndarray:
    """Undiscounted return of each episode of a checked batch, float64[m]."""
    out = np.empty(batch.lengths.shape[0])
    est.returns_fill(batch.rewards, batch.lengths, out)
    return out


def _stored_gradient(batch: Batch, code: int, gamma: float, baseline: str, normalize) -> GradientEstimate:
    """:func:`gradient` of a checked batch, for a psi code and a checked gamma."""
    m, horizon, d = batch.features.shape
    kind, mode = check_estimator(baseline, normalize, m)
    check_stored_batch(m, horizon, d, baseline)
    psi_values, b, shift, scale = advantage_terms(batch, code, gamma, kind, mode)
    per_episode, grad, fisher = np.empty((m, d)), np.empty(d), np.empty((d, d))
    advantages = np.zeros((m, horizon, d))
    est.gradient_accumulate(batch.features, batch.left, batch.logits, batch.lengths, psi_values, b, mode, shift,
                            scale, per_episode, grad, advantages)
    est.fisher_accumulate(batch.features, batch.logits, batch.lengths, fisher)
    return GradientEstimate(grad, per_episode, fisher, batch.lengths, _returns(batch), batch, advantages)


def estimate_gradient(theta, episodes: int, seed: int, *, psi: str = "reward_to_go", gamma: float = 1.0,
                      discount: str = "from_start", baseline: str = "none", normalize: bool | str = False,
                      params: CartPoleParams = DEFAULT_PARAMS, threads: int = 1,
                      streaming: bool | None = None, fisher: bool = False) -> GradientEstimate:
    """Roll out a batch and estimate the gradient; streams (stores no trajectory) when it can.

    ``streaming=None`` streams whenever the estimator allows it (baseline "none", "batch_mean" or
    "batch_mean_loo", no normalization); ``True`` requires it; ``False`` stores the batch. ``fisher=True``
    has the streaming kernel accumulate the Fisher matrix too (a streamed estimate without it has
    ``fisher`` None; a stored one always has it, computed from the stored batch).
    """
    code = psi_code(psi, discount)
    gamma = check_gamma(gamma)
    check_estimator(baseline, normalize, check_episodes(episodes))
    can_stream = streamable(baseline, normalize)
    if streaming and not can_stream:
        raise ValueError("streaming needs baseline 'none', 'batch_mean' or 'batch_mean_loo' and no normalization")
    if not (can_stream if streaming is None else streaming):
        batch = rollout(theta, episodes, seed, params=params, threads=threads)  # checked when built
        return _stored_gradient(batch, code, gamma, baseline, normalize)
    theta, params, array, states0, key = batch_start(theta, episodes, seed, params)
    m, d = episodes, theta.shape[0]
    check_streamed_batch(m, d)
    grads, score_sums, lengths, discounted, totals = (np.empty((m, d)), np.empty((m, d)), np.empty(m, dtype=np.int64),
                                                      np.empty(m), np.empty(m))
    fishers = np.empty((m, d, d) if fisher else (m, 0, 0))
    threads = check_threads(threads)
    kernel = stream_kernel(code, bool(fisher), d, threads > 1)
    with numba_threads(threads) if threads > 1 else _ONE_THREAD:
        kernel(theta, states0, key, array, gamma, np.empty((m, 4), dtype=np.uint64), grads, score_sums, fishers,
               lengths, discounted, totals)
    if baseline == "batch_mean":
        grads -= (discounted.sum() / m) * score_sums
    elif baseline == "batch_mean_loo":  # the others' mean return, as baseline_fill forms it
        others = np.empty(m)
        est.others_sum(discounted, others)
        grads -= (others / (m - 1))[:, None] * score_sums
    grad = np.empty(d)
    est.mean_rows(grads, grad)
    return GradientEstimate(grad, grads, fishers.sum(axis=0) / m if fisher else None, lengths, totals)
