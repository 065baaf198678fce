"""Run folders: the one module that knows their layout; creates them, refuses to overwrite a run, reads them back.

A run folder holds ``config.toml`` (the full config), ``checkpoint.json`` (written atomically every
``checkpoint_every`` updates and at the end), ``metrics.jsonl`` or ``metrics.csv`` (one row per
update), and when the run has finished ``result.json`` (the summary) and ``policy.json`` (θ with
its metadata, a ``fastpg-policy`` document that ``fastpg.load_policy`` reads from the folder).
"""

from __future__ import annotations

import fcntl
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


def claim_run(run_dir: Path) -> int:
    """Lock the folder ``run_dir`` for this process (``flock`` on the folder itself; the kernel drops it
    when the process ends, even by SIGKILL). Returns the descriptor that holds the lock;
    ``RunFolderError`` if another live process holds it."""
    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunFolderError(f"another fastpg process is training in {run_dir} right now; wait for it to end "
                             "or use another folder") from None
    return fd


def release_run(fd: int | None) -> None:
    """Drop the lock :func:`claim_run` took."""
    if fd is not None:
        os.close(fd)


def remove_stale_files(run_dir: Path) -> None:
    """Delete the temporary files a killed fastpg process may have left in ``run_dir`` (its own patterns only)."""
    for name in RUN_FILES:
        for pattern in (f".{name}.*.tmp", f".{name}.tmp", f".{name}.new-*", f"..{name}.new-*.tmp"):
            for path in run_dir.glob(pattern):
                if path.is_file() and not path.is_symlink():
                    path.unlink(missing_ok=True)


def start_run(run_dir: str | Path, config: TrainConfig, force: bool = False) -> tuple[Path, int]:
    """Create (or, with ``force``, clear) ``run_dir`` for a new run, write its ``config.toml`` and lock it.

    Refuses a folder that already holds a run unless ``force``, and a folder another live process
    is training in; ``force`` deletes only fastpg's own files (stale temporary ones included),
    never anything else in the folder. Returns the folder and the lock (see :func:`claim_run`).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} exists and is not a folder")
    present = [name for name in RUN_FILES if (run_dir / name).exists()]
    if present and not force:
        raise RunFolderError(f"{run_dir} already holds a fastpg run ({', '.join(present)}); "
                             "use --resume to continue it or --force to replace it")
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = claim_run(run_dir)
    try:
        _write_config(run_dir, config, present)
    except BaseException:
        release_run(lock)
        raise
    return run_dir, lock


def _write_config(run_dir: Path, config: TrainConfig, present: list[str]) -> None:
    remove_stale_files(run_dir)
    for name in present:
        (run_dir / name).unlink(missing_ok=True)
    staged = run_dir / f".{CONFIG_FILE}.new-{os.getpid()}"
    atomic_write_text(staged, config.to_toml())
    try:
        os.link(staged, run_dir / CONFIG_FILE)  # fails if another run claimed the folder meanwhile
    except FileExistsError:
        raise RunFolderError(f"another fastpg run started in {run_dir} at the same time; use another folder") from None
    finally:
        staged.unlink()


def fresh_run_dir(parent: str | Path = "runs") -> Path:
    """``parent/<date>-<time>``, with ``-2``, ``-3``, ... appended if that folder already exists."""
    base = Path(parent) / time.strftime("%Y%m%d-%H%M%S")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def resume_run(run_dir: str | Path) -> tuple[TrainConfig, dict[str, Any] | None, int]:
    """The config, last checkpoint (None if none was written yet) and lock (see :func:`claim_run`) of an
    unfinished run; removes the temporary files a killed process left."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"cannot resume {run_dir}: no such folder")
    lock = claim_run(run_dir)
    try:
        config, checkpoint = _read_unfinished(run_dir)
    except BaseException:
        release_run(lock)
        raise
    remove_stale_files(run_dir)
    return config, checkpoint, lock


def _read_unfinished(run_dir: Path) -> tuple[TrainConfig, dict[str, Any] | None]:
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
