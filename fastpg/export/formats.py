"""The export formats and their defaults (no Numba: the CLI's help reads these)."""

from __future__ import annotations

from pathlib import Path

FILE_FORMATS = ("json", "npy", "npz", "csv")
FORMATS = FILE_FORMATS + ("c", "c-fixed")
DTYPES = ("float64", "float32")
SUFFIXES = {".json": "json", ".npy": "npy", ".npz": "npz", ".csv": "csv", ".h": "c"}
C_DEFAULTS = {"prefix": "fastpg_policy", "test_vectors": 32, "episodes": 100, "seed": 0}


def fmt_of(fmt: str | None, path: Path) -> str:
    """``fmt`` if it is a known format, else the format ``path``'s suffix names; ``ValueError`` if neither."""
    if fmt is None:
        if Path(path).suffix.lower() not in SUFFIXES:
            raise ValueError(f"cannot tell the format from {Path(path).name!r}; give one of {', '.join(FORMATS)}")
        return SUFFIXES[Path(path).suffix.lower()]
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt
