"""The command line, run as a user would (in-process through main(), and one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from whyrec.agent.cli import main


def test_help_is_fast_and_lists_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "whyrec.agent.cli", "--help"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    for command in ("ingest", "demo", "stats", "serve", "effects", "evaluate", "reindex", "search"):
        assert command in out


def test_ingest_mapping_then_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.csv"
    log.write_text("visitor,item,event,ts\nv1,a,pv,1700000000\nv1,a,addtocart,1700000100\n"
                   "v2,b,transaction,1700000200\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nuser_id="visitor"\nitem_id="item"\nbehaviour="event"\ntimestamp="ts"\n'
                       '[options]\ntimestamp_unit="s"\n', encoding="utf-8")
    workspace = tmp_path / "ws"
    assert main(["ingest", str(log), "--mapping", str(mapping), "-w", str(workspace), "--no-index"]) == 0
    assert "events added     3" in capsys.readouterr().out
    assert main(["stats", "-w", str(workspace), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["events"] == 3 and stats["behaviours"] == {"view": 1, "cart": 1, "purchase": 1}


def test_rejected_ingest_exits_1_with_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.csv"
    log.write_text("visitor,item,event,ts\nv1,a,pv,1700000000\nv1,a,teleport,1700000100\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nuser_id="visitor"\nitem_id="item"\nbehaviour="event"\ntimestamp="ts"\n',
                       encoding="utf-8")
    assert main(["ingest", str(log), "--mapping", str(mapping), "-w", str(tmp_path / "ws"), "--no-index"]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err and "teleport" in err and "nothing was ingested" in err


def test_unknown_preset_and_missing_workspace_are_usage_errors(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(tmp_path), "--preset", "nope", "-w", str(tmp_path / "ws")]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["stats", "-w", str(tmp_path / "missing")]) == 2
    assert "no whyrec workspace" in capsys.readouterr().err


def test_demo_builds_a_workspace_with_ground_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path / "demo"
    assert main(["demo", "-w", str(workspace), "--users", "60", "--items", "40", "--no-index"]) == 0
    truth = json.loads((workspace / "ground_truth.json").read_text())
    assert {e["behaviour"] for e in truth["effects"]} >= {"cart", "favourite"}
    assert main(["demo", "-w", str(workspace), "--no-index"]) == 2  # refuses to overwrite
    assert "--force" in capsys.readouterr().err


def test_forget_command(demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from whyrec.tools.workspace import Workspace

    user = str(Workspace.open(demo_workspace).events()["user_id"].iloc[0])
    assert main(["forget", user, "-w", str(demo_workspace)]) == 0
    assert f"forgot user {user}" in capsys.readouterr().out
    assert not (Workspace.open(demo_workspace).events()["user_id"] == user).any()
    assert main(["forget", user, "-w", str(demo_workspace)]) == 2


def test_chat_answers_each_line_and_keeps_the_conversation(demo_workspace_template: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from whyrec.tools.workspace import Workspace

    user = str(Workspace.open(demo_workspace_template).events()["user_id"].value_counts().index[0])
    monkeypatch.setattr("sys.stdin", io.StringIO("What should I buy next?\nwhy the second one?\n\n谢谢\n"))
    assert main(["chat", user, "-w", str(demo_workspace_template), "--json"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [a["intent"] for a in answers] == ["recommend", "explain", "thanks"]
    assert answers[1]["explanations"][0]["item_id"] == answers[0]["recommendations"][1]["item_id"]
    assert answers[1]["session_id"] == answers[0]["session_id"] and answers[2]["language"] == "zh"


def test_chat_refuses_an_unknown_shopper(demo_workspace_template: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "nobody-at-all", "-w", str(demo_workspace_template)]) == 2
    assert "nobody-at-all" in capsys.readouterr().err


def test_answers_are_wrapped_by_display_width() -> None:
    import unicodedata

    from whyrec.agent.cli import format_answer

    text = ("• you bought “Kvitfjell debut novel” (14 Oct) and this line runs on past the edge of a narrow terminal\n"
            "我向你推荐“Solvik vegetarian cookbook”（你的第 2 名），"
            "是因为你的 20 个行为共同起了作用，首先是：你购买了某件商品")
    lines = format_answer(text, width=50).splitlines()
    widths = [sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line) for line in lines]
    assert max(widths) <= 50 and lines[1].startswith("  ")  # continuation under the bullet
    assert "".join(lines).replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert "\033[1m" in format_answer("1. “Ravn wool scarf”", color=True)
# -- tune and recommend --all (issue 14) ----------------------------------------------------------
def test_tune_then_stats_show_the_tuning(demo_workspace: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHYREC_TUNE_BUDGET", "3")
    assert main(["tune", "-w", str(demo_workspace), "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert tuned["tuned"] and tuned["budget_seconds"] == 3
    assert tuned["exclusion_policy"] in ("none", "purchased", "seen")
    assert main(["stats", "-w", str(demo_workspace), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["tuning"]["validation"] == tuned["validation"]
    assert stats["tuning"]["baselines"].keys() == {"repeat", "popular"}
    assert main(["stats", "-w", str(demo_workspace)]) == 0
    assert "validation     NDCG@20" in capsys.readouterr().out
    assert main(["tune", "-w", str(demo_workspace), "--budget", "0"]) == 2
    assert "budget must be positive" in capsys.readouterr().err


def test_tune_on_a_local_dask_cluster_stores_its_tuning(demo_workspace: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: ``whyrec tune --engine dask`` runs the trials on a local two-worker cluster;
    the record counts the workers' CPU in the budget. Combinations that cannot work are refused
    before anything starts."""
    monkeypatch.setenv("WHYREC_TUNE_BUDGET", "4")
    assert main(["tune", "-w", str(demo_workspace), "--engine", "dask", "--workers", "2", "--json"]) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert tuned["tuned"] and tuned["trials"] >= 1 and tuned["budget_seconds"] == 4
    assert main(["stats", "-w", str(demo_workspace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tuning"]["validation"] == tuned["validation"]
    assert not [p for p in (demo_workspace / "derived").iterdir() if p.name.startswith("whyrec-tune-")]
    for argv, message in ((["--workers", "0", "--engine", "dask"], "--workers must be at least 1"),
                          (["--address", "tcp://127.0.0.1:1"], "--address needs --engine dask"),
                          (["--engine", "dask", "--address", "'tcp://x:1"], "not a Dask scheduler address")):
        assert main(["tune", "-w", str(demo_workspace), *argv]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_recommend_all_writes_one_row_per_user_and_rank(demo_workspace: Path, tmp_path: Path, suffix: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.setenv("WHYREC_TUNE_BUDGET", "3")
    out = tmp_path / f"recs{suffix}"
    assert main(["recommend", "-w", str(demo_workspace), "--all", "--k", "7", "--out", str(out),
                 "--exclude", "seen"]) == 0
    captured = capsys.readouterr()
    assert "users" in captured.err and "wrote" in captured.out      # progress on stderr
    frame = pd.read_csv(out, dtype={"user_id": str, "item_id": str}) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score"]
    from whyrec.tools.service import WhyrecService
    from whyrec.tools.settings import Settings

    service = WhyrecService(Settings(workspace=demo_workspace, tune_budget_seconds=3))
    users = set(service.users(limit=10_000))
    assert set(frame["user_id"]) == users
    assert not frame.duplicated(["user_id", "rank"]).any() and not frame.duplicated(["user_id", "item_id"]).any()
    assert (frame.groupby("user_id")["rank"].apply(lambda r: sorted(r) == list(range(1, len(r) + 1)))).all()
    assert frame.groupby("user_id").size().max() == 7
    # Scores fall with rank, and each user's file rows are the service's own list.
    assert (frame.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    user = sorted(users)[0]
    mine = frame[frame["user_id"] == user].sort_values("rank")
    assert mine["item_id"].tolist() == [i.item_id for i in service.recommend(user, k=7).items]
    assert not list(tmp_path.glob(".*partial"))                       # no leftover partial file


def test_recommend_all_refuses_bad_arguments(demo_workspace: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "-w", str(demo_workspace), "--all", "--out", str(tmp_path / "r.xlsx")]) == 2
    assert ".parquet or .csv" in capsys.readouterr().err
    assert main(["recommend", "-w", str(demo_workspace), "--all"]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]                # nothing written


def test_a_bad_llm_setting_is_a_clear_error_before_any_fit(demo_workspace_template: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: WHYREC_LLM=none fitted and tuned the ranker (a minute) and then died with a
    traceback; now the setting is checked first and named, with the exit code of a usage error."""
    from whyrec.tools.workspace import Workspace

    user = str(Workspace.open(demo_workspace_template).events()["user_id"].iloc[0])
    monkeypatch.setenv("WHYREC_LLM", "none")
    fitted: list[bool] = []
    monkeypatch.setattr("whyrec.agent.cli._service", lambda settings: fitted.append(True))
    assert main(["chat", user, "-w", str(demo_workspace_template)]) == 2
    err = capsys.readouterr().err
    assert "WHYREC_LLM='none'" in err and "offline" in err and "Traceback" not in err
    assert not fitted


def test_the_chat_terminal_shows_answers_not_progress_lines(demo_workspace: Path) -> None:
    """Regression: a terminal chat printed every fit and tuning step (INFO lines) and the
    embedding model's "Loading weights" bar before the first answer."""
    from whyrec.tools.workspace import Workspace

    user = str(Workspace.open(demo_workspace).events()["user_id"].iloc[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHYREC_", "HF_HUB_DISABLE"))}
    env["WHYREC_TUNE_BUDGET"] = "3"
    done = subprocess.run([sys.executable, "-m", "whyrec.agent.cli", "chat", user, "-w", str(demo_workspace)],
                          input="what should I buy?\n", capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1. " in done.stdout
    assert "INFO" not in done.stderr and "Loading weights" not in done.stderr, done.stderr[-2000:]


def test_an_indented_line_wraps_under_its_indent() -> None:
    from whyrec.agent.cli import format_answer

    text = "  What this measures: " + "each decision point of a shopper " * 6
    lines = format_answer(text, width=60).splitlines()
    assert len(lines) > 1 and all(line.startswith("  ") for line in lines)
