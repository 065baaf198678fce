"""Batched CartPole kernels over struct-of-arrays state: an opt-in fast mode, and the exact mode.

State is float64[4, N] (rows ``X, X_DOT, ANGLE, ANGLE_DOT`` of ``fastpg.cartpole.spec``), one column per
env, so the loop over envs reads and writes contiguous rows and LLVM vectorizes it (4 doubles per
AVX2/AVX-512VL instruction), with no branch on the action or on termination in the loop.

Fast mode (``exact=False``) differs from ``kernels.cartpole_dynamics`` in two ways only:
- sin/cos are fdlibm's minimax polynomials (:func:`fast_sincos`, error at most 1 ulp for
  ``|angle| <= FAST_ANGLE_LIMIT = pi/4``); there is no range reduction, so the kernels refuse
  fast mode unless every angle they can meet is in range: reset bounds and the termination
  angle both at most pi/4 (a live pole never leaves the termination band);
- divisions by total_mass and products of constants are folded into the constants of
  :func:`fast_constants` (one division per step is left), and the force is ``2 a f - f``.
A step then differs from exact mode by a few ulps of its terms. Exact mode (``exact=True``)
calls ``cartpole_dynamics`` (libm sin/cos) and is bit-identical to the scalar kernels.

Both modes share the bookkeeping: Gymnasium's termination test, step counters and truncation,
and same-step autoreset. Env i owns the xoshiro256** stream (key, i) of ``_rng``, held in
registers as a column of rng uint64[4, N]; its j-th reset takes uniforms 4j..4j+3 of the stream,
u, as ``low + (high - low) * u`` for (x, x_dot, angle, angle_dot). To keep the random draws out
of the step loop, each env's next initial state is drawn ahead into ``nxt`` float64[4, N] (flag
``FRESH`` in its step counter) by a vectorized refill pass run every ``REFILL_EVERY`` steps; the
step loop swaps it in with a select. An env that finishes before its refill (episodes shorter
than REFILL_EVERY steps: rare under Gymnasium's default bounds) is marked ``STALE`` and reset by
a scalar pass at the end of the step. Either way reset j uses the same uniforms, so results do
not depend on the refill schedule, on chunking, or on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import njit, pnjit, prange, types
from .._rng import rng_next, rng_seed_episode
from .kernels import PARAMS_TYPE, cartpole_dynamics
from .spec import (
    ANGLE_THRESHOLD, FORCE_MAG, GRAVITY, INTEGRATOR, LENGTH, MASSPOLE, MAX_EPISODE_STEPS, NUM_PARAMS,
    POLEMASS_LENGTH, SEMI_IMPLICIT_EULER, TAU, TOTAL_MASS, X_THRESHOLD,
)

FAST_ANGLE_LIMIT = math.pi / 4  # fast_sincos is within 1 ulp of sin/cos for |angle| <= this
FRESH = 1 << 30  # step-counter flag: the env's next initial state is drawn, in nxt
STALE = -1  # step counter of an env that finished without a drawn initial state
COUNT = FRESH - 1  # step-counter mask of the episode step count
REFILL_EVERY = 8  # steps between refill passes (random-action episodes from +-0.05 last >= 8 steps)

# fdlibm's __kernel_sin / __kernel_cos coefficients (FreeBSD msun, k_sin.c and k_cos.c).
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11

_STATE = types.float64[:, ::1]
_STEPS = types.int32[::1]
_RNG = types.uint64[:, ::1]
_FLAGS = types.boolean[::1]


@njit(inline="always")
def fast_sincos(angle):
    """``(sin(angle), cos(angle))`` by polynomials, error at most 1 ulp for ``|angle| <= FAST_ANGLE_LIMIT``.

    fdlibm's minimax kernels: sin = x + x^3 (S1 + x^2 P(x^2)), cos = 1 - (x^2/2 - x^4 Q(x^2)).
    Outside the range the error grows quickly.
    """
    z = angle * angle
    w = z * z
    r = _S2 + z * (_S3 + z * _S4) + z * w * (_S5 + z * _S6)
    size = abs(angle)  # sin is odd: evaluated at |angle|, then signed, so that sin(-0.0) is -0.0
    sin = math.copysign(size + z * size * (_S1 + z * r), angle)
    r = z * (_C1 + z * (_C2 + z * _C3)) + w * w * (_C4 + z * (_C5 + z * _C6))
    cos = 1.0 - (0.5 * z - z * r)
    return sin, cos


@njit(inline="always")
def fast_constants(params):
    """The constants :func:`fast_dynamics` takes, derived once from ``params`` (float64[NUM_PARAMS])."""
    total_mass, length = params[TOTAL_MASS], params[LENGTH]
    force = params[FORCE_MAG] / total_mass
    return (params[GRAVITY], 2.0 * force, force, params[POLEMASS_LENGTH] / total_mass, length * (4.0 / 3.0),
            length * (params[MASSPOLE] / total_mass), params[TAU], params[INTEGRATOR] == SEMI_IMPLICIT_EULER)


@njit(inline="always")
def fast_dynamics(x, x_dot, angle, angle_dot, action, k):
    """Fast-mode ``cartpole_dynamics``: ``action`` 0.0 or 1.0, ``k`` from :func:`fast_constants`.

    The same equations with the divisions by total_mass and the products with constants folded
    into ``k``; the force over total_mass is ``2 a f - f`` (exactly +-f, no branch). Both
    integrators without a branch: semi-implicit Euler moves with the updated velocities.
    """
    gravity, two_force, force, polemass_share, length_43, length_share, tau, semi = k
    sin_angle, cos_angle = fast_sincos(angle)
    temp = (action * two_force - force) + polemass_share * (angle_dot * angle_dot) * sin_angle
    angleacc = (gravity * sin_angle - cos_angle * temp) / (length_43 - length_share * (cos_angle * cos_angle))
    xacc = temp - polemass_share * angleacc * cos_angle
    new_x_dot = x_dot + tau * xacc
    new_angle_dot = angle_dot + tau * angleacc
    x = x + tau * (new_x_dot if semi else x_dot)
    angle = angle + tau * (new_angle_dot if semi else angle_dot)
    return x, new_x_dot, angle, new_angle_dot


@njit(inline="always")
def _draw_state(s0, s1, s2, s3, low, scale):
    """An initial state from four draws of the stream (s0, s1, s2, s3): (x, x_dot, angle, angle_dot, s0, s1, s2, s3)."""
    u0, s0, s1, s2, s3 = rng_next(s0, s1, s2, s3)
    u1, s0, s1, s2, s3 = rng_next(s0, s1, s2, s3)
    u2, s0, s1, s2, s3 = rng_next(s0, s1, s2, s3)
    u3, s0, s1, s2, s3 = rng_next(s0, s1, s2, s3)
    return low + scale * u0, low + scale * u1, low + scale * u2, low + scale * u3, s0, s1, s2, s3


@njit(inline="always")
def _rows(array, lo, hi):
    """Columns lo:hi of the four rows of a (4, N) array, as four contiguous views."""
    return array[0, lo:hi], array[1, lo:hi], array[2, lo:hi], array[3, lo:hi]


@njit(inline="always")
def _settle(i, x, x_dot, angle, angle_dot, rows, nxt, steps, limits, record, terminated, truncated, final):
    """Bookkeeping of env i after its dynamics: returns (finished, left STALE); see :func:`_advance`."""
    x_limit, angle_limit, max_steps = limits
    term = (abs(x) > x_limit) | (abs(angle) > angle_limit)  # Gymnasium's test, NaN included
    counter = steps[i]
    fresh = counter >= FRESH
    trunc = (counter & COUNT) + 1 >= max_steps
    done = term | trunc
    swap = done & fresh
    n0, n1, n2, n3 = nxt[0][i], nxt[1][i], nxt[2][i], nxt[3][i]  # loaded unconditionally: the selects vectorize
    rows[0][i] = n0 if swap else x
    rows[1][i] = n1 if swap else x_dot
    rows[2][i] = n2 if swap else angle
    rows[3][i] = n3 if swap else angle_dot
    steps[i] = (0 if fresh else STALE) if done else counter + 1
    if record:
        terminated[i] = term
        truncated[i] = trunc
        if done:
            final[0][i], final[1][i], final[2][i], final[3][i] = x, x_dot, angle, angle_dot
    return done, done & (not fresh)


@njit(inline="always")
def _advance(exact, rows, nxt, steps, actions, params, k, record, terminated, truncated, final):
    """Step a chunk's envs once and swap in the drawn initial state of those that finish.

    ``rows``, ``nxt``, ``final``: four views of length m; ``steps``, ``actions``, ``terminated``,
    ``truncated``: views of length m. With ``record``, writes terminated/truncated and, for
    finished envs, ``final`` (their last state). Returns (number finished, number left STALE).
    One loop per mode, so that the fast one, free of libm calls, vectorizes.
    """
    limits = (params[X_THRESHOLD], params[ANGLE_THRESHOLD], int(params[MAX_EPISODE_STEPS]))
    xs, x_dots, angles, angle_dots = rows
    finished = stale = 0
    if exact:
        for i in range(xs.shape[0]):
            x, x_dot, angle, angle_dot = cartpole_dynamics(xs[i], x_dots[i], angles[i], angle_dots[i], actions[i],
                                                           params)
            done, left = _settle(i, x, x_dot, angle, angle_dot, rows, nxt, steps, limits, record, terminated,
                                 truncated, final)
            finished += done
            stale += left
    else:
        for i in range(xs.shape[0]):
            x, x_dot, angle, angle_dot = fast_dynamics(xs[i], x_dots[i], angles[i], angle_dots[i],
                                                       float(actions[i]), k)
            done, left = _settle(i, x, x_dot, angle, angle_dot, rows, nxt, steps, limits, record, terminated,
                                 truncated, final)
            finished += done
            stale += left
    return finished, stale


@njit(inline="always")
def _reset_stale(rows, steps, rng, low, scale):
    """Give each STALE env of a chunk its initial state, drawn now (``rows``, ``rng``: four views of length m)."""
    for i in range(steps.shape[0]):
        if steps[i] == STALE:
            x, x_dot, angle, angle_dot, s0, s1, s2, s3 = _draw_state(rng[0][i], rng[1][i], rng[2][i], rng[3][i],
                                                                     low, scale)
            rows[0][i], rows[1][i], rows[2][i], rows[3][i] = x, x_dot, angle, angle_dot
            rng[0][i], rng[1][i], rng[2][i], rng[3][i] = s0, s1, s2, s3
            steps[i] = 0


@njit(inline="always")
def _refill(nxt, steps, rng, low, scale):
    """Draw the next initial state of each env of a chunk that has none (vectorized; selects, no branch)."""
    n0, n1, n2, n3 = nxt
    r0, r1, r2, r3 = rng
    for i in range(steps.shape[0]):
        counter = steps[i]
        x, x_dot, angle, angle_dot, s0, s1, s2, s3 = _draw_state(r0[i], r1[i], r2[i], r3[i], low, scale)
        if counter < FRESH:
            n0[i], n1[i], n2[i], n3[i] = x, x_dot, angle, angle_dot
            r0[i], r1[i], r2[i], r3[i] = s0, s1, s2, s3
            steps[i] = counter | FRESH


@njit(inline="always")
def _chunk_step(exact, lo, hi, state, nxt, steps, rng, actions, params, k, low, high, refill, record, terminated,
                truncated, final):
    """Step envs lo:hi once (``actions`` has length hi - lo): advance, reset STALE envs, refill if asked."""
    rows, rng_rows, scale = _rows(state, lo, hi), _rows(rng, lo, hi), high - low
    finished, stale = _advance(exact, rows, _rows(nxt, lo, hi), steps[lo:hi], actions, params, k, record,
                               terminated[lo:hi], truncated[lo:hi], _rows(final, lo, hi))
    if stale:
        _reset_stale(rows, steps[lo:hi], rng_rows, low, scale)
    if refill:
        _refill(_rows(nxt, lo, hi), steps[lo:hi], rng_rows, low, scale)
    return finished


@njit(inline="always")
def _check_batch(exact, state, nxt, steps, rng, params, low, high, nchunks):
    """Raise ``ValueError`` unless the arrays match ``state`` (4, N) and fast mode stays in range.

    Returns (N, chunk size).
    """
    n = state.shape[1]
    if (state.shape[0] != 4 or nxt.shape[0] != 4 or nxt.shape[1] != n or steps.shape[0] != n
            or rng.shape[0] != 4 or rng.shape[1] != n or params.shape[0] != NUM_PARAMS or nchunks < 1):
        raise ValueError("batch kernel: array shapes do not match state (4, N), or nchunks < 1")
    if not exact and (params[ANGLE_THRESHOLD] > FAST_ANGLE_LIMIT or max(abs(low), abs(high)) > FAST_ANGLE_LIMIT):
        raise ValueError("fast mode needs theta_threshold_radians, |low| and |high| <= FAST_ANGLE_LIMIT (pi/4)")
    if params[MAX_EPISODE_STEPS] >= FRESH:
        raise ValueError("batch kernel: max_episode_steps must be below 2**30")
    return n, (n + nchunks - 1) // nchunks


def _batch_step(exact, state, nxt, steps, rng, actions, params, low, high, refill, nchunks, terminated, truncated,
                final):
    """Step N envs once with same-step autoreset, in ``nchunks`` contiguous chunks (one per thread).

    exact : exact (libm) or fast dynamics. state, nxt : float64[4, N]; steps : int32[N];
    rng : uint64[4, N] (see the module doc); all updated in place. actions : uint8[N] in {0, 1}.
    params : ``CartPoleParams.as_array()``. low, high : reset bounds. refill : run the refill
    pass (at least every REFILL_EVERY calls for speed; any schedule gives the same results).
    nchunks : contiguous chunks of envs, run in parallel. Writes terminated and truncated bool[N]
    and, for envs that finished, their last state into their columns of final float64[4, N];
    ``state`` then holds their new initial state.
    Returns how many envs finished. Raises ``ValueError`` before changing anything on a shape
    mismatch, an action outside {0, 1}, or fast mode outside ``FAST_ANGLE_LIMIT``.
    """
    n, size = _check_batch(exact, state, nxt, steps, rng, params, low, high, nchunks)
    if (actions.shape[0] != n or terminated.shape[0] != n or truncated.shape[0] != n or final.shape[0] != 4
            or final.shape[1] != n):
        raise ValueError("batch_step: actions, terminated, truncated must have shape (N,), final (4, N)")
    if n and actions.max() > 1:
        raise ValueError("actions must be 0 (left) or 1 (right)")
    k = fast_constants(params)
    finished = np.zeros(nchunks, dtype=np.int64)
    for c in prange(nchunks):
        lo, hi = min(n, c * size), min(n, (c + 1) * size)
        finished[c] = _chunk_step(exact, lo, hi, state, nxt, steps, rng, actions[lo:hi], params, k, low, high, refill,
                                  True, terminated, truncated, final)
    return finished.sum()


def _batch_rollout(exact, state, nxt, steps, rng, actions, params, low, high, nchunks, block):
    """``T = actions.shape[0]`` steps (actions uint8[T, N], row t for step t) in one call.

    Equals T calls of batch_step (arguments as there) with nothing recorded. Each chunk takes its
    envs ``block`` at a time through all T steps, so that a block stays in cache, refilling every
    REFILL_EVERY steps and after the last. Returns the number of episodes that finished.
    """
    n, size = _check_batch(exact, state, nxt, steps, rng, params, low, high, nchunks)
    if actions.shape[1] != n or block < 1:
        raise ValueError("batch_rollout: actions must have shape (T, N) and block must be positive")
    if actions.size and actions.max() > 1:
        raise ValueError("actions must be 0 (left) or 1 (right)")
    k = fast_constants(params)
    horizon = actions.shape[0]
    finished = np.zeros(nchunks, dtype=np.int64)
    for c in prange(nchunks):
        unused_flags, unused_final = np.empty(0, dtype=np.bool_), np.empty((4, 0), dtype=np.float64)
        end, count = min(n, (c + 1) * size), 0
        for lo in range(min(n, c * size), end, block):
            hi = min(end, lo + block)
            for t in range(horizon):
                refill = t % REFILL_EVERY == REFILL_EVERY - 1 or t == horizon - 1
                count += _chunk_step(exact, lo, hi, state, nxt, steps, rng, actions[t, lo:hi], params, k, low, high,
                                     refill, False, unused_flags, unused_flags, unused_final)
        finished[c] = count
    return finished.sum()


def _batch_reset(state, nxt, steps, rng, key, low, high, nchunks):
    """Seed env i's stream (key, i) of ``_rng`` into rng[:, i]; draw its initial state and its next one.

    state, nxt float64[4, N] get ``low + (high - low) * u`` for four uniforms u each; steps int32[N]
    becomes ``FRESH`` (count 0, next state drawn).
    """
    n = state.shape[1]
    if (state.shape[0] != 4 or nxt.shape[0] != 4 or nxt.shape[1] != n or steps.shape[0] != n or rng.shape[0] != 4
            or rng.shape[1] != n or nchunks < 1):
        raise ValueError("batch_reset: array shapes do not match state (4, N), or nchunks < 1")
    size = (n + nchunks - 1) // nchunks
    scale = high - low
    for c in prange(nchunks):
        seeded = np.empty(4, dtype=np.uint64)
        lo, hi = min(n, c * size), min(n, (c + 1) * size)
        for i in range(lo, hi):
            rng_seed_episode(key, i, seeded)
            x, x_dot, angle, angle_dot, s0, s1, s2, s3 = _draw_state(seeded[0], seeded[1], seeded[2], seeded[3],
                                                                     low, scale)
            state[0, i], state[1, i], state[2, i], state[3, i] = x, x_dot, angle, angle_dot
            rng[0, i], rng[1, i], rng[2, i], rng[3, i] = s0, s1, s2, s3
            steps[i] = 0
        _refill(_rows(nxt, lo, hi), steps[lo:hi], _rows(rng, lo, hi), low, scale)


_STEP_ARGS = (types.boolean, _STATE, _STATE, _STEPS, _RNG)  # exact, state, nxt, steps, rng
batch_step = pnjit(types.int64(*_STEP_ARGS, types.uint8[::1], PARAMS_TYPE, types.float64, types.float64,
                               types.boolean, types.int64, _FLAGS, _FLAGS, _STATE))(_batch_step)
batch_rollout = pnjit(types.int64(*_STEP_ARGS, types.uint8[:, ::1], PARAMS_TYPE, types.float64, types.float64,
                                  types.int64, types.int64))(_batch_rollout)
batch_reset = pnjit(types.void(_STATE, _STATE, _STEPS, _RNG, types.uint64, types.float64, types.float64,
                               types.int64))(_batch_reset)
