"""The engines a sweep runs on: joblib's loky processes (default), Dask ``distributed`` and Ray.

Each backend offers the same four operations on tasks: ``submit(fn, *args) -> future``,
``wait(futures) -> the finished ones``, ``result(future)`` (raises if the task's worker died) and
``close(pending)`` (cancelling the tasks still ``pending``, e.g. on Ctrl-C). The sweep keeps a few
tasks per worker in flight and streams results as tasks finish. Engine-side retries are turned off where fastpg starts the engine: the sweep
re-runs lost runs itself, alone, so that a run that kills its worker is identified.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
from urllib.parse import urlsplit

from ..errors import require

CONNECT_TIMEOUT = 5.0  # seconds to reach an existing scheduler or cluster


def open_backend(name: str, workers: int | None, address: str | None):
    """Start (or connect to) backend ``name``; ``MissingDependencyError`` if its package is missing,
    ``ConnectionError`` if ``address`` cannot be reached."""
    if name == "joblib":
        return LokyBackend(workers)
    return {"dask": DaskBackend, "ray": RayBackend}[name](workers, address)


def local_cpus() -> int:
    """The cores this process may use (loky's count: affinity and cgroup quotas included)."""
    import joblib

    return joblib.cpu_count()


def check_reachable(address: str, what: str, default_port: int | None = None) -> None:
    """Open (and close) a TCP connection to ``address`` within ``CONNECT_TIMEOUT`` seconds, or raise
    ``ConnectionError`` saying why."""
    parts = urlsplit(address if "://" in address else "tcp://" + address)
    try:
        host, port = parts.hostname, parts.port or default_port
    except ValueError:
        raise ValueError(f"{what} address {address!r} is not host:port") from None
    if not host or port is None:
        raise ValueError(f"{what} address {address!r} is not host:port")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ConnectionError(f"cannot reach the {what} at {address}: {reason}") from None


class LokyBackend:
    """joblib's loky process pool (the one behind ``joblib.Parallel``), reused across sweeps.

    Futures rather than ``Parallel`` so that a dead worker costs only the tasks in flight: loky
    then breaks the whole pool, and the next ``submit`` gets a fresh one.
    """

    local = True

    def __init__(self, workers: int | None):
        from joblib.externals.loky import get_reusable_executor

        from .worker import exit_with_parent

        self.workers = workers or local_cpus()
        self._get = lambda: get_reusable_executor(max_workers=self.workers, timeout=300, initializer=exit_with_parent,
                                                  initargs=(os.getpid(),))
        self._pool = self._get()  # start the workers now

    def submit(self, fn, *args):
        self._pool = self._get()  # a new pool if a worker died
        return self._pool.submit(fn, *args)

    def wait(self, futures):
        return concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED).done

    def result(self, future):
        return future.result()

    def close(self, pending=()) -> None:
        if pending:  # stop the runs in progress too; otherwise the idle pool is kept for the next sweep
            self._pool.shutdown(wait=False, kill_workers=False)


class DaskBackend:
    """A ``dask.distributed`` client: of a new ``LocalCluster`` (one single-threaded worker process
    per core, or ``workers``), or of the scheduler at ``address``."""

    def __init__(self, workers: int | None, address: str | None):
        dask = require("dask", "dask", "the dask backend")
        distributed = require("dask.distributed", "dask", "the dask backend")
        self._wait, self.cluster = distributed.wait, None
        if address is not None:
            check_reachable(address, "Dask scheduler", 8786)
            try:
                self.client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT}s")
            except Exception as exc:  # noqa: BLE001 - e.g. MemoryError from a non-Dask service's bytes
                raise ConnectionError(f"cannot connect to a Dask scheduler at {address} (is it one?): "
                                      f"{type(exc).__name__}: {str(exc)[:200]}") from None
            self.local = False
        else:
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = distributed.LocalCluster(n_workers=workers or local_cpus(),
                                                        threads_per_worker=1, processes=True,
                                                        dashboard_address=":0", silence_logs=logging.CRITICAL)
            self.client = distributed.Client(self.cluster)
            self.local = True
        self.workers = workers or max(1, sum(self.client.nthreads().values()))

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def wait(self, futures):
        return self._wait(futures, return_when="FIRST_COMPLETED").done

    def result(self, future):
        return future.result()

    def close(self, pending=()) -> None:
        if pending:
            self.client.cancel(list(pending))
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class RayBackend:
    """Ray tasks: on a new local Ray instance (``workers`` CPUs, default all), or on the cluster at
    ``address`` ("auto", "host:port" or "ray://host:port")."""

    def __init__(self, workers: int | None, address: str | None):
        self._ray = ray = require("ray", "ray", "the ray backend")
        self._started = not ray.is_initialized()
        if address is not None and address not in ("auto", "local"):
            check_reachable(address, "Ray cluster", 10001 if address.startswith("ray://") else 6379)
        if self._started:
            ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        self.local = address is None
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = {}

    def submit(self, fn, *args):
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(num_cpus=1, max_retries=0)(fn)
        return self._remote[fn].remote(*args)

    def wait(self, futures):
        return self._ray.wait(list(futures), num_returns=1)[0]

    def result(self, future):
        return self._ray.get(future)

    def close(self, pending=()) -> None:
        for future in pending:
            self._ray.cancel(future, force=True)
        if self._started:
            self._ray.shutdown()
