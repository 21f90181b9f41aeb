"""Where offline jobs run: in this process (the default) or on a Dask cluster, with the same code.

A job is a top-level function applied to a list of small, picklable work items (file byte
ranges, :class:`~whyrec.tools.workspace.EventPartition` s, user slices); each call reads its own
input from the shared workspace, writes any large output there, and returns a small result.
:meth:`Engine.map` runs the calls and returns their results in input order, so the job's driver
combines them the same way whatever ran them::

    with open_engine("dask", workers=2) as engine:          # or open_engine() for in-process
        counts = engine.map(count_behaviours, workspace.event_partitions())
    total = sum(counts, Counter())

Contract for job functions (what makes a cluster run equal an in-process run):

* top-level (importable by the workers), arguments and results picklable and small;
* deterministic given their input (no clock, no global random state: take a seed);
* they read and write only under paths they are given (the workspace's files; a cluster's
  workers must see the same file system, e.g. a shared volume), and never the manifest: the
  driver commits, once, after every call has returned.

Why Dask (``distributed``): it is pure Python on top of pandas/NumPy/pyarrow, which this stack
already uses; a wheel set of a few MB that installs in seconds (Ray is one large binary wheel with
its own object store and daemons, Spark needs a JVM), a ``LocalCluster`` of processes starts in
about two seconds on a laptop-sized machine, and the same client connects to a real cluster by
address (``tcp://scheduler:8786``). Only :meth:`Client.map` / :meth:`Client.gather` are used, so
another engine fits behind :class:`Engine` with one small class.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .cli_options import ENGINES as ENGINES  # the names open_engine accepts (and ``--engine``)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class EngineError(RuntimeError):
    """The engine could not be started or reached (the message says how to fix it)."""


class Engine(Protocol):
    """Runs a job function over work items; results come back in input order."""

    name: str

    @property
    def workers(self) -> int:
        """How many calls may run at once."""
        ...

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_done: Callable[[int, R], object] | None = None) -> list[R]:
        """``[fn(item) for item in items]``, possibly in parallel; the first error is raised.
        ``on_done(position, result)`` is called in this process for each call, in input order."""
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> Engine:
        ...

    def __exit__(self, *exc: object) -> None:
        ...


class LocalEngine:
    """Every call in this process, one after another: the default, and the reference result."""

    name = "local"

    @property
    def workers(self) -> int:
        return 1

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_done: Callable[[int, R], object] | None = None) -> list[R]:
        results = []
        for position, item in enumerate(items):
            results.append(fn(item))
            if on_done is not None:
                on_done(position, results[-1])
        return results

    def close(self) -> None:
        return None

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskEngine:
    """Calls run on a Dask cluster: a new local cluster of ``n_workers`` processes, or an existing
    one at ``address`` (its workers must import whyrec and see the workspace's files).

    ``memory_limit`` is per worker (e.g. ``"4GB"``); one thread per worker keeps a worker's
    memory to one call at a time, which is what the jobs' batch sizes are planned for.
    """

    name = "dask"

    def __init__(self, address: str | None = None, n_workers: int = 2, threads_per_worker: int = 1,
                 memory_limit: str | None = None, connect_timeout: str = "30s") -> None:
        try:
            from distributed import Client, LocalCluster

            # Dask configures its loggers at import (INFO): the cluster's start/stop chatter and
            # hints are not for whyrec's users unless they debug whyrec itself.
            if not log.isEnabledFor(logging.DEBUG):
                logging.getLogger("distributed").setLevel(logging.WARNING)
        except ImportError as exc:  # pragma: no cover - a pinned dependency
            raise EngineError("the dask engine needs the `distributed` package (pip install distributed)") from exc
        self._cluster: Any = None
        if address:
            _check_address(address)
        try:
            if address:
                self._client = Client(address, timeout=connect_timeout, set_as_default=False)
            else:
                self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                             processes=True, dashboard_address=":0",  # a free port: jobs never collide
                                             memory_limit=memory_limit or "auto", silence_logs=logging.ERROR)
                self._client = Client(self._cluster, set_as_default=False)
        except OSError as exc:
            if self._cluster is not None:
                self._cluster.close()
            where = address or "a local cluster"
            raise EngineError(f"cannot reach the Dask scheduler at {where}: {exc}. Start one with "
                              f"`dask scheduler` and `dask worker ADDRESS`, or leave out --address to "
                              f"start a local cluster") from exc

    @property
    def workers(self) -> int:
        info = self._client.scheduler_info()
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or 1

    @property
    def address(self) -> str:
        scheduler = self._client.scheduler
        return str(scheduler.address) if scheduler is not None else ""

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_done: Callable[[int, R], object] | None = None) -> list[R]:
        if not items:
            return []
        futures = self._client.map(fn, list(items), pure=False)
        try:
            if on_done is None:
                return list(self._client.gather(futures))
            results = []
            for position, future in enumerate(futures):  # in input order, as they finish
                results.append(future.result())
                on_done(position, results[-1])
            return results
        except BaseException as exc:
            self._client.cancel(futures)
            failure = _engine_error(exc, fn)
            if failure is not None:
                raise failure from exc
            raise

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_address(address: str) -> None:
    """Refuse a scheduler address Dask cannot parse before a client is made: a client that fails
    half-way through its constructor waits a minute on exit trying to close itself."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)   # the client raises for an unknown scheme ("'tcp", "tcpx") only once half made
        host, _port = parse_host_port(location)
        host.encode("idna")   # what the connection does with a host name (odd unicode fails here)
    except (ValueError, TypeError) as exc:  # UnicodeError is a ValueError
        raise EngineError(f"--address {address!r} is not a Dask scheduler address like tcp://host:8786 "
                          f"({exc})") from exc


def _engine_error(exc: BaseException, fn: Callable[..., Any]) -> EngineError | None:
    """The cluster's own failures as an :class:`EngineError` that says what to do; a job's
    errors (raised by ``fn``) are left as they are."""
    from distributed import KilledWorker

    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "the job")
    if isinstance(exc, KilledWorker):
        return EngineError(f"a Dask worker died running {name} (most often: it passed its memory limit); "
                           f"give the workers more memory (`dask worker --memory-limit …`) or fewer rows per call")
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "whyrec":
        return EngineError("the Dask workers cannot import whyrec: install it (the same version) on every "
                           "worker, or leave out --address to run a local cluster")
    return None


# -- a job's inputs on the shared file system ---------------------------------------------------
@contextmanager
def scratch_folder(prefix: str, scratch: str | Path | None = None) -> Iterator[Path]:
    """A new folder under ``scratch`` (default: the system's temporary folder; for a remote
    cluster, a folder its workers see too) for the inputs a job's calls read, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=scratch))
    try:
        folder.chmod(0o755)        # workers may run as another user on a shared volume
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_inputs(path: Path, inputs: object) -> None:
    """Pickle ``inputs`` to ``path`` for the workers (:func:`read_inputs`)."""
    with open(path, "wb") as handle:
        pickle.dump(inputs, handle, protocol=pickle.HIGHEST_PROTOCOL)


def read_inputs(path: str, what: str, hint: str) -> Any:
    """In a worker: the inputs the driver wrote at ``path``; an :class:`EngineError` saying that
    the worker cannot read ``what`` there, and ``hint`` (where they should be), if it cannot."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)  # written by this job's driver a moment ago
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
        raise EngineError(f"a worker cannot read {what} at {path} ({exc}); {hint}") from exc


def open_engine(name: str | None = None, address: str | None = None, workers: int | None = None,
                memory_limit: str | None = None) -> LocalEngine | DaskEngine:
    """The engine called ``name`` (``local``, the default, or ``dask``).

    ``dask`` with an ``address`` joins that cluster; without one it starts a local cluster of
    ``workers`` processes (default 2) and stops it on :meth:`close`.
    """
    chosen = (name or "local").lower()
    if workers is not None and workers < 1:
        raise EngineError(f"--workers must be at least 1, not {workers}")
    if chosen == "local":
        if address:
            raise EngineError("--address needs --engine dask")
        if workers is not None:
            raise EngineError("--workers needs --engine dask (it sizes a local Dask cluster)")
        return LocalEngine()
    if chosen == "dask":
        if address and workers is not None:
            raise EngineError("--workers sizes a local Dask cluster; with --address the cluster's own workers run")
        return DaskEngine(address=address, n_workers=2 if workers is None else workers, memory_limit=memory_limit)
    raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
