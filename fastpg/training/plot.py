"""Learning-curve PNG of a finished (or interrupted) run folder. Needs matplotlib (``fastpg[plot]``)."""

from __future__ import annotations

from pathlib import Path

from ..plotting import pyplot, save_png
from .config import load_config
from .metrics import read_metrics
from .runs import CONFIG_FILE, PLOT_FILE, find_metrics


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw training returns (batch mean, min-max band) and evaluation returns against episodes.

    Writes ``RUN_DIR/learning_curve.png`` (exactly that name) unless ``out`` is given; returns the path.
    """
    run_dir = Path(run_dir)
    rows = read_metrics(find_metrics(run_dir))
    if not rows:
        raise ValueError(f"{run_dir} has no finished updates to plot")
    plt = pyplot()
    episodes = [r["episodes"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.fill_between(episodes, [r["min_return"] for r in rows], [r["max_return"] for r in rows],
                    alpha=0.2, label="batch min-max")
    ax.plot(episodes, [r["mean_return"] for r in rows], label="batch mean return")
    evals = [(r["episodes"], r["eval_mean_return"]) for r in rows if r.get("eval_mean_return") is not None]
    if evals:
        ax.plot(*zip(*evals), "o-", markersize=3, label="evaluation mean return")
    threshold = load_config(run_dir / CONFIG_FILE).solve_threshold
    ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("return")
    ax.set_title(f"fastpg learning curve: {run_dir.name}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save_png(fig, Path(out) if out is not None else run_dir / PLOT_FILE)
