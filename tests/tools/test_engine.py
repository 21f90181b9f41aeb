"""The job engine: in-process and on a local two-worker Dask cluster, the same results in order."""

from __future__ import annotations

import os
import time

import pytest

from whyrec.tools.engine import DaskEngine, EngineError, LocalEngine, open_engine


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def test_local_engine_runs_in_order_in_this_process() -> None:
    seen: list[int] = []
    results = LocalEngine().map(square_and_pid, [3, 1, 2], on_done=lambda i, r: seen.append(i))
    assert [r[0] for r in results] == [9, 1, 4] and {r[1] for r in results} == {os.getpid()}
    assert seen == [0, 1, 2]


def test_unknown_engine_and_address_without_dask_are_refused() -> None:
    with pytest.raises(EngineError, match="choose one of local, dask"):
        open_engine("spark")
    with pytest.raises(EngineError, match="--engine dask"):
        open_engine("local", address="tcp://127.0.0.1:8786")
    # A cluster of no workers would wait for ever; workers mean nothing in-process or on a
    # cluster that is already running.
    for workers in (0, -1):
        with pytest.raises(EngineError, match="at least 1"):
            open_engine("dask", workers=workers)
    with pytest.raises(EngineError, match="--workers needs --engine dask"):
        open_engine("local", workers=2)
    with pytest.raises(EngineError, match="own workers"):
        open_engine("dask", address="tcp://127.0.0.1:8786", workers=2)
    # A malformed address is refused at once (a client half made by it waited a minute on exit).
    for address in ("tcp://127.0.0.1:1'", '"; rm -rf /', "inproc://x", "tcp://\u00fc\u202ex:8786", "'tcp://x:1", "tcpx://h:1"):
        started = time.perf_counter()
        with pytest.raises(EngineError, match="is not a Dask scheduler address like tcp://host:8786"):
            open_engine("dask", address=address)
        assert time.perf_counter() - started < 5


@pytest.fixture(scope="module")
def dask_engine():  # type: ignore[no-untyped-def]
    with DaskEngine(n_workers=2, memory_limit="2GB") as engine:
        yield engine


def test_dask_engine_returns_the_local_results_in_order_from_other_processes(dask_engine: DaskEngine) -> None:
    items = list(range(20))
    done: list[int] = []
    remote = dask_engine.map(square_and_pid, items, on_done=lambda i, r: done.append(i))
    assert [r[0] for r in remote] == [r[0] for r in LocalEngine().map(square_and_pid, items)]
    assert os.getpid() not in {r[1] for r in remote}
    assert sorted(done) == items and dask_engine.workers == 2


def test_dask_engine_raises_the_tasks_error(dask_engine: DaskEngine) -> None:
    with pytest.raises(ValueError, match="three is not allowed"):
        dask_engine.map(fail_on_three, [1, 2, 3, 4])
    assert dask_engine.map(fail_on_three, [5]) == [5]  # the engine is still usable


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(EngineError, match="cannot reach the Dask scheduler"):
        DaskEngine(address="tcp://127.0.0.1:9", connect_timeout="2s")


def test_two_local_clusters_at_once_do_not_fight_over_a_port(dask_engine: DaskEngine) -> None:
    # Two jobs on one machine (an ingest while a batch export runs): the second cluster used to
    # warn "Port 8787 is already in use" at whoever started it.
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with DaskEngine(n_workers=1, memory_limit="1GB") as second:
            assert second.map(abs, [-2]) == [2]
    assert not [w for w in caught if "already in use" in str(w.message)]


def die(_: int) -> int:
    os._exit(3)  # what the operating system does to a worker over its memory: no exception, gone


def test_a_worker_that_dies_is_an_engine_error_that_says_what_to_do() -> None:
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with DaskEngine(n_workers=1, memory_limit="1GB") as engine:
            with pytest.raises(EngineError, match="a Dask worker died running die"):
                engine.map(die, [1])
            assert engine.map(abs, [-2]) == [2]     # the cluster is still usable
