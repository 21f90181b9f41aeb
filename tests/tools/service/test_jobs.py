"""Offline jobs (tools/service/jobs.py): the batch recommendation job gives the same file in
this process and on a local two-worker Dask cluster (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from whyrec.tools.service.jobs import batch_recommend
from whyrec.tools.settings import Settings


def test_batch_recommend_on_a_dask_cluster_writes_the_in_process_file(demo_workspace: Path,
                                                                     tmp_path: Path) -> None:
    settings = Settings(workspace=demo_workspace, tune_budget_seconds=3)
    done: list[tuple[int, int]] = []
    local = batch_recommend(settings, tmp_path / "local.parquet", k=5, exclude="seen", users_per_task=40,
                            progress=lambda d, t: done.append((d, t)))
    dask = batch_recommend(settings, tmp_path / "dask.parquet", k=5, exclude="seen", users_per_task=40,
                           engine="dask", workers=2)
    assert local.users == dask.users == 150 and local.rows == dask.rows > 0
    assert [d for d, _ in done] == [40, 80, 120, 150]           # progress per slice, in user order
    a, b = pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "dask.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert a["user_id"].nunique() == 150 and a.groupby("user_id").size().max() == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.parquet", "local.parquet", "ws"]  # no parts left
