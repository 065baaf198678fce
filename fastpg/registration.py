"""Register ``fastpg/CartPole-v0`` and ``fastpg/CartPole-v1`` with Gymnasium."""

from __future__ import annotations

import gymnasium

ENV_IDS = {"fastpg/CartPole-v0": (200, 195.0), "fastpg/CartPole-v1": (500, 475.0)}


def register_envs() -> None:
    """Register both versions once; importing fastpg calls this."""
    for env_id, (max_steps, threshold) in ENV_IDS.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point="fastpg.env:CartPoleEnv",
            vector_entry_point="fastpg.vector_env:CartPoleVectorEnv",
            max_episode_steps=max_steps,
            reward_threshold=threshold,
        )
