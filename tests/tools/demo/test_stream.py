"""The streamed synthetic log: the asked number of events, heavy tails, a funnel, the same file
for the same config, written in bounded memory."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
from pathlib import Path

import pandas as pd

from whyrec.tools.demo.stream import StreamConfig, write_log


def test_the_log_has_the_asked_size_tails_and_funnel(tmp_path: Path) -> None:
    config = StreamConfig(events=60_000, days=30, seed=3)
    summary = write_log(tmp_path / "log.csv", config)
    log = pd.read_csv(tmp_path / "log.csv")
    assert len(log) == summary.events == 60_000
    assert list(log.columns) == ["user_id", "item_id", "behaviour", "timestamp", "session_id"]
    assert summary.behaviours == log["behaviour"].value_counts().to_dict()
    views, carts, buys = (summary.behaviours[b] for b in ("view", "cart", "purchase"))
    assert views > carts > buys > 0 and 0.01 < carts / views < 0.15
    # Heavy tails: the busiest 1% of users and of items hold far more than 1% of the events.
    for column in ("user_id", "item_id"):
        counts = log[column].value_counts()
        assert counts.head(max(1, len(counts) // 100)).sum() / len(log) > 0.05
    days = (log["timestamp"].max() - log["timestamp"].min()) / 86_400
    assert 28 < days < 31.5
    # Carts follow a view of the same item by the same user in the same session.
    carts_seen = log[log["behaviour"] == "cart"].merge(log[log["behaviour"] == "view"],
                                                       on=["user_id", "item_id", "session_id"])
    assert carts_seen.groupby(["user_id", "item_id", "session_id", "timestamp_x"]).size().shape[0] == carts
    # The same config writes the same bytes.
    again = write_log(tmp_path / "again.csv", config)
    assert hashlib.sha256((tmp_path / "log.csv").read_bytes()).digest() == \
        hashlib.sha256((tmp_path / "again.csv").read_bytes()).digest() and again.events == 60_000


def test_parquet_with_attributes(tmp_path: Path) -> None:
    write_log(tmp_path / "log.parquet", StreamConfig(events=5_000, attributes=True, timestamps="iso"))
    log = pd.read_parquet(tmp_path / "log.parquet")
    assert len(log) == 5_000 and {"category", "price"} <= set(log.columns)
    assert log["timestamp"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()


CHILD = """
import json, resource, sys
from whyrec.tools.demo.stream import StreamConfig, write_log
write_log(sys.argv[1], StreamConfig(events=int(sys.argv[2]), users=20_000, items=20_000))
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def test_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    """Ten times the events, the same items and users: peak memory stays (one day at a time)."""
    def peak(events: int) -> int:
        done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / f"{events}.csv"), str(events)],
                              capture_output=True, text=True, check=True)
        return int(json.loads(done.stdout.strip().splitlines()[-1]))

    small, large = peak(100_000), peak(1_000_000)
    assert large < small * 1.5 + 40_000, (small, large)  # KB; a whole-log generator would grow ~10x
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
