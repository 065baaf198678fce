"""The named choices of the policy-gradient engine and their kernel codes (no Numba: the CLI's help reads these).

One owner for every option list: the engine validates against these, the config offers them.
"""

from __future__ import annotations

PSI_TOTAL, PSI_FROM_START, PSI_FROM_STEP = 0, 1, 2  # kernel codes of the weight Psi_t of each score
PSI = ("total_return", "reward_to_go")
DISCOUNTS = ("from_start", "from_step")

(BASELINE_NONE, BASELINE_BATCH_MEAN, BASELINE_PER_TIMESTEP, BASELINE_PER_TIMESTEP_RUNNING, BASELINE_OPTIMAL,
 BASELINE_OPTIMAL_PER_TIMESTEP) = range(6)
BASELINES = {"none": BASELINE_NONE, "batch_mean": BASELINE_BATCH_MEAN, "per_timestep": BASELINE_PER_TIMESTEP,
             "per_timestep_running": BASELINE_PER_TIMESTEP_RUNNING, "optimal": BASELINE_OPTIMAL,
             "optimal_per_timestep": BASELINE_OPTIMAL_PER_TIMESTEP}
STREAMABLE_BASELINES = ("none", "batch_mean")  # estimators accumulated while rolling out

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


def streamable(baseline: str, normalize: bool) -> bool:
    """True if the estimator can be accumulated while rolling out, without storing the batch."""
    return baseline in STREAMABLE_BASELINES and not normalize
