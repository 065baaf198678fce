"""Register ``fastpg/CartPole-v0`` and ``fastpg/CartPole-v1`` with Gymnasium (all that ``import fastpg`` loads)."""

from __future__ import annotations

import gymnasium

from .spec import ENV_SPECS, NAMESPACE


def register_envs() -> None:
    """Register both versions once, with the limits and thresholds of ``ENV_SPECS``; importing fastpg calls this."""
    for spec in ENV_SPECS.values():
        env_id = f"{NAMESPACE}/{spec.id}"
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="fastpg.cartpole.env:CartPoleEnv",
            vector_entry_point="fastpg.cartpole.vector_env:CartPoleVectorEnv",
            max_episode_steps=spec.max_episode_steps,
            reward_threshold=spec.reward_threshold,
        )
