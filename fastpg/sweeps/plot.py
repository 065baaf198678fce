"""Comparison plot of a sweep results file: episodes to solve per grid point (box plots) and solve rate.

Needs matplotlib (``fastpg[plot]``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..plotting import pyplot, save_png
from .results import latest, read_results
from .worker import OK


def is_sweep_results(path: str | Path) -> bool:
    """Whether ``path`` is a sweep results file (a .jsonl or .csv file), not a run folder."""
    path = Path(path)
    return path.is_file() and path.suffix in (".jsonl", ".csv")


def plot_sweep(results_path: str | Path, out: str | Path | None = None) -> Path:
    """Draw episodes to solve (solved runs) as a box per grid point, and each point's solve rate.

    Writes ``NAME.png`` beside ``NAME.jsonl`` unless ``out`` is given; returns the path.
    """
    results_path = Path(results_path)
    records = list(latest(read_results(results_path)).values())
    if not records:
        raise ValueError(f"{results_path} has no finished runs to plot")
    plt = pyplot()
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(json.dumps(record["point"]), []).append(record)
    labels = ["\n".join(f"{k}={v}" for k, v in json.loads(key).items()) or "base" for key in groups]
    solved = [[r["episodes_to_solve"] for r in runs if r["status"] == OK and r["solved"]] for runs in groups.values()]
    rates = [len(s) / len(runs) for s, runs in zip(solved, groups.values())]
    positions = range(1, len(groups) + 1)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(max(6.0, 0.8 * len(groups) + 2), 6.5), dpi=120,
                                      gridspec_kw={"height_ratios": [3, 1]})
    filled = [(p, s) for p, s in zip(positions, solved) if s]
    if filled:
        top.boxplot([s for _, s in filled], positions=[p for p, _ in filled], widths=0.6)
    top.set_ylabel("episodes to solve\n(solved runs)")
    top.set_title(f"fastpg sweep: {results_path.name} ({len(records)} runs)")
    bottom.bar(positions, rates, width=0.6, color="tab:green")
    bottom.set_ylim(0, 1.05)
    bottom.set_ylabel("solve rate")
    bottom.set_xticks(list(positions), labels, fontsize=8, rotation=30, ha="right", rotation_mode="anchor")
    fig.tight_layout()
    return save_png(fig, Path(out) if out is not None else results_path.with_suffix(".png"))
