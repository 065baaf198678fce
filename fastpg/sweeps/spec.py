"""What a sweep is: a base config, a grid of values, seeds and where to run; read from TOML, checked up front.

A sweep runs ``train`` once per (grid point, seed). Every run's config is built and validated
before anything starts, and each run gets an id that depends only on its config (so a re-run
finds the runs it already has in the results file, whatever backend or worker count ran them).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..limits import MAX_SWEEP_RETRIES, MAX_SWEEP_RUNS, MAX_SWEEP_WORKERS
from ..training.config import FIELDS, TrainConfig, coerce_value, check_keys, config_from_dict, read_toml

BACKENDS = ("joblib", "dask", "ray")
SWEEP_KEYS = ("base", "grid", "seeds", "backend", "workers", "address", "out", "chunk_size", "retries")
NOT_IN_RUN_ID = ("threads", "checkpoint_every", "metrics_format")  # cannot change a run's results
SWEEP_BASE = TrainConfig(final_episodes=0)  # a sweep's default: skip the slow final Gymnasium evaluation


@dataclass(frozen=True)
class Run:
    """One training run of a sweep: its id, its grid point, its seed and its full config."""

    run_id: str
    point: dict[str, Any]
    seed: int
    config: TrainConfig


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep. ``grid`` maps config keys to tuples of values; ``seeds`` is a tuple of ints.

    backend: "joblib" (loky processes on this machine), "dask" or "ray"; workers: None = sized to
    the machine (or the cluster); address: an existing Dask scheduler or Ray cluster (None: start a
    local one); out: the results file (.jsonl or .csv; None: keep results in memory only);
    chunk_size: runs per task (None: automatic); retries: how often a run whose worker died is
    re-run alone before it is reported lost.
    """

    base: TrainConfig = SWEEP_BASE
    grid: dict[str, tuple] = dataclasses.field(default_factory=dict)
    seeds: tuple[int, ...] = tuple(range(10))
    backend: str = "joblib"
    workers: int | None = None
    address: str | None = None
    out: Path | None = None
    chunk_size: int | None = None
    retries: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.base, TrainConfig):
            raise TypeError(f"base must be a TrainConfig, got {type(self.base).__name__}")
        object.__setattr__(self, "grid", _check_grid(self.grid))
        object.__setattr__(self, "seeds", parse_seeds(self.seeds))
        if math.prod(map(len, self.grid.values())) * len(self.seeds) > MAX_SWEEP_RUNS:
            raise ValueError(f"the sweep has {math.prod(map(len, self.grid.values()))} grid points x "
                             f"{len(self.seeds)} seeds, more than {MAX_SWEEP_RUNS} runs (the limit)")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        for name, low, high, optional in (("workers", 1, MAX_SWEEP_WORKERS, True),
                                          ("chunk_size", 1, MAX_SWEEP_RUNS, True),
                                          ("retries", 0, MAX_SWEEP_RETRIES, False)):
            value = getattr(self, name)
            if (value is not None or not optional) and (isinstance(value, bool) or not isinstance(value, int)
                                                         or not low <= value <= high):
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise ValueError(f"address must be a non-empty string, got {self.address!r}")
        if self.address is not None and self.backend == "joblib":
            raise ValueError("the joblib backend runs on this machine; an address needs backend dask or ray")
        if self.out is not None:
            if not isinstance(self.out, (str, os.PathLike)):
                raise ValueError(f"out must be a file name, got {self.out!r}")
            out = Path(self.out)
            if out.suffix not in (".jsonl", ".csv"):
                raise ValueError(f"the results file must end in .jsonl or .csv, got {out}")
            object.__setattr__(self, "out", out)

    def points(self) -> list[dict[str, Any]]:
        """Every grid point, in grid order (the last key varies fastest)."""
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*self.grid.values())]

    def plan(self) -> list[Run]:
        """Every run, grid point by grid point, seed by seed; raises ``ValueError`` on any invalid config."""
        runs, seen = [], {}
        for point in self.points():
            try:
                config = config_from_dict(point, self.base)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"grid point {format_point(point)}: {exc}") from None
            key = run_id(config)
            if key in seen:
                raise ValueError(f"grid points {format_point(seen[key])} and {format_point(point)} are the same "
                                 f"runs ({', '.join(NOT_IN_RUN_ID)} cannot change a run's results)")
            seen[key] = point
            for seed in self.seeds:
                run_config = dataclasses.replace(config, seed=seed)
                runs.append(Run(run_id(run_config), point, seed, run_config))
        return runs


def run_id(config: TrainConfig) -> str:
    """A 16-hex-digit id from every config field that can change a run's results."""
    values = {k: v for k, v in config.to_dict().items() if k not in NOT_IN_RUN_ID}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def format_point(point: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in point.items()) + "}" if point else "{base}"


def parse_seeds(seeds: str | int | Iterable[int]) -> tuple[int, ...]:
    """Seeds from a list of ints, or a string of comma-separated seeds and inclusive ranges ("0-19,40")."""
    if isinstance(seeds, str):
        ranges = []
        for part in seeds.split(","):
            low, dash, high = part.strip().partition("-")
            try:
                low, high = int(low), int(high) if dash else int(low)
            except ValueError:
                raise ValueError(f"seeds: {part.strip()!r} is not a seed or a range like 0-19") from None
            if high < low:
                raise ValueError(f"seeds: the range {part.strip()!r} is empty")
            ranges.append(range(low, high + 1))
        if sum(r.stop - r.start for r in ranges) > MAX_SWEEP_RUNS:
            raise ValueError(f"seeds {seeds!r} lists more than {MAX_SWEEP_RUNS} seeds (the limit of runs in a sweep)")
        values = [seed for r in ranges for seed in r]
    elif isinstance(seeds, (int, bool)) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be a list of integers or a range like \"0-19\", got {seeds!r}")
    else:
        values = list(itertools.islice(seeds, MAX_SWEEP_RUNS + 1))
        if len(values) > MAX_SWEEP_RUNS:
            raise ValueError(f"seeds lists more than {MAX_SWEEP_RUNS} seeds (the limit of runs in a sweep)")
    if not values:
        raise ValueError("seeds is empty: give at least one seed, e.g. \"0-9\"")
    low, high = FIELDS["seed"].metadata["low"], FIELDS["seed"].metadata["high"]
    for seed in values:
        if isinstance(seed, bool) or not isinstance(seed, int) or not low <= seed <= high:
            raise ValueError(f"seeds must be integers in [{low}, {high}], got {seed!r}")
    if len(set(values)) < len(values):
        seen = set()
        raise ValueError(f"seeds lists {next(s for s in values if s in seen or seen.add(s))} more than once")
    return tuple(values)


def _check_grid(grid: Any) -> dict[str, tuple]:
    if not isinstance(grid, dict):
        raise ValueError(f"grid must be a table of key = [values], got {grid!r}")
    try:
        check_keys(grid)
    except ValueError as exc:
        raise ValueError(f"grid: {exc}") from None
    checked = {}
    for key, values in grid.items():
        if key == "seed":
            raise ValueError("grid: seed is set by seeds, not by the grid")
        if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
            raise ValueError(f"grid.{key} must be a list of values, got {values!r} (a single value goes in base)")
        values = tuple(itertools.islice(values, MAX_SWEEP_RUNS + 1))
        if len(values) > MAX_SWEEP_RUNS:
            raise ValueError(f"grid.{key} lists more than {MAX_SWEEP_RUNS} values (the limit of runs in a sweep)")
        if not values:
            raise ValueError(f"grid.{key} is empty: the grid would have no points")
        coerced = [coerce_value(key, v) for v in values]
        seen = set()
        for i, v in enumerate(coerced):
            marker = v if isinstance(v, (int, float, str)) else repr(v)  # a list or table: refused later
            if marker in seen:
                raise ValueError(f"grid.{key} lists {values[i]!r} more than once")
            seen.add(marker)
        checked[key] = tuple(coerced)
    return checked


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read a sweep TOML file, then apply ``overrides`` (sweep keys; ``base.X`` / ``grid.X`` for one entry).

    A relative ``out`` in the file is relative to the file's folder; the default is the file's
    name with ``.jsonl`` beside it.
    """
    path = Path(path)
    values = read_toml(path, "sweep file")
    values.setdefault("out", path.with_suffix(".jsonl").name)
    values["out"] = path.parent / values["out"] if isinstance(values["out"], str) else values["out"]
    for key, value in (overrides or {}).items():
        table, _, name = key.partition(".")
        if name and table in ("base", "grid"):
            if not isinstance(values.setdefault(table, {}), dict):
                raise ValueError(f"sweep file {path}: {table} must be a table")
            values[table][name] = value
        else:
            values[key] = value
    return spec_from_dict(values, f"sweep file {path}")


def spec_from_dict(values: dict[str, Any], where: str = "sweep") -> SweepSpec:
    """A ``SweepSpec`` from a TOML-shaped dict (``base`` and ``grid`` tables, the other keys as they are)."""
    for key in values:
        if key not in SWEEP_KEYS:
            close = [repr(k) for k in difflib.get_close_matches(key, SWEEP_KEYS, n=1)]
            if key in FIELDS:  # a training option outside its table
                close = [f"'base.{key}' (or 'grid.{key}')"]
            hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(SWEEP_KEYS)}"
            raise ValueError(f"{where}: unknown key {key!r}{hint}")
    base = values.get("base", {})
    if not isinstance(base, dict):
        raise ValueError(f"{where}: base must be a table of training options")
    try:
        base = config_from_dict(base, SWEEP_BASE)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: base: {exc}") from None
    try:
        return SweepSpec(base=base, **{k: v for k, v in values.items() if k != "base"})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None
