"""``whyrec demo --stream`` and ``whyrec ingest --engine dask``: the large-log path from the
command line, and the same workspace as an in-process ingest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.workspace import Workspace

WHYREC = str(Path(sys.executable).with_name("whyrec"))
MAPPING = """[columns]
user_id = "user_id"
item_id = "item_id"
behaviour = "behaviour"
timestamp = "timestamp"
session_id = "session_id"
[options]
header = true
timestamp_unit = "s"
duplicates = "keep"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WHYREC, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "WHYREC_LOG_LEVEL": "WARNING"})


def test_stream_a_log_then_ingest_it_on_a_dask_cluster_like_in_process(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log.csv"
    made = _run("demo", "--stream", "--events", "30000", "--users", "400", "--items", "250", "--out", str(log))
    assert made.returncode == 0, made.stderr
    assert "30,000 events" in made.stdout and len(pd.read_csv(log)) == 30_000
    (tmp_path / "m.toml").write_text(MAPPING)
    local = _run("ingest", str(log), "--mapping", str(tmp_path / "m.toml"), "--workspace", str(tmp_path / "a"),
                 "--no-index")
    dask = _run("ingest", str(log), "--mapping", str(tmp_path / "m.toml"), "--workspace", str(tmp_path / "b"),
                "--no-index", "--engine", "dask", "--workers", "2")
    assert local.returncode == 0 and dask.returncode == 0, (local.stderr, dask.stderr)
    assert "INFO distributed" not in dask.stderr
    a, b = Workspace.open(tmp_path / "a").events(), Workspace.open(tmp_path / "b").events()
    assert len(a) == 30_000
    pd.testing.assert_frame_equal(a, b)
    # The batch job on the cluster writes the in-process file (the served ranker tuned briefly).
    monkeypatch.setenv("WHYREC_TUNE_BUDGET", "3")
    here = _run("recommend", "--workspace", str(tmp_path / "a"), "--all", "--out", str(tmp_path / "l.csv"))
    there = _run("recommend", "--workspace", str(tmp_path / "a"), "--all", "--out", str(tmp_path / "d.csv"),
                 "--engine", "dask", "--workers", "2")
    assert here.returncode == 0 and there.returncode == 0, (here.stderr, there.stderr)
    assert "INFO distributed" not in there.stderr
    assert (tmp_path / "l.csv").read_bytes() == (tmp_path / "d.csv").read_bytes()
    assert pd.read_csv(tmp_path / "l.csv")["user_id"].nunique() == 400


@pytest.mark.parametrize("args", [("--stream", "--out", "x.csv"), ("--stream", "--events", "10")])
def test_stream_without_its_arguments_says_what_is_missing(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _run("demo", *args, "--workspace", str(tmp_path / "ws"))
    assert result.returncode != 0 and "--stream needs --events N and --out" in result.stderr
    assert not (tmp_path / "ws").exists()
