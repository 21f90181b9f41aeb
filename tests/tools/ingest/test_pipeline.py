"""Ingest end to end: presets on the real datasets, mapping files, idempotence, append, atomicity."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.ingest import pipeline
from whyrec.tools.ingest.mapping import load_mapping
from whyrec.tools.ingest.pipeline import ingest, read_preset
from whyrec.tools.ingest.presets import get_preset
from whyrec.tools.workspace import Workspace


def ingest_preset(tmp_path: Path, name: str, path: Path, **options) -> tuple[Workspace, pipeline.IngestResult]:
    workspace = Workspace.create(tmp_path / name)
    preset = get_preset(name)
    return workspace, ingest(workspace, path, preset.make_mapping(options), preset=preset)


@pytest.mark.realdata
def test_rees46_counts_match_source(tmp_path: Path, rees46_dir: Path) -> None:
    workspace, result = ingest_preset(tmp_path, "rees46", rees46_dir)
    stats = workspace.stats()
    # SOURCE.md: 17,434 rows; view 17,055, cart 165, purchase 214; 4,504 users; 6,493 products.
    assert result.rows_read == 17_434 and stats.events == 17_434
    assert stats.behaviours == {"view": 17_055, "purchase": 214, "cart": 165}
    assert (stats.users, stats.items_with_events) == (4_504, 6_493)
    items = workspace.items().set_index("item_id")
    assert items.loc["3900821", "category"] == "appliances.environment.water_heater"
    assert items.loc["3900821", "brand"] == "aqua"
    assert str(stats.first_event) == "2019-10-01 00:00:00+00:00"
    assert str(stats.last_event) == "2019-10-01 02:50:00+00:00"


@pytest.mark.realdata
def test_tmall_counts_match_source_with_year_parameter(tmp_path: Path, tmall_dir: Path) -> None:
    workspace, result = ingest_preset(tmp_path, "tmall2014", tmall_dir, year=2014)
    stats = workspace.stats()
    # SOURCE.md: 182,880 rows; click 174,539, buy 6,984, favourite 1,204, cart 153; 884 users, 9,531 brands.
    assert stats.events == 182_880
    assert stats.behaviours == {"click": 174_539, "purchase": 6_984, "favourite": 1_204, "cart": 153}
    assert (stats.users, stats.items_with_events) == (884, 9_531)
    assert str(stats.first_event.date()) == "2014-04-15" and str(stats.last_event.date()) == "2014-08-15"
    # 97,850 exact repeats are real same-day actions: kept as distinct events with distinct keys.
    assert workspace.events()["event_key"].is_unique


@pytest.mark.realdata
def test_movielens_ratings_become_behaviours_by_level(tmp_path: Path, movielens_dir: Path) -> None:
    workspace, _ = ingest_preset(tmp_path, "movielens", movielens_dir)
    events = workspace.events()
    ratings = pd.read_csv(movielens_dir / "ratings.csv")
    assert len(events) == 100_836 == len(ratings)
    assert events["user_id"].nunique() == 610 and events["item_id"].nunique() == 9_724
    assert (events["behaviour"] == "favourite").sum() == (ratings["rating"] >= 4).sum()
    assert (events["behaviour"] == "view").sum() == (ratings["rating"] < 2.5).sum()
    assert events["value"].between(0.5, 5).all()
    items = workspace.items().set_index("item_id")
    assert len(items) == 9_742  # every movie in movies.csv, rated or not
    assert items.loc["1", "title"] == "Toy Story (1995)" and "Animation" in items.loc["1", "category"]
    assert "pixar" in items.loc["1", "description"]


@pytest.mark.realdata
def test_reingest_is_idempotent(tmp_path: Path, tmall_dir: Path) -> None:
    workspace, first = ingest_preset(tmp_path, "tmall2014", tmall_dir)
    version = workspace.data_version
    preset = get_preset("tmall2014")
    again = ingest(workspace, tmall_dir, preset.make_mapping({}), preset=preset)
    assert again.rows_added == 0 and again.rows_already_present == first.rows_added
    assert workspace.data_version == version and len(workspace.events()) == 182_880


def _log(path: Path, rows: list[str]) -> Path:
    path.write_text("user,item,event,ts\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(body, encoding="utf-8")
    return path


BASIC_TOML = """
[columns]
user_id = "user"
item_id = "item"
behaviour = "event"
timestamp = "ts"
[behaviours]
pageview = "view"
[options]
timestamp_format = "%Y-%m-%d %H:%M"
"""


def test_new_file_appends_and_overlap_is_not_duplicated(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    mapping = load_mapping(_toml(tmp_path, BASIC_TOML))
    a = _log(tmp_path / "a.csv", ["u1,i1,pageview,2024-01-01 10:00", "u1,i1,cart,2024-01-01 10:05"])
    b = _log(tmp_path / "b.csv", ["u1,i1,cart,2024-01-01 10:05", "u2,i1,purchase,2024-01-02 09:00"])
    assert ingest(workspace, a, mapping).rows_added == 2
    second = ingest(workspace, b, mapping)
    assert (second.rows_added, second.rows_already_present) == (1, 1)
    assert len(workspace.events()) == 3 and workspace.data_version == 2
    assert len(workspace.manifest.sources) == 2


def test_folder_of_files_and_positions_without_header(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "1.csv").write_text("1700000000000;u1;i1;pv\n1700000001000;u1;i2;buy\n", encoding="utf-8")
    (folder / "2.csv").write_text("1700000002000;u2;i1;fav\n", encoding="utf-8")
    mapping = load_mapping(_toml(tmp_path, """
[columns]
timestamp = 0
user_id = 1
item_id = 2
behaviour = 3
[options]
header = false
delimiter = ";"
timestamp_unit = "ms"
"""))
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, folder, mapping)
    assert result.rows_added == 3 and len(result.files) == 2
    events = workspace.events()
    assert list(events["behaviour"]) == ["view", "purchase", "favourite"]
    assert str(events["timestamp"].iloc[0]) == "2023-11-14 22:13:20+00:00"


def test_parquet_source(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": ["u1", "u2"], "item": ["i1", "i1"], "event": ["pageview", "cart"],
                          "ts": ["2024-01-01 10:00", "2024-01-01 11:00"]})
    frame.to_parquet(tmp_path / "log.parquet")
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, tmp_path / "log.parquet", load_mapping(_toml(tmp_path, BASIC_TOML)))
    assert result.rows_added == 2


def test_failure_in_the_middle_leaves_workspace_unchanged(tmp_path: Path, monkeypatch) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    mapping = load_mapping(_toml(tmp_path, BASIC_TOML))
    ingest(workspace, _log(tmp_path / "a.csv", ["u1,i1,pageview,2024-01-01 10:00"]), mapping)
    before = (workspace.manifest.data_version, sorted(p.name for p in (workspace.path / "events").iterdir()))
    # A file whose middle row is bad: refused whole.
    bad = _log(tmp_path / "b.csv", ["u2,i1,pageview,2024-01-02 10:00", "u2,i1,pageview,not a date",
                                    "u3,i1,cart,2024-01-02 11:00"])
    with pytest.raises(pipeline.IngestRejected):
        ingest(workspace, bad, mapping)
    # A crash (or Ctrl-C) while the new catalog is being written, after the events part was.
    good = _log(tmp_path / "c.csv", ["u2,i2,pageview,2024-01-02 10:00", "u3,i3,cart,2024-01-02 11:00"])
    real_write = Workspace._write_parquet
    calls = {"n": 0}

    def crash_on_second_write(self, frame, path, written):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_write(self, frame, path, written)

    monkeypatch.setattr(Workspace, "_write_parquet", crash_on_second_write)
    with pytest.raises(KeyboardInterrupt):
        ingest(workspace, good, mapping)
    monkeypatch.undo()
    reopened = Workspace.open(workspace.path)
    after = (reopened.manifest.data_version, sorted(p.name for p in (reopened.path / "events").iterdir()))
    assert after == before
    assert len(reopened.events()) == 1
    # The next write succeeds and sweeps nothing it should keep.
    assert ingest(reopened, good, mapping).rows_added == 2
    assert len(Workspace.open(workspace.path).events()) == 3


@pytest.mark.realdata
def test_read_preset_without_workspace(tmall_dir: Path) -> None:
    events, items = read_preset("tmall2014", tmall_dir)
    assert len(events) == 182_880 and len(items) == 9_531
    assert events["timestamp"].is_monotonic_increasing


def test_progress_shows_bytes_read_and_the_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 17, item 13: the bar counts the file's bytes as they are read (not two steps)."""
    rows = [f"u{n % 50},i{n % 30},pageview,2024-01-01 10:{n % 60:02d}" for n in range(3000)]
    source = _log(tmp_path / "a.csv", rows)
    workspace = Workspace.create(tmp_path / "ws")
    ingest(workspace, source, load_mapping(_toml(tmp_path, BASIC_TOML)).with_options(duplicates="drop"),
           progress=True)
    shown = capsys.readouterr().err
    size_kb = f"{source.stat().st_size / 1024:.0f}"
    assert "ingest: 100%" in shown and size_kb in shown and "events added" in shown
