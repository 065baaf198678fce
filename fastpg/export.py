"""Export a learned policy: ``save_policy`` / ``load_policy`` and ``fastpg export``.

Formats: ``json`` (the documented ``fastpg-policy`` v1 document), ``npy``, ``npz``, ``csv`` (see
``fastpg.export_files``), ``c`` (a C99 header in ``double`` or ``float``, ``fastpg.export_c``) and
``c-fixed`` (a Q16.16 integer controller, ``fastpg.export_fixed``). json, npy, npz and csv are
lossless in float64 and reproduce θ rounded to float32 exactly with ``dtype="float32"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .config import TrainConfig, load_config
from .export_c import MAX_EPISODES, MAX_TEST_VECTORS, c_header, header_outputs, trajectory_observations
from .export_document import DTYPES, Policy, env_metadata, policy_json, policy_schema
from .export_files import FILE_FORMATS, read_policy_file, write_bytes, write_policy_file
from .export_fixed import fixed_disagreements, fixed_header
from .files import CONFIG_FILE
from .params import make_params
from .runs import read_result
from .validate import check_int, check_seed

FORMATS = FILE_FORMATS + ("c", "c-fixed")
SUFFIXES = {".json": "json", ".npy": "npy", ".npz": "npz", ".csv": "csv", ".h": "c"}
__all__ = ["FORMATS", "Policy", "add_export_parser", "export_run", "greedy_agreement", "load_policy",
           "policy_json", "policy_metadata", "policy_schema", "run_export", "save_policy"]
C_DEFAULTS = {"prefix": "fastpg_policy", "test_vectors": 32, "episodes": 100, "seed": 0}


def policy_metadata(source: Any = None) -> dict[str, Any]:
    """The metadata of a policy trained in ``source``: a ``TrainResult`` or a finished run folder.

    Returns {"env": {"id", "params"}, "training": {"seed", "config", "solved_at", "stop_reason",
    "updates", "episodes", "steps", "train_seconds"}, "evaluation": {...} or None}; for ``None``,
    CartPole-v1's parameters and no training or evaluation.
    """
    if source is None:
        return {"env": env_metadata(), "training": None, "evaluation": None}
    if isinstance(source, (str, Path)):
        summary, config = read_result(source), load_config(Path(source) / CONFIG_FILE)
    elif isinstance(getattr(source, "config", None), TrainConfig):  # a TrainResult
        summary, config = source.to_dict(), source.config
    else:
        raise TypeError(f"source must be a TrainResult, a run folder or None, got {type(source).__name__}")
    params = make_params(config.env.split("-")[-1], kinematics_integrator=config.kinematics_integrator)
    training = {"seed": config.seed, "config": config.to_dict(),
                **{k: summary[k] for k in ("solved_at", "stop_reason", "updates", "episodes", "steps")},
                "train_seconds": summary["timings"]["train_seconds"]}
    return {"env": env_metadata(params), "training": training, "evaluation": summary["evaluation"] or None}


def load_policy(path: str | Path) -> Policy:
    """The policy in a json, npy, npz or csv file, or of a finished run folder (θ with its metadata).

    Raises ``ValueError`` for a file that is not a fastpg policy, has the wrong length, holds
    non-finite numbers, has an unknown format version or is over 1 MiB; never unpickles.
    """
    path = Path(path)
    if not path.is_dir():
        return read_policy_file(path)
    summary = read_result(path)
    try:
        return Policy(summary["theta"], policy_metadata(path))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: result.json does not hold a policy: {exc}") from None


def _format(fmt: str | None, path: Path) -> str:
    if fmt is None:
        if path.suffix.lower() not in SUFFIXES:
            raise ValueError(f"cannot tell the format from {path.name!r}; give one of {', '.join(FORMATS)}")
        return SUFFIXES[path.suffix.lower()]
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def save_policy(policy, path: str | Path, format: str | None = None, *, metadata: dict[str, Any] | None = None,
                dtype: str = "float64", prefix: str | None = None, test_vectors: int | None = None,
                episodes: int | None = None, seed: int | None = None) -> Path:
    """Write ``policy`` (a Policy, or θ float[4] or [5] with the bias last) to ``path``; returns the path.

    ``format``: one of ``FORMATS`` (default: from the suffix, .json .npy .npz .csv .h).
    ``metadata``: as :func:`policy_metadata` returns it (default: the policy's own). ``dtype``:
    "float64" or "float32" (not for c-fixed). For the C formats only: ``prefix`` of every C name
    ["fastpg_policy"], ``test_vectors`` in the header (0: none) [32], drawn from ``episodes``
    sampled episodes [100] seeded ``seed`` [0].
    """
    path = Path(path)
    fmt = _format(format, path)
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
    check_int("episodes", options["episodes"], 1, MAX_EPISODES)
    check_seed(options["seed"])
    if fmt == "c-fixed":
        if dtype != "float64":
            raise ValueError("c-fixed writes Q16.16 integers; dtype does not apply")
        text = fixed_header(policy, **options)
    else:
        text = c_header(policy, dtype, **options)
    write_bytes(path, text.encode())
    return path


def greedy_agreement(policy, episodes: int = 100, seed: int = 0) -> dict[str, int]:
    """On how many states visited in ``episodes`` sampled episodes the C controllers' greedy action differs.

    Returns {"states": n, "float32": differences of the ``float`` header, "fixed_q16": of the
    fixed-point header} against fastpg's float64 policy (the ``double`` header never differs).
    """
    policy = policy if isinstance(policy, Policy) else Policy(policy)
    observations = trajectory_observations(policy, check_int("episodes", episodes, 1, MAX_EPISODES), seed)
    *_, greedy32 = header_outputs(policy, observations, "float32")
    return {"states": int(observations.shape[0]),
            "float32": int((greedy32 != policy.greedy_action(observations)).sum()),
            "fixed_q16": fixed_disagreements(policy, observations)}


def export_run(source: str | Path, format: str | None, out: str | Path, **options: Any) -> Path:
    """Export the policy of a finished run folder or a policy file to ``out`` (options: see save_policy)."""
    return save_policy(load_policy(source), out, format, **options)


def add_export_parser(commands) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to ``commands`` (an argparse subparsers object)."""
    export = commands.add_parser(
        "export", help="write a policy as json, npy, npz, csv or a C header",
        description="Write the policy of a finished run folder or a policy file (json, npy, npz, csv) as JSON "
                    "with its metadata, plain arrays, or a C99 header (float, double, or Q16.16 fixed point).")
    export.add_argument("source", type=Path, help="finished run folder, or a policy file (json, npy, npz, csv)")
    export.add_argument("--out", type=Path, required=True, help="file to write")
    export.add_argument("--format", choices=FORMATS, help="output format [from --out's suffix: .json .npy .npz "
                                                          ".csv, .h for c]")
    export.add_argument("--dtype", choices=DTYPES, default="float64",
                        help="precision of the numbers written; float32 for a C 'float' header [float64]")
    c = export.add_argument_group("C headers (c, c-fixed)")
    c.add_argument("--prefix", help=f"prefix of every C name, so policies can coexist [{C_DEFAULTS['prefix']}]")
    c.add_argument("--test-vectors", type=int, help=f"test vectors in the header, 0 for none "
                                                    f"[{C_DEFAULTS['test_vectors']}]")
    c.add_argument("--episodes", type=int, help="sampled episodes the test vectors and the disagreement count "
                                                f"come from [{C_DEFAULTS['episodes']}]")
    c.add_argument("--seed", type=int, help=f"seed of those episodes [{C_DEFAULTS['seed']}]")
    return export


def run_export(args: argparse.Namespace) -> int:
    """Run ``fastpg export``; prints what it wrote. Raises ValueError/TypeError on bad input."""
    options = {k: getattr(args, k) for k in C_DEFAULTS}
    policy = load_policy(args.source)
    path = save_policy(policy, args.out, args.format, dtype=args.dtype, **options)
    fmt = _format(args.format, args.out)
    line = f"wrote {path} ({fmt}, {'Q16.16' if fmt == 'c-fixed' else args.dtype})"
    if fmt == "c-fixed" or (fmt == "c" and args.dtype == "float32"):
        episodes = options["episodes"] or C_DEFAULTS["episodes"]
        counts = greedy_agreement(policy, episodes, options["seed"] or 0)
        differs = counts["fixed_q16" if fmt == "c-fixed" else "float32"]
        line += (f"; its greedy action differs from the float64 policy on {differs} of {counts['states']} states "
                 f"from {episodes} episodes")
    print(line)
    return 0
