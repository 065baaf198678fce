"""Learning-curve PNG of a finished (or interrupted) run folder. Needs matplotlib (``fastpg[plot]``)."""

from __future__ import annotations

from pathlib import Path

from .metrics import read_metrics


def find_metrics(run_dir: Path) -> Path:
    """The metrics file of a run folder; ``ValueError`` if the folder is not a fastpg run."""
    for name in ("metrics.jsonl", "metrics.csv"):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    raise ValueError(f"{run_dir} is not a fastpg run folder (no metrics.jsonl or metrics.csv)")


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw training returns (batch mean, min-max band) and evaluation returns against episodes.

    Writes ``RUN_DIR/learning_curve.png`` unless ``out`` is given; returns the path.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install 'fastpg[plot]'") from None
    run_dir = Path(run_dir)
    rows = read_metrics(find_metrics(run_dir))
    if not rows:
        raise ValueError(f"{run_dir} has no finished updates to plot")
    episodes = [r["episodes"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    ax.fill_between(episodes, [r["min_return"] for r in rows], [r["max_return"] for r in rows],
                    alpha=0.2, label="batch min-max")
    ax.plot(episodes, [r["mean_return"] for r in rows], label="batch mean return")
    evals = [(r["episodes"], r["eval_mean_return"]) for r in rows if r.get("eval_mean_return") is not None]
    if evals:
        ax.plot(*zip(*evals), "o-", markersize=3, label="evaluation mean return")
    ax.axhline(475, color="grey", linestyle="--", linewidth=1, label="solved (475)")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("return")
    ax.set_title(f"fastpg learning curve: {run_dir.name}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    out = Path(out) if out is not None else run_dir / "learning_curve.png"
    fig.savefig(out)
    plt.close(fig)
    return out
