"""Kernels of the vector env: step N CartPoles with Gymnasium's vector semantics in one call."""

from __future__ import annotations

from .._jit import njit, types
from .kernels import PARAMS_TYPE, cartpole_dynamics, cartpole_terminated, cartpole_vector_reward
from .spec import MAX_EPISODE_STEPS, NUM_PARAMS

_STATES = types.float64[:, ::1]
_RESETS = types.float64[:, ::1]
_FLAGS = types.boolean[::1]


@njit(types.int64(_STATES, types.int64[::1], types.int32[::1], _FLAGS, _RESETS, PARAMS_TYPE,
                  types.float32[:, ::1], types.float32[::1], _FLAGS, _FLAGS))
def vector_step(states, actions, steps, done, resets, params, obs_out, reward_out, terminated_out, truncated_out):
    """Step every env; envs flagged in ``done`` are reset instead (Gymnasium's next-step autoreset).

    states : float64[N, 4], updated in place. actions : int64[N] in {0, 1}.
    steps : int32[N] episode step counters, updated in place.
    done : bool[N]; on entry, envs to reset instead of step (row j of the reset draws
        ``resets[:, j]`` goes to the j-th flagged env in index order); on exit, terminated | truncated.
    resets : float64[4, k], k = number of flagged envs.
    Writes obs_out float32[N, 4], reward_out float32[N], terminated_out and truncated_out bool[N]:
    reset envs report reward +0.0 and no flags; with the Sutton-Barto reward a non-terminal step
    is -0.0, as Gymnasium's ``-float32(terminated)`` gives. Returns the number of envs now done.
    Raises ``ValueError`` (before changing anything) on a shape mismatch or an action outside {0, 1}.
    """
    n = states.shape[0]
    if (states.shape[1] != 4 or actions.shape[0] != n or steps.shape[0] != n or done.shape[0] != n
            or obs_out.shape[0] != n or obs_out.shape[1] != 4 or reward_out.shape[0] != n
            or terminated_out.shape[0] != n or truncated_out.shape[0] != n or params.shape[0] != NUM_PARAMS
            or resets.shape[0] != 4):
        raise ValueError("vector_step: array shapes do not match the number of envs")
    flagged = 0
    for i in range(n):
        if actions[i] != 0 and actions[i] != 1:
            raise ValueError("actions must be 0 (left) or 1 (right)")
        flagged += done[i]
    if flagged != resets.shape[1]:
        raise ValueError("vector_step: one reset column is needed per env flagged in done")
    max_steps = params[MAX_EPISODE_STEPS]
    j = 0
    now_done = 0
    for i in range(n):
        if done[i]:
            for c in range(4):
                states[i, c] = resets[c, j]
            j += 1
            steps[i] = 0
            reward_out[i] = 0.0
            terminated_out[i] = False
            truncated_out[i] = False
            done[i] = False
        else:
            x, x_dot, angle, angle_dot = cartpole_dynamics(
                states[i, 0], states[i, 1], states[i, 2], states[i, 3], actions[i], params
            )
            states[i, 0] = x
            states[i, 1] = x_dot
            states[i, 2] = angle
            states[i, 3] = angle_dot
            terminated = cartpole_terminated(x, angle, params)
            steps[i] += 1
            truncated = steps[i] >= max_steps
            reward_out[i] = cartpole_vector_reward(terminated, params)
            terminated_out[i] = terminated
            truncated_out[i] = truncated
            done[i] = terminated or truncated
            now_done += done[i]
        for c in range(4):
            obs_out[i, c] = states[i, c]
    return now_done


@njit(types.void(_STATES, types.int32[::1], _FLAGS, _RESETS, types.float32[:, ::1]))
def vector_reset_rows(states, steps, mask, resets, obs_out):
    """Reset the envs flagged in ``mask`` from ``resets`` (float64[4, k], column j to the j-th flagged env).

    Zeroes their step counters and writes their float32 observations into ``obs_out`` (float32[N, 4]).
    """
    n = states.shape[0]
    if steps.shape[0] != n or mask.shape[0] != n or obs_out.shape[0] != n or resets.shape[0] != 4:
        raise ValueError("vector_reset_rows: array shapes do not match the number of envs")
    flagged = 0
    for i in range(n):
        flagged += mask[i]
    if flagged != resets.shape[1]:
        raise ValueError("vector_reset_rows: one reset column is needed per flagged env")
    j = 0
    for i in range(n):
        if mask[i]:
            for c in range(4):
                states[i, c] = resets[c, j]
                obs_out[i, c] = states[i, c]
            j += 1
            steps[i] = 0


@njit(types.boolean(types.int64[::1]))
def actions_valid(actions):
    """True if every action is 0 or 1 (checked before a step draws its autoreset states)."""
    for i in range(actions.shape[0]):
        if actions[i] != 0 and actions[i] != 1:
            return False
    return True
