"""fastpg's ``CartPoleVectorEnv`` as a drop-in for Gymnasium's: ``state``, ``steps``, ``prev_done``, constants,
rendering, bit for bit; and the ``"fastpg:fastpg/CartPole-v1"`` id in spawned worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastpg  # noqa: F401  (registers the envs)

from .conftest import assert_bitwise
from .test_dropin_env import CONSTANTS, NEW_VALUES, RANDOM_CONSTANTS

N = 6
# Each constant as a plain float, as a np.float32 and as a per-env array (Gymnasium's arithmetic broadcasts it).
VECTOR_SETTINGS = [
    *[(name, value) for name, values in NEW_VALUES.items()
      for value in (values[0], np.float32(values[0]), np.linspace(values[0], 2 * values[0], N))],
    ("max_episode_steps", 40), ("max_episode_steps", 25.5), ("max_episode_steps", np.array([30, 40, 50, 60, 70, 80])),
    ("kinematics_integrator", "semi-implicit euler"),
]


def make_vec_pair(num_envs=N, integrator="euler", **kwargs):
    ours = gym.make_vec("fastpg/CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    theirs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    ours.unwrapped.kinematics_integrator = theirs.unwrapped.kinematics_integrator = integrator
    return ours, theirs


def assert_same_attributes(ours, theirs, where):
    a, b = ours.unwrapped, theirs.unwrapped
    assert_bitwise(a.state, b.state, f"state {where}")
    assert_bitwise(a.steps, b.steps, f"steps {where}")
    assert_bitwise(a.prev_done, b.prev_done, f"prev_done {where}")


def balancing_actions(rng, state):
    """Random actions, but env 0 and 1 balance with a noisy controller, so that episodes reach truncation."""
    actions = rng.integers(0, 2, state.shape[1])
    balance = state[2] + 0.5 * state[3] + 0.1 * state[1] + rng.normal(0, 0.02, state.shape[1]) > 0
    actions[:2] = balance[:2]
    return actions


def run_both(ours, theirs, steps, seed, where, read_every=5):
    """Step both with the same actions, comparing every result; the attributes every few steps only."""
    rng = np.random.default_rng(seed)
    ends = 0
    for t in range(steps):
        actions = balancing_actions(rng, np.asarray(theirs.unwrapped.state, dtype=np.float64))
        result, expected = ours.step(actions), theirs.step(actions)
        for name, a, b in zip(("obs", "reward", "terminated", "truncated"), result, expected):
            assert_bitwise(a, b, f"{name} at {where}, step {t}")
        assert result[4] == expected[4] == {}
        if t % read_every == 0:
            assert_same_attributes(ours, theirs, f"{where}, step {t}")
        ends += int((result[2] | result[3]).sum())
    return ends


def reset_both(ours, theirs, seed):
    assert_bitwise(ours.reset(seed=seed)[0], theirs.reset(seed=seed)[0], f"reset, seed {seed}")


@pytest.mark.nojit
def test_attributes_read_as_gymnasium():
    ours, theirs = make_vec_pair(max_episode_steps=60)
    for name in (*CONSTANTS, "max_episode_steps", "kinematics_integrator", "low", "high", "steps_beyond_terminated",
                 "render_mode", "state"):
        a, b = getattr(ours.unwrapped, name), getattr(theirs.unwrapped, name)
        assert a == b and type(a) is type(b), name
    reset_both(ours, theirs, 1)
    assert ours.unwrapped.state.shape == (4, N) and ours.unwrapped.state.flags.c_contiguous
    assert_same_attributes(ours, theirs, "after reset")
    assert run_both(ours, theirs, 300, 1, "steps", read_every=1) > N
    assert run_both(ours, theirs, 300, 2, "steps", read_every=7) > N
    assert ours.unwrapped.steps.max() == theirs.unwrapped.steps.max()


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
@pytest.mark.parametrize(("name", "value"), VECTOR_SETTINGS,
                         ids=[f"{n}={type(v).__name__}" for n, v in VECTOR_SETTINGS])
def test_setting_a_constant_takes_effect_as_in_gymnasium(name, value, integrator):
    ours, theirs = make_vec_pair(integrator=integrator, max_episode_steps=100)
    reset_both(ours, theirs, 2)
    run_both(ours, theirs, 5, 2, "before")
    setattr(ours.unwrapped, name, value)
    setattr(theirs.unwrapped, name, value)
    assert getattr(ours.unwrapped, name) is value
    assert run_both(ours, theirs, 300, len(name), f"{name}={value!r}") > 0


@settings(max_examples=60, deadline=None)
@given(constants=RANDOM_CONSTANTS, max_steps=st.integers(1, 40) | st.floats(0.5, 40), seed=st.integers(0, 2**32 - 1))
def test_random_constants_match_gymnasium(constants, max_steps, seed):
    """Domain randomization on the vector env: any constants give Gymnasium's numbers."""
    assume(constants["masspole"] < constants["total_mass"])  # else Gymnasium may divide by zero (and warn)
    ours, theirs = make_vec_pair()
    reset_both(ours, theirs, seed)
    for env in (ours, theirs):
        for name, value in {**constants, "max_episode_steps": max_steps}.items():
            setattr(env.unwrapped, name, value)
    run_both(ours, theirs, 40, seed, "random constants", read_every=4)


def test_kinematics_integrator_attribute_switches_the_vector_env():
    """Setting the attribute is the only way to switch the integrator of Gymnasium's CartPoleVectorEnv."""
    ours, theirs = make_vec_pair()
    reset_both(ours, theirs, 3)
    for integrator in ("semi-implicit euler", "euler", "semi-implicit euler"):
        ours.unwrapped.kinematics_integrator = theirs.unwrapped.kinematics_integrator = integrator
        run_both(ours, theirs, 50, 3, integrator)
    with pytest.raises(ValueError, match="kinematics_integrator"):  # a deliberate difference (README)
        ours.unwrapped.kinematics_integrator = "semi-implicit"


@pytest.mark.nojit
def test_state_semantics_as_gymnasium():
    ours, theirs = make_vec_pair()
    reset_both(ours, theirs, 4)
    run_both(ours, theirs, 3, 4, "before saving")
    saved = {id(env): env.unwrapped.state for env in (ours, theirs)}
    kept = saved[id(ours)].copy()
    run_both(ours, theirs, 20, 5, "after saving")
    assert_bitwise(saved[id(ours)], kept, "saved state after steps")
    for env in (ours, theirs):
        assert env.unwrapped.state is not saved[id(env)]
        env.unwrapped.state = saved[id(env)]
        assert env.unwrapped.state is saved[id(env)]
        env.unwrapped.state[3, 2] = 0.5  # changed in place before the next step: the step starts from it
    run_both(ours, theirs, 40, 6, "after restoring", read_every=1)
    assert saved[id(ours)][3, 2] == 0.5


@pytest.mark.nojit
def test_a_rejected_step_changes_nothing():
    """As Gymnasium's action assertion: ``state`` and ``prev_done`` stay the very objects they were, unchanged."""
    from fastpg.errors import InvalidActionError

    ours, theirs = make_vec_pair(2)
    reset_both(ours, theirs, 8)
    while not ours.unwrapped.prev_done.any():
        run_both(ours, theirs, 1, 8, "before", read_every=1)
    state, done, steps = ours.unwrapped.state, ours.unwrapped.prev_done, ours.unwrapped.steps
    kept = state.copy(), done.copy(), steps.copy()
    with pytest.raises(InvalidActionError):
        ours.step(np.array([2, 0]))
    assert ours.unwrapped.state is state and ours.unwrapped.prev_done is done and ours.unwrapped.steps is steps
    for now, before in zip((state, done, steps), kept):
        assert_bitwise(now, before, "after a rejected step")
    run_both(ours, theirs, 30, 9, "after a rejected step", read_every=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_state_of_any_dtype_steps_as_in_gymnasium(dtype):
    """A float32 state makes Gymnasium's vector env run in float32 until reset: so does fastpg's."""
    ours, theirs = make_vec_pair(max_episode_steps=50)
    reset_both(ours, theirs, 5)
    state = (np.random.default_rng(5).uniform(-0.1, 0.1, (4, N)) * (100 if dtype == np.int64 else 1)).astype(dtype)
    ours.unwrapped.state, theirs.unwrapped.state = state.copy(), state.copy()
    assert run_both(ours, theirs, 200, 5, str(dtype), read_every=3) > 0
    assert ours.unwrapped.state.dtype == theirs.unwrapped.state.dtype
    reset_both(ours, theirs, 6)
    run_both(ours, theirs, 50, 6, "after reset", read_every=3)


@pytest.mark.nojit
def test_prev_done_and_steps_as_in_gymnasium():
    ours, theirs = make_vec_pair(max_episode_steps=50)
    reset_both(ours, theirs, 7)
    run_both(ours, theirs, 10, 7, "before")
    for env in (ours, theirs):
        done = env.unwrapped.prev_done
        assert env.unwrapped.prev_done is done
        done[[1, 4]] = True  # in place: the next step resets envs 1 and 4
        env.unwrapped.steps[0] = 48  # in place: env 0 is truncated two steps later
    run_both(ours, theirs, 3, 8, "after in-place changes", read_every=1)
    for env in (ours, theirs):
        env.unwrapped.prev_done = np.array([True, False, False, False, False, True])
        env.unwrapped.steps = np.full(N, 45, dtype=np.int32)
    run_both(ours, theirs, 60, 9, "after assigning", read_every=1)
    with pytest.raises(ValueError, match="prev_done"):
        ours.unwrapped.prev_done = np.ones(N, dtype=int)


@pytest.mark.parametrize("mode", ["next_step", "same_step", "disabled"])
def test_numpy_path_matches_the_kernels(mode):
    """Per-env constants (NumPy path) holding the default values step exactly as the kernels, in every mode."""
    kernels, numpy_path = (gym.make_vec("fastpg/CartPole-v1", num_envs=N, vectorization_mode="vector_entry_point",
                                        autoreset_mode=mode, max_episode_steps=80) for _ in range(2))
    numpy_path.unwrapped.gravity = np.full(N, 9.8)
    for env in (kernels, numpy_path):
        env.reset(seed=10)
    rng = np.random.default_rng(10)
    resets = 0
    for t in range(400):
        actions = balancing_actions(rng, kernels.unwrapped.state)
        result, expected = numpy_path.step(actions), kernels.step(actions)
        for a, b in zip(result[:4], expected[:4]):
            assert_bitwise(a, b, f"step {t}")
        assert result[4].keys() == expected[4].keys()
        for i, final in enumerate(expected[4].get("final_obs", [])):
            if final is not None:
                assert_bitwise(result[4]["final_obs"][i], final, f"final obs of env {i}, step {t}")
        assert_same_attributes(numpy_path, kernels, f"step {t}")
        done = expected[2] | expected[3]
        if mode == "disabled" and done.any():
            with pytest.raises(ResetNeeded):
                numpy_path.step(actions)
            for env in (kernels, numpy_path):
                env.reset(options={"reset_mask": done})
            resets += 1
    assert resets > 0 or mode != "disabled"


def test_reset_mask_resets_only_the_masked_envs():
    """A deliberate difference (README): Gymnasium's CartPoleVectorEnv ignores reset_mask and resets every env."""
    envs = gym.make_vec("fastpg/CartPole-v1", num_envs=3, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    envs.step(np.array([0, 1, 0]))
    before = envs.unwrapped.state
    obs, _ = envs.reset(options={"reset_mask": np.array([False, True, False])})
    after = envs.unwrapped.state
    assert_bitwise(after[:, [0, 2]], before[:, [0, 2]], "unmasked envs")
    assert (after[:, 1] != before[:, 1]).all()
    assert_bitwise(obs, after.T.astype(np.float32), "obs")


@pytest.mark.parametrize("render_mode", ["rgb_array", "rgb_array_list", "human"])
def test_render_modes_as_gymnasium(render_mode):
    pytest.importorskip("pygame")
    ours, theirs = make_vec_pair(3, render_mode=render_mode)
    reset_both(ours, theirs, 4)
    for env in (ours, theirs):
        env.step(np.array([1, 0, 1]))
        env.unwrapped.x_threshold, env.unwrapped.length = 1.8, 0.7
    frames, expected = ours.render(), theirs.render()
    assert isinstance(frames, list) and len(frames) == len(expected) == 3
    for a, b in zip(frames, expected):
        np.testing.assert_array_equal(a, b)
    ours.close()
    theirs.close()


def test_render_without_a_mode_warns_as_gymnasium():
    for env_id in ("fastpg/CartPole-v1", "CartPole-v1"):
        envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
        with pytest.warns(UserWarning, match=f'without specifying any render mode.*make_vec\\("{env_id}"'):
            assert envs.render() is None


def test_module_qualified_id_in_spawned_workers():
    """Spawned workers of a ``python -c`` program (or a notebook) find the env by ``"fastpg:fastpg/CartPole-v1"``:
    Gymnasium imports the module named before the colon. The program never imports fastpg itself."""
    program = textwrap.dedent("""
        import gymnasium as gym
        import numpy as np

        def make():
            return gym.make("fastpg:fastpg/CartPole-v1")

        if __name__ == "__main__":
            envs = gym.vector.AsyncVectorEnv([make, make], context="spawn")
            ref = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2)
            obs, _ = envs.reset(seed=3)
            assert obs.tobytes() == ref.reset(seed=3)[0].tobytes()
            for t in range(100):
                actions = np.array([t % 2, 1])
                a, b = envs.step(actions), ref.step(actions)
                assert all(np.asarray(x).tobytes() == np.asarray(y).tobytes() for x, y in zip(a[:4], b[:4]))
            assert envs.get_attr("gravity") == (9.8, 9.8)
            assert envs.call("spec")[0].entry_point.startswith("fastpg.")
            envs.close()
            print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.path.dirname(os.path.dirname(fastpg.__file__)),
                                                                  os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.nojit
def test_prev_done_assigned_in_same_step_mode_resets_those_envs():
    envs = gym.make_vec("fastpg/CartPole-v1", num_envs=3, vectorization_mode="vector_entry_point",
                        autoreset_mode="same_step")
    envs.reset(seed=0)
    envs.step(np.array([1, 1, 1]))
    envs.unwrapped.prev_done = np.array([False, True, False])
    obs, rewards, terminated, truncated, infos = envs.step(np.array([1, 1, 1]))
    assert envs.unwrapped.steps.tolist() == [2, 0, 2] and rewards.tolist() == [1.0, 0.0, 1.0] and infos == {}
    assert_bitwise(obs, envs.unwrapped.state.T.astype(np.float32), "obs")
    assert np.abs(envs.unwrapped.state[:, 1]).max() <= 0.05
