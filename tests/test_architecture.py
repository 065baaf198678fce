"""The package's shape: layers that import only downwards, a light ``import fastpg``, one owner per rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import fastpg
from fastpg import limits
from fastpg.cartpole.spec import ENV_IDS, ENV_SPECS, NAMESPACE, make_params
from fastpg.training.config import FIELDS, TrainConfig

PACKAGE = Path(fastpg.__file__).parent
BASE = {"errors", "limits", "files", "validate", "_jit", "_rng", "_lazy", "plotting"}
LAYERS = {"cartpole": 1, "pg": 2, "export": 3, "training": 4, "sweeps": 5, "benchmark": 5, "cli": 6}


def layer(module: str) -> int:
    """0 for base modules, the subpackage's rank, 7 for the package's own ``__init__``/``__main__``."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return 7
    return 0 if parts[1] in BASE else LAYERS[parts[1]]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(module: str, path: Path) -> set[str]:
    """The fastpg modules ``module`` imports anywhere in its source (function-level imports included)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules())
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "fastpg" or name.startswith("fastpg.")}


def test_no_module_imports_from_a_layer_above_its_own():
    wrong = [(m, target) for m, path in modules().items() for target in imports(m, path)
             if target != "fastpg" and layer(target) > layer(m)]
    assert not wrong, f"imports against the layering: {wrong}"


def test_only_the_package_root_is_imported_as_fastpg_and_only_for_its_version():
    users = [m for m, path in modules().items()
             if "fastpg" in imports(m, path) and m != "fastpg" and "fastpg.limits" not in imports(m, path)]
    assert users == ["fastpg.export.document"]  # `from .. import __version__`


def test_only_jit_imports_numba():
    users = [m for m, path in modules().items() if any(
        isinstance(n, (ast.Import, ast.ImportFrom)) and "numba" in (
            [a.name.split(".")[0] for a in n.names] if isinstance(n, ast.Import) else [(n.module or "").split(".")[0]])
        for n in ast.walk(ast.parse(path.read_text())))]
    assert users == ["fastpg._jit"]


def _loaded_after(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(sorted(m for m in sys.modules "
                          "if m.startswith(('fastpg', 'numba', 'matplotlib'))))"],
                         capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])


def test_import_fastpg_loads_only_what_registration_needs():
    assert _loaded_after("import fastpg") == ["fastpg", "fastpg._lazy", "fastpg.cartpole",
                                              "fastpg.cartpole.registration", "fastpg.cartpole.spec",
                                              "fastpg.limits"]


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["export", "--help"], ["sweep", "--help"]])
def test_help_loads_no_numba_and_no_matplotlib(argv):
    loaded = _loaded_after(f"from fastpg.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert not [m for m in loaded if m.startswith(("numba", "matplotlib"))]


def test_lazy_names_resolve():
    for name in fastpg.__all__:
        assert getattr(fastpg, name) is not None


# --- one owner per rule: every consumer agrees with it ---------------------------------------------------------

def test_env_spec_is_gymnasiums_and_every_consumer_uses_it():
    for env_id, spec in ENV_SPECS.items():
        assert (gymnasium.spec(env_id).max_episode_steps, gymnasium.spec(env_id).reward_threshold) == \
            (spec.max_episode_steps, spec.reward_threshold)
        ours = gymnasium.spec(f"{NAMESPACE}/{env_id}")
        assert (ours.max_episode_steps, ours.reward_threshold) == (spec.max_episode_steps, spec.reward_threshold)
        assert make_params(spec.version).max_episode_steps == spec.max_episode_steps
        assert TrainConfig(env=env_id, solve_threshold=spec.reward_threshold).params.max_episode_steps == spec.max_episode_steps
    assert FIELDS["env"].metadata["choices"] == ENV_IDS
    with pytest.raises(ValueError, match="195"):
        TrainConfig(env="CartPole-v0", solve_threshold=475.0)


@pytest.mark.parametrize("sutton_barto", [False, True])
def test_reward_rule_has_one_owner(sutton_barto):
    from fastpg.cartpole.fast import FastCartPoleBatch
    from fastpg.cartpole.kernels import cartpole_reward, cartpole_vector_reward

    params = make_params(sutton_barto_reward=sutton_barto)
    array = params.as_array()
    rewards = {done: cartpole_reward(done, array) for done in (False, True)}
    assert rewards == ({False: 0.0, True: -1.0} if sutton_barto else {False: 1.0, True: 1.0})
    envs = {"env": gymnasium.make("fastpg/CartPole-v1", sutton_barto_reward=sutton_barto),
            "gymnasium": gymnasium.make("CartPole-v1", sutton_barto_reward=sutton_barto)}
    for name, env in envs.items():
        env.reset(seed=0)
        terminated, seen = False, []
        while not terminated:
            _, reward, terminated, _, _ = env.step(1)
            seen.append((bool(terminated), float(reward)))
        assert all(reward == rewards[done] for done, reward in seen), name
    vector = gymnasium.make_vec("fastpg/CartPole-v1", num_envs=2, vectorization_mode="vector_entry_point",
                                sutton_barto_reward=sutton_barto)
    vector.reset(seed=0)
    batch = FastCartPoleBatch(2, 0, params=params, exact=True)
    finished = np.zeros(2, bool)
    while not finished.all():  # until both envs end their first episode (vector autoreset comes the step after)
        _, vec_rewards, vec_terminated, _, _ = vector.step(np.ones(2, np.int64))
        _, fast_rewards, fast_terminated, _ = batch.step(np.ones(2, np.uint8))
        for got, done in ((vec_rewards, vec_terminated), (fast_rewards, fast_terminated)):
            expected = np.array([cartpole_vector_reward(bool(d), array) for d in done], np.float32)
            assert got[~finished].tobytes() == expected[~finished].tobytes()
        finished |= vec_terminated


def test_decision_rule_has_one_owner_and_every_copy_agrees_bitwise():
    from fastpg._jit import njit
    from fastpg.export.document import Policy
    from fastpg.pg import policy as rule
    from fastpg.pg._policy import observe, policy_weights, sigmoid, weights_logit

    @njit
    def kernel_rule(theta, states, z_out, p_out):
        for i in range(states.shape[0]):
            z_out[i] = weights_logit(policy_weights(theta), theta.shape[0] == 5, observe(states[i, 0]),
                                     observe(states[i, 1]), observe(states[i, 2]), observe(states[i, 3]))
            p_out[i] = sigmoid(z_out[i])

    rng = np.random.default_rng(7)
    states = rng.normal(0.0, [1.0, 2.0, 0.1, 2.0], size=(2000, 4))
    for theta in (rng.normal(0, 10, 4), rng.normal(0, 10, 5)):
        z, p = np.empty(2000), np.empty(2000)
        kernel_rule(theta, states, z, p)
        observations = states.astype(np.float32)
        assert rule.logit(theta, observations).tobytes() == z.tobytes()
        assert Policy(theta).logit(observations).tobytes() == z.tobytes()
        assert rule.p_left(z).tobytes() == p.tobytes()
        bias = float(theta[4]) if theta.shape[0] == 5 else None
        scalar = [rule.logit_scalar(theta[:4].tolist(), bias, o.tolist()) for o in observations]
        assert np.array(scalar).tobytes() == z.tobytes()
        assert np.array([rule.sigmoid_scalar(v) for v in scalar]).tobytes() == p.tobytes()
        assert (rule.greedy_action(z) == np.where(z >= 0.0, 0, 1)).all()


def test_numeric_limits_have_one_owner():
    from fastpg.pg import engine

    assert FIELDS["batch_size"].metadata["high"] == FIELDS["eval_episodes"].metadata["high"] == limits.MAX_EPISODES
    assert FIELDS["seed"].metadata["high"] == limits.MAX_SEED and FIELDS["threads"].metadata["high"] == limits.MAX_THREADS
    with pytest.raises(ValueError, match=str(limits.MAX_EPISODES)):
        engine.estimate_gradient(np.zeros(4), limits.MAX_EPISODES + 1, 0)
    with pytest.raises(ValueError, match=str(limits.MAX_EPISODE_STEPS)):
        make_params(max_episode_steps=limits.MAX_EPISODE_STEPS + 1)
    make_params(max_episode_steps=limits.MAX_EPISODE_STEPS)  # the largest the params accept ...
    engine.check_stored_batch(1, 1, 4)  # ... and the engine's check is about memory, not the limit


def test_option_lists_have_one_owner():
    from fastpg.pg import options

    assert FIELDS["psi"].metadata["choices"] == options.PSI
    assert FIELDS["baseline"].metadata["choices"] == tuple(options.BASELINES)
    assert FIELDS["optimizer"].metadata["choices"] == options.OPTIMIZERS
    assert FIELDS["reuse_weights"].metadata["choices"] == options.REUSE_WEIGHTS


def test_public_exceptions_share_one_base_class():
    from fastpg import errors

    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) >= 6 and all(issubclass(c, errors.FastpgError) for c in classes)
    from fastpg.cli import codes

    values = [v for k, v in vars(codes).items() if k.startswith("EXIT_")]
    assert len(values) == len(set(values))
