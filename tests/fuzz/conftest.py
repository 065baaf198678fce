"""The fuzz suite's hypothesis profiles, and a count of the cases it ran.

``ci`` (the default: derandomized, ~10,000 cases in all) or ``fuzz`` (10x the cases, random),
chosen with ``HYPOTHESIS_PROFILE``; ``make fuzz`` runs the latter. The profiles are applied to
this suite's tests only (see ``harness.fuzz``), so the other tests keep their own settings.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastpg.cartpole.spec import make_params
from fastpg.pg import engine
from fastpg.pg.evaluation import evaluate

from .harness import CASES, PROFILE


def pytest_terminal_summary(terminalreporter):
    if CASES:
        total = sum(CASES.values())
        terminalreporter.write_line(f"fuzz ({PROFILE} profile): {total} generated cases in {len(CASES)} tests")


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    """Compile (or load from the cache) the kernels the fuzz cases call most, before the first case: a case's
    deadline is for the case, not for Numba compiling a kernel on a cold cache (this suite runs first)."""
    params = make_params("v1", max_episode_steps=30)
    for theta in (np.array([0.1, 0.2, 1.0, 0.5]), np.array([0.1, 0.2, 1.0, 0.5, 0.0])):
        for threads in (1, 2):
            for greedy in (False, True):
                evaluate(theta, 3, 0, greedy=greedy, params=params, threads=threads)
                evaluate(theta, 3, 0, greedy=greedy, params=params, threads=threads, stop_below=10.0)
            for psi, discount in (("total_return", "from_start"), ("reward_to_go", "from_start"),
                                  ("reward_to_go", "from_step")):
                engine.estimate_gradient(theta, 2, 0, psi=psi, discount=discount, params=params, threads=threads)
                engine.estimate_gradient(theta, 2, 0, psi=psi, discount=discount, params=params, threads=threads,
                                         baseline="per_timestep", normalize=True)
