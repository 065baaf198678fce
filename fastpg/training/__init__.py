"""The training layer: scripted runs (depends on ``pg`` and ``export``).

- ``config``: ``TrainConfig``, every option with its help and range, from TOML and flags;
- ``loop``: ``train(config, run_dir)`` -> ``TrainResult``, the update loop, solve check and checkpoints;
- ``runs``: the run folder (its layout, start, resume, result, the policy's metadata);
- ``metrics``: per-update rows (JSONL/CSV); ``progress``: the progress bar; ``plot``: the learning curve.
"""

from .._lazy import lazy_attributes

__getattr__ = lazy_attributes(__name__, {
    "TrainConfig": ".config", "load_config": ".config", "train": ".loop", "TrainResult": ".loop",
})
__all__ = ["TrainConfig", "TrainResult", "load_config", "train"]
