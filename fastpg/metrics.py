"""Per-update training metrics, appended to ``metrics.jsonl`` or ``metrics.csv`` in the run folder."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

COLUMNS = (
    "update", "episodes", "steps", "mean_return", "min_return", "max_return", "grad_norm",
    "estimator_variance", "kl", "ess", "lr", "eval_mean_return", "theta", "wall_time",
)


def metrics_path(run_dir: Path, fmt: str) -> Path:
    return Path(run_dir) / f"metrics.{fmt}"


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsWriter:
    """Append one row per update; each row is flushed to the OS, so a killed process loses no finished update.

    Rows are not fsynced (the checkpoint is): after a crash, resuming rewrites rows past the checkpoint.
    """

    def __init__(self, path: Path, fmt: str, keep_updates: int = 0):
        """Open ``path``; when resuming, keep the first ``keep_updates`` rows and drop later ones."""
        self.fmt, self.path = fmt, Path(path)
        rows = read_metrics(self.path)[:keep_updates] if keep_updates and self.path.exists() else []
        self._file = open(self.path, "w", encoding="utf-8", newline="")
        if fmt == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS)
            self._csv.writeheader()
        for row in rows:
            self.write(row)

    def write(self, row: dict[str, Any]) -> None:
        row = {k: _cell(row.get(k)) for k in COLUMNS}
        if self.fmt == "csv":
            self._csv.writerow({**row, "theta": " ".join(repr(v) for v in row["theta"] or ())})
        else:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of a metrics file (JSONL or CSV by suffix); a torn last line from a crash is skipped."""
    text = Path(path).read_text(encoding="utf-8")
    if Path(path).suffix == ".csv":
        rows = []
        for row in csv.DictReader(io.StringIO(text)):
            if None in row.values() or len(row) != len(COLUMNS):
                continue
            rows.append({k: _parse_csv(k, v) for k, v in row.items()})
        return rows
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _parse_csv(key: str, value: str) -> Any:
    if key == "theta":
        return [float(v) for v in value.split()]
    if value == "":
        return None
    return int(value) if key in ("update", "episodes", "steps") else float(value)
