"""Run folders: the one module that knows their layout; creates them, refuses to overwrite a run, reads them back.

A run folder holds ``config.toml`` (the full config), ``checkpoint.json`` (written atomically every
``checkpoint_every`` updates and at the end), ``metrics.jsonl`` or ``metrics.csv`` (one row per
update), and when the run has finished ``result.json`` (the summary) and ``policy.json`` (θ with
its metadata, a ``fastpg-policy`` document that ``fastpg.load_policy`` reads from the folder).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..errors import RunFolderError
from ..export.document import POLICY_FILE, Policy, env_metadata
from ..export.policy_files import load_policy as load_policy_file
from ..export.policy_io import save_policy
from ..files import atomic_write_text, read_json
from .config import TrainConfig, load_config

CONFIG_FILE = "config.toml"
CHECKPOINT_FILE = "checkpoint.json"
RESULT_FILE = "result.json"
PLOT_FILE = "learning_curve.png"
CHECKPOINT_FORMAT = "fastpg-checkpoint/1"
RUN_FILES = (CONFIG_FILE, CHECKPOINT_FILE, RESULT_FILE, POLICY_FILE, "metrics.jsonl", "metrics.csv", PLOT_FILE)


def metrics_path(run_dir: Path, fmt: str) -> Path:
    """The run's metrics file: ``metrics.jsonl`` or ``metrics.csv``."""
    return Path(run_dir) / f"metrics.{fmt}"


def find_metrics(run_dir: Path) -> Path:
    """The metrics file of a run folder; ``RunFolderError`` if the folder is not a fastpg run."""
    for fmt in ("jsonl", "csv"):
        if metrics_path(run_dir, fmt).is_file():
            return metrics_path(run_dir, fmt)
    raise RunFolderError(f"{run_dir} is not a fastpg run folder (no metrics.jsonl or metrics.csv)")


def is_run(run_dir: Path) -> bool:
    return (Path(run_dir) / CONFIG_FILE).is_file()


def start_run(run_dir: str | Path, config: TrainConfig, force: bool = False) -> Path:
    """Create (or, with ``force``, clear) ``run_dir`` for a new run and write its ``config.toml``.

    Refuses a folder that already holds a run unless ``force``; ``force`` deletes only fastpg's
    own files, never anything else in the folder.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} exists and is not a folder")
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    if present and not force:
        raise RunFolderError(f"{run_dir} already holds a fastpg run ({', '.join(present)}); "
                             "use --resume to continue it or --force to replace it")
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in present:
        (run_dir / name).unlink()
    staged = run_dir / f".{CONFIG_FILE}.new-{os.getpid()}"
    atomic_write_text(staged, config.to_toml())
    try:
        os.link(staged, run_dir / CONFIG_FILE)  # fails if another run claimed the folder meanwhile
    except FileExistsError:
        raise RunFolderError(f"another fastpg run started in {run_dir} at the same time; use another folder") from None
    finally:
        staged.unlink()
    return run_dir


def fresh_run_dir(parent: str | Path = "runs") -> Path:
    """``parent/<date>-<time>``, with ``-2``, ``-3``, ... appended if that folder already exists."""
    base = Path(parent) / time.strftime("%Y%m%d-%H%M%S")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def resume_run(run_dir: str | Path) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config and last checkpoint (None if none was written yet) of an unfinished run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"cannot resume {run_dir}: no such folder")
    if not is_run(run_dir):
        raise RunFolderError(f"{run_dir} is not a fastpg run folder (no {CONFIG_FILE})")
    if (run_dir / RESULT_FILE).exists():
        raise RunFolderError(f"{run_dir} holds a finished run; nothing to resume (its result is in {RESULT_FILE})")
    config = load_config(run_dir / CONFIG_FILE)
    path = run_dir / CHECKPOINT_FILE
    if not path.exists():
        return config, None
    checkpoint = read_json(path, "checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise RunFolderError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} checkpoint")
    return config, checkpoint


def read_result(run_dir: str | Path) -> dict[str, Any]:
    """The ``result.json`` of a finished run."""
    run_dir = Path(run_dir)
    if not is_run(run_dir):
        raise RunFolderError(f"{run_dir} is not a fastpg run folder (no {CONFIG_FILE})")
    if not (run_dir / RESULT_FILE).exists():
        raise RunFolderError(f"{run_dir} has not finished (no {RESULT_FILE}); resume it with --resume")
    return read_json(run_dir / RESULT_FILE, "result")


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
    training = {"seed": config.seed, "config": config.to_dict(),
                **{k: summary[k] for k in ("solved_at", "stop_reason", "updates", "episodes", "steps")},
                "train_seconds": summary["timings"]["train_seconds"]}
    return {"env": env_metadata(config.params), "training": training, "evaluation": summary["evaluation"] or None}


def load_policy(path: str | Path) -> Policy:
    """The policy of a finished run folder (θ from ``result.json``, with its metadata), or of a policy file.

    Raises ``RunFolderError``/``ValueError`` for an unfinished or damaged run and for a file that
    is not a fastpg policy (see ``fastpg.export.load_policy``).
    """
    path = Path(path)
    if not path.is_dir():
        return load_policy_file(path)
    summary = read_result(path)
    try:
        return Policy(summary["theta"], policy_metadata(path))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunFolderError(f"{path}: {RESULT_FILE} does not hold a policy: {exc}") from None


def export_run(source: str | Path, fmt: str | None, out: str | Path, **options: Any) -> Path:
    """Export the policy of a finished run folder or a policy file to ``out`` (options: see ``save_policy``)."""
    return save_policy(load_policy(source), out, fmt, **options)
