"""Every numeric limit fastpg enforces, in one place: config ranges, boundary checks and file sizes read these."""

from __future__ import annotations

MAX_SEED = 2**63 - 1  # seeds are non-negative 63-bit integers (SeedSequence entropy, JSON-safe)
MAX_EPISODES = 10**6  # episodes in one batch, solve check or evaluation
MAX_EPISODE_STEPS = 10**7  # truncation limit of one episode (CartPole-v1: 500)
MAX_LATTICE_LEVELS = 31  # values per coordinate of a lattice of start states (31**4 < MAX_EPISODES)
MAX_BATCH_BYTES = 1 << 30  # memory of one stored batch of trajectories and its estimator arrays
MAX_THREADS = 1024  # Numba threads a run may ask for (it gets at most what Numba has)
MAX_BUDGET = 2**62  # training budgets: episodes and env steps
MAX_SECONDS = 1e9  # wall-clock budget of a training run
MAX_CHECKPOINT_EVERY = 2**31  # updates between checkpoints
MAX_REUSE_BATCHES = 64  # batches kept for importance-weighted reuse
MAX_BACKTRACKS = 60  # natural-gradient line-search halvings
MAX_INNER_STEPS = 1000  # KL-penalty inner steps per update
MAX_ENVS = 1 << 22  # envs in one FastCartPoleBatch (~150 bytes each)
MAX_SWEEP_RUNS = 100_000  # runs (grid points x seeds) in one sweep, checked before the grid is expanded
MAX_SWEEP_WORKERS = 4096  # workers (processes) a sweep may ask for
MAX_SWEEP_RETRIES = 100  # re-runs of a run whose worker died
MAX_BENCH_ENVS = 1 << 20  # vector env size of `fastpg bench` and `fastpg demo`
MAX_DEMO_ACTIONS = 1 << 26  # num_envs x steps of `fastpg demo` (its actions are drawn up front)
MAX_BENCH_SECONDS = 60.0  # bench's min_time per case per round
MAX_JSON_BYTES = 64 << 20  # a checkpoint, result or sweep file read back
MAX_CONFIG_BYTES = 1 << 20  # a config or sweep TOML file
MAX_POLICY_BYTES = 1 << 20  # a policy file (also uncompressed, for npz)
MAX_TEST_VECTORS = 10_000  # test vectors in an exported C header
MAX_EXPORT_EPISODES = 10_000  # episodes the C header's test vectors are drawn from
