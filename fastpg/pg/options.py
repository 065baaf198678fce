"""The named choices of the policy-gradient engine and their kernel codes (no Numba: the CLI's help reads these).

One owner for every option list: the engine validates against these, the config offers them.
"""

from __future__ import annotations

PSI_TOTAL, PSI_FROM_START, PSI_FROM_STEP = 0, 1, 2  # kernel codes of the weight Psi_t of each score
PSI = ("total_return", "reward_to_go")
DISCOUNTS = ("from_start", "from_step")

(BASELINE_NONE, BASELINE_BATCH_MEAN, BASELINE_PER_TIMESTEP, BASELINE_PER_TIMESTEP_RUNNING, BASELINE_OPTIMAL,
 BASELINE_PER_TIMESTEP_SCORE_WEIGHTED, BASELINE_BATCH_MEAN_LOO, BASELINE_PER_TIMESTEP_LOO,
 BASELINE_OPTIMAL_LOO) = range(9)
BASELINES = {"none": BASELINE_NONE, "batch_mean": BASELINE_BATCH_MEAN, "batch_mean_loo": BASELINE_BATCH_MEAN_LOO,
             "per_timestep": BASELINE_PER_TIMESTEP, "per_timestep_loo": BASELINE_PER_TIMESTEP_LOO,
             "per_timestep_running": BASELINE_PER_TIMESTEP_RUNNING, "optimal": BASELINE_OPTIMAL,
             "optimal_loo": BASELINE_OPTIMAL_LOO, "per_timestep_score_weighted": BASELINE_PER_TIMESTEP_SCORE_WEIGHTED}
LEAVE_ONE_OUT_BASELINES = ("batch_mean_loo", "per_timestep_loo", "optimal_loo")  # episode i's from the other m - 1
STREAMABLE_BASELINES = ("none", "batch_mean", "batch_mean_loo")  # estimators accumulated while rolling out
RENAMED_BASELINES = {"optimal_per_timestep": "per_timestep_score_weighted"}

NORMALIZE_NONE, NORMALIZE_BATCH, NORMALIZE_EPISODE = range(3)
NORMALIZE = {"none": NORMALIZE_NONE, "batch": NORMALIZE_BATCH, "episode": NORMALIZE_EPISODE}

OPTIMIZERS = ("adam", "sgd", "natural", "kl_penalty")
SCHEDULES = ("constant", "linear", "exponential")
REUSE_WEIGHTS = ("per_decision", "per_trajectory")


def psi_code(psi: str, discount: str) -> int:
    """Kernel code of a Psi choice ("total_return" | "reward_to_go") and discount convention; ``ValueError`` if unknown."""
    for name, value, options in (("psi", psi, PSI), ("discount", discount, DISCOUNTS)):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, options))}")
    if psi == "total_return":
        return PSI_TOTAL
    return PSI_FROM_STEP if discount == "from_step" else PSI_FROM_START


def baseline_code(baseline: str) -> int:
    """Kernel code of a baseline name; ``ValueError`` if unknown, naming the new name of a renamed one."""
    if isinstance(baseline, str) and baseline in RENAMED_BASELINES:
        raise ValueError(f"baseline {baseline!r} is now called {RENAMED_BASELINES[baseline]!r}: it weights each "
                         f"step's returns by that step's squared score, which does not minimize the variance of "
                         f"the gradient ('optimal' and 'optimal_loo' are seed 002's minimizer)")
    if not isinstance(baseline, str) or baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; expected one of {', '.join(map(repr, BASELINES))}")
    return BASELINES[baseline]


def normalize_name(normalize) -> str:
    """The normalization a value names: "none" | "batch" | "episode", with False and True meaning "none" and "batch"."""
    if normalize is False or normalize is True:
        return "batch" if normalize else "none"
    if not isinstance(normalize, str) or normalize not in NORMALIZE:
        raise ValueError(f"unknown normalize {normalize!r}; expected one of {', '.join(map(repr, NORMALIZE))}, "
                         f"true (batch) or false (none)")
    return normalize


def streamable(baseline: str, normalize) -> bool:
    """True if the estimator can be accumulated while rolling out, without storing the batch."""
    return baseline in STREAMABLE_BASELINES and normalize_name(normalize) == "none"
