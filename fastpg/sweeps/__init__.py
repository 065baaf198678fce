"""The sweep layer: many training runs on joblib, Dask or Ray (depends on ``training``).

- ``spec``: the sweep file (TOML: base options, grid, seeds, backend) and run ids;
- ``worker``: runs a batch of runs in a worker and makes their records; ``backends``: joblib (loky),
  Dask and Ray behind one small interface; ``results``: the streamed JSONL/CSV file and summaries;
- ``run``: ``sweep``/``run_sweep`` (scheduling, retries of lost tasks); ``plot``: comparison plots.

A new backend: a class in ``backends`` with ``workers``, ``submit`` and ``close``, and its name in
``spec.BACKENDS``.
"""

from .._lazy import lazy_attributes

__getattr__ = lazy_attributes(__name__, {"sweep": ".run", "run_sweep": ".run", "SweepResult": ".run",
                                         "SweepSpec": ".spec", "load_sweep": ".spec"})
__all__ = ["SweepResult", "SweepSpec", "load_sweep", "run_sweep", "sweep"]
