"""Per-update training metrics, appended to ``metrics.jsonl`` or ``metrics.csv`` in the run folder."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

from ..files import fsync_folder

COLUMNS = (
    "update", "episodes", "steps", "mean_return", "min_return", "max_return", "grad_norm",
    "estimator_variance", "kl", "kl_lambda", "ess", "lr", "eval_mean_return", "confirm_mean_return",
    "eval_episodes", "theta", "wall_time",
)


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsWriter:
    """Append one row per update; each row is flushed to the OS, so a killed process loses no finished update.

    ``sync()`` (called before every checkpoint) also flushes the rows to disk, so a checkpoint is
    never ahead of its metrics.
    """

    def __init__(self, path: Path, fmt: str, keep_updates: int = 0):
        """Open ``path``; when resuming, keep the rows of updates 1..``keep_updates`` and drop later ones.

        The kept rows are written to a new file that replaces the old one atomically, so a crash
        here loses nothing. ``ValueError`` if any of those rows is missing or malformed.
        """
        self.fmt, self.path = fmt, Path(path)
        self.kept = kept_rows(self.path, keep_updates) if keep_updates else []
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._file = open(tmp, "w", encoding="utf-8", newline="")
        if fmt == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS)
            self._csv.writeheader()
        for row in self.kept:
            self.write(row)
        self.sync()
        os.replace(tmp, self.path)
        fsync_folder(self.path.parent)

    def write(self, row: dict[str, Any]) -> None:
        row = {k: _cell(row.get(k)) for k in COLUMNS}
        if self.fmt == "csv":
            self._csv.writerow({**row, "theta": " ".join(repr(v) for v in row["theta"] or ())})
        else:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def kept_rows(path: Path, updates: int) -> list[dict[str, Any]]:
    """The rows of updates 1..``updates`` of a metrics file, by their ``update`` field."""
    try:
        rows = read_metrics(path)
    except OSError as exc:
        raise ValueError(f"cannot read metrics file {path}: {exc.strerror or exc}") from None
    by_update = {}
    for row in rows:
        if 1 <= row["update"] <= updates:
            by_update.setdefault(row["update"], row)
    if len(by_update) < updates:  # the first missing update is at most len(by_update) + 1: stop after a few
        missing = list(itertools.islice((u for u in range(1, updates + 1) if u not in by_update), 6))
        raise ValueError(f"metrics file {path} lacks the rows of updates {missing[:5]}{'...' if len(missing) > 5 else ''}"
                         f" that the checkpoint has done; it was damaged or edited")
    return [by_update[u] for u in range(1, updates + 1)]


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of a metrics file (JSONL or CSV by suffix); a torn last line from a crash is skipped."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if text and tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"metrics file {path}: its header is not fastpg's metrics columns")
        rows = list(reader)
        parsed = []
        for n, row in enumerate(rows, 2):
            if None in row.values() or None in row:  # too few or too many cells
                if n == len(rows) + 1:  # a torn last line from a crash
                    continue
                raise ValueError(f"metrics file {path}, line {n}: wrong number of cells")
            try:
                parsed.append({k: _parse_csv(k, v) for k, v in row.items()})
            except ValueError as exc:
                raise ValueError(f"metrics file {path}, line {n}: {exc}") from None
        return parsed
    rows = []
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):  # a torn last line from a crash
                continue
            raise ValueError(f"metrics file {path}, line {n}: not valid JSON") from None
        if not isinstance(row, dict) or isinstance(row.get("update"), bool) or not isinstance(row.get("update"), int):
            raise ValueError(f"metrics file {path}, line {n}: not a metrics row (no integer 'update')")
        rows.append(row)
    return rows


def _parse_csv(key: str, value: str) -> Any:
    if key == "theta":
        return [float(v) for v in value.split()]
    if value == "":
        return None
    return int(value) if key in ("update", "episodes", "steps") else float(value)
