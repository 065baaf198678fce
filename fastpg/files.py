"""Atomic file writes and the layout of a run folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.toml"
CHECKPOINT_FILE = "checkpoint.json"
RESULT_FILE = "result.json"
MAX_JSON_BYTES = 64 * 1024 * 1024


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a torn one.

    Writes a temporary file in the same folder, flushes it to disk, then renames it over ``path``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes the file private; give it open()'s usual mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as JSON; floats are written with ``repr`` so they round-trip exactly."""
    atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file of at most ``MAX_JSON_BYTES``; ``ValueError`` naming ``what`` if unreadable."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"{what} {path} is larger than {MAX_JSON_BYTES} bytes")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{what} {path} is corrupt (not valid JSON: {exc})") from None
