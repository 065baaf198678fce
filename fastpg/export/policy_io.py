"""Save a learned policy in every format: ``save_policy``, and how its C controllers agree (``greedy_agreement``).

Formats: ``json`` (the documented ``fastpg-policy`` v1 document), ``npy``, ``npz``, ``csv`` (see
``fastpg.export.policy_files``), ``c`` (a C99 header in ``double`` or ``float``,
``fastpg.export.c_header``) and ``c-fixed`` (a Q16.16 integer controller,
``fastpg.export.fixed_header``). json, npy, npz and csv are
lossless in float64 and reproduce θ rounded to float32 exactly with ``dtype="float32"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import atomic_write_text, check_writable_target
from ..limits import MAX_EXPORT_EPISODES, MAX_TEST_VECTORS
from ..validate import check_int, check_seed
from .c_header import c_header, header_outputs, trajectory_observations
from .document import DTYPES, Policy
from .fixed_header import fixed_disagreements, fixed_header
from .formats import C_DEFAULTS, FILE_FORMATS, fmt_of
from .policy_files import write_policy_file

__all__ = ["greedy_agreement", "save_policy"]


def save_policy(policy, path: str | Path, fmt: str | None = None, *, metadata: dict[str, Any] | None = None,
                dtype: str = "float64", prefix: str | None = None, test_vectors: int | None = None,
                episodes: int | None = None, seed: int | None = None) -> Path:
    """Write ``policy`` (a Policy, or θ float[4] or [5] with the bias last) to ``path``; returns the path.

    ``fmt``: one of ``FORMATS`` (default: from the suffix, .json .npy .npz .csv .h).
    ``metadata``: as :func:`fastpg.training.runs.policy_metadata` returns it (default: the policy's own). ``dtype``:
    "float64" or "float32" (not for c-fixed). For the C formats only: ``prefix`` of every C name
    ["fastpg_policy"], ``test_vectors`` in the header (0: none) [32], drawn from ``episodes``
    sampled episodes [100] seeded ``seed`` [0].
    """
    path = check_writable_target(path)
    fmt = fmt_of(fmt, path)
    policy = policy if isinstance(policy, Policy) else Policy(policy)
    if metadata is not None:
        policy = Policy(policy.theta, metadata)
    options = {"prefix": prefix, "test_vectors": test_vectors, "episodes": episodes, "seed": seed}
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if fmt in FILE_FORMATS:
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to the C formats, not {fmt}")
        write_policy_file(policy, path, fmt, dtype=dtype)
        return path
    options = {name: C_DEFAULTS[name] if value is None else value for name, value in options.items()}
    check_int("test_vectors", options["test_vectors"], 0, MAX_TEST_VECTORS)
    check_int("episodes", options["episodes"], 1, MAX_EXPORT_EPISODES)
    check_seed(options["seed"])
    if fmt == "c-fixed":
        if dtype != "float64":
            raise ValueError("c-fixed writes Q16.16 integers; dtype does not apply")
        text = fixed_header(policy, **options)
    else:
        text = c_header(policy, dtype, **options)
    return atomic_write_text(path, text)


def greedy_agreement(policy, episodes: int = 100, seed: int = 0) -> dict[str, int]:
    """On how many states visited in ``episodes`` sampled episodes the C controllers' greedy action differs.

    Returns {"states": n, "float32": differences of the ``float`` header, "fixed_q16": of the
    fixed-point header} against fastpg's float64 policy (the ``double`` header never differs).
    """
    policy = policy if isinstance(policy, Policy) else Policy(policy)
    observations = trajectory_observations(policy, check_int("episodes", episodes, 1, MAX_EXPORT_EPISODES), seed)
    *_, greedy32 = header_outputs(policy, observations, "float32")
    return {"states": int(observations.shape[0]),
            "float32": int((greedy32 != policy.greedy_action(observations)).sum()),
            "fixed_q16": fixed_disagreements(policy, observations)}

