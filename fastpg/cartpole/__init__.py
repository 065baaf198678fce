"""The simulator layer: Gymnasium's CartPole-v0/v1, bit for bit.

- ``spec``: env specs (ids, episode limits, reward thresholds), ``CartPoleParams`` and index constants;
- ``kernels``: the exact dynamics, termination and reward as Numba kernels (public: callable from
  Python and from your own ``nopython`` code); ``_vector``: the vector env's kernel;
- ``env`` / ``vector_env``: the Gymnasium ``Env`` and ``VectorEnv``; ``registration``: their ids;
- ``fast`` / ``_fast``: ``FastCartPoleBatch``, N envs in struct-of-arrays form, exact or fast physics.

Importing this package loads only ``spec`` (no Numba); the other modules load when imported.
"""

from .spec import DEFAULT_PARAMS, ENV_SPECS, CartPoleParams, EnvSpec, env_spec, make_params

__all__ = ["CartPoleParams", "DEFAULT_PARAMS", "ENV_SPECS", "EnvSpec", "env_spec", "make_params"]
