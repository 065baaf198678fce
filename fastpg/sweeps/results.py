"""A sweep's results file (JSONL or CSV, one record per finished run) and its summary per grid point.

Records are appended and flushed as runs finish, so a crash or Ctrl-C keeps every finished run;
a torn last line (a crash mid-write) is dropped on the next open. In JSONL a record's grid values
are in ``"point"``; in CSV they are the columns before ``run_id``. The last record of a run id wins.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..training.config import FIELDS
from .worker import FAILED, LOST, OK, RECORD_FIELDS

_INTS = {"seed", "episodes_to_solve", "steps_to_solve", "updates_to_solve", "updates", "episodes", "steps",
         "attempts"}
_TEXT = {"run_id", "status", "stop_reason", "worker", "error"}


class ResultsFile:
    """Append-only results file; ``grid_keys`` fixes the CSV columns (JSONL keeps them in each record).

    Checks an existing file at once; creates or opens it only when the first records come.
    """

    def __init__(self, path: str | Path, grid_keys: Iterable[str]):
        self.path = Path(path)
        self.columns = (*grid_keys, *RECORD_FIELDS)
        self._file = self._csv = None
        if self.path.exists():
            _drop_torn_line(self.path)
        if self.path.suffix == ".csv" and self.path.exists() and self.path.stat().st_size:
            with open(self.path, encoding="utf-8", newline="") as f:
                header = tuple(next(csv.reader(f), ()))
            if header != self.columns:
                raise ValueError(f"{self.path} holds results with other columns ({', '.join(header)}); "
                                 "give this sweep another results file")

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Write ``records`` and flush them to the OS."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", newline="")
            if self.path.suffix == ".csv":
                self._csv = csv.writer(self._file, lineterminator="\n")
                if not self.path.stat().st_size:
                    self._csv.writerow(self.columns)
        for record in records:
            if self._csv:
                flat = {**record["point"], **record, "theta": _theta_text(record["theta"])}
                self._csv.writerow(["" if flat[k] is None else flat[k] for k in self.columns])
            else:
                self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _drop_torn_line(path: Path, block: int = 1 << 16) -> None:
    """Cut a last line that a crash left without its newline."""
    with open(path, "rb+") as f:
        end = f.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - block)
            f.seek(start)
            newline = f.read(position - start).rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        if position < end:
            f.truncate(position)


def _theta_text(theta: list[float] | None) -> str | None:
    return None if theta is None else " ".join(repr(v) for v in theta)


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Every complete record of a results file (JSONL or CSV by suffix), in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read sweep results {path}: {exc.strerror or exc}") from None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # torn by a crash
    if path.suffix == ".csv":
        return [_from_csv(row) for row in csv.DictReader(io.StringIO("".join(lines)))]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"{path}:{number} is not a sweep record (not JSON)") from None
        if not isinstance(record, dict) or "run_id" not in record or "point" not in record:
            raise ValueError(f"{path}:{number} is not a sweep record (no run_id or point)")
        records.append(record)
    return records


def _from_csv(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {"point": {}}
    for key, text in row.items():
        if key in RECORD_FIELDS:
            record[key] = _parse(key, text)
        elif key in FIELDS:
            kind = type(FIELDS[key].default)
            record["point"][key] = text == "True" if kind is bool else kind(text)
        else:
            raise ValueError(f"sweep results column {key!r} is neither a record field nor a config key")
    return record


def _parse(key: str, text: str) -> Any:
    if text == "":
        return None
    if key == "theta":
        return [float(v) for v in text.split()]
    if key == "solved":
        return text == "True"
    if key in _TEXT:
        return text
    return int(text) if key in _INTS else float(text)


def latest(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each run id."""
    return {r["run_id"]: r for r in records}


def summarize(points: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per grid point: run counts, solve rate, median/p90 episodes and steps to solve (over the
    solved runs), median wall time per run, and the mean final evaluation returns (if evaluated)."""
    groups: dict[str, list[dict[str, Any]]] = {json.dumps(point, sort_keys=True): [] for point in points}
    for record in records:
        groups.setdefault(json.dumps(record["point"], sort_keys=True), []).append(record)
    rows = []
    for point in points:
        mine = groups[json.dumps(point, sort_keys=True)]
        done = [r for r in mine if r["status"] == OK]
        solved = [r for r in done if r["solved"]]
        row = {**point, "runs": len(mine), "failed": sum(r["status"] == FAILED for r in mine),
               "lost": sum(r["status"] == LOST for r in mine),
               "solve_rate": len(solved) / len(mine) if mine else None}
        for name in ("episodes", "steps"):
            values = [r[f"{name}_to_solve"] for r in solved]
            row[f"{name}_median"] = _stat(values, 50)
            row[f"{name}_p90"] = _stat(values, 90)
        row["wall_median_s"] = _stat([r["wall_seconds"] for r in done], 50)
        for mode in ("stochastic", "greedy"):
            values = [r[f"final_{mode}_return"] for r in done if r[f"final_{mode}_return"] is not None]
            row[f"final_{mode}_return"] = float(np.mean(values)) if values else None
        rows.append(row)
    return rows


def _stat(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def summary_text(rows: list[dict[str, Any]], grid_keys: Iterable[str]) -> str:
    """The summary as an aligned text table."""
    keys = list(grid_keys)
    head = [*keys, "runs", "failed", "lost", "solve_rate", "episodes_median", "episodes_p90", "steps_median",
            "steps_p90", "wall_median_s", "final_stochastic_return", "final_greedy_return"]
    labels = [*keys, "runs", "failed", "lost", "solved", "episodes med", "p90", "steps med", "p90",
              "wall med", "final stoch", "final greedy"]
    cells = [labels] + [[_cell(k, row[k]) for k in head] for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "solve_rate":
        return f"{value:.0%}"
    if key == "wall_median_s":
        return f"{value * 1e3:.1f} ms"
    if isinstance(value, float) and key.startswith(("episodes", "steps")):
        return f"{value:,.0f}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def summary_csv(rows: list[dict[str, Any]]) -> str:
    """The summary rows as CSV text."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()
