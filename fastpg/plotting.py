"""Matplotlib, loaded on first use (``fastpg[plot]``), and figures saved atomically as PNG."""

from __future__ import annotations

import io
from pathlib import Path

from .errors import require
from .files import atomic_write_bytes, check_writable_target


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend; ``MissingDependencyError`` if not installed."""
    matplotlib = require("matplotlib", "plot", "plotting")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | Path) -> Path:
    """Render ``fig`` to PNG in memory, then write it atomically to ``path`` and close it (no torn files)."""
    check_writable_target(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
