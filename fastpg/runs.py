"""Run folders: what a fastpg run writes, refusing to overwrite a run silently, and reading one back.

A run folder holds ``config.toml`` (the full config), ``checkpoint.json`` (written atomically every
``checkpoint_every`` updates and at the end), ``metrics.jsonl`` or ``metrics.csv`` (one row per
update), and when the run has finished ``result.json`` (the summary) and ``policy.json`` (θ).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .config import TrainConfig, load_config
from .files import CHECKPOINT_FILE, CONFIG_FILE, RESULT_FILE, atomic_write_text, read_json

POLICY_FILE = "policy.json"
CHECKPOINT_FORMAT = "fastpg-checkpoint/1"
RUN_FILES = (CONFIG_FILE, CHECKPOINT_FILE, RESULT_FILE, POLICY_FILE, "metrics.jsonl", "metrics.csv",
             "learning_curve.png")


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (exists, is not a run, is finished, is corrupt)."""


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
