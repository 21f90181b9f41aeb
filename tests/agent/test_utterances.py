"""The labelled utterance set (bench/utterances): its shape, the lock on its test part, and, on that
test part, Chinese answers without English fragments (catalog data and the shopper's own words
excepted). Understanding accuracy is reported by bench/bench_router.py, not asserted here on the
test part (a threshold there would invite tuning to it); the dev part holds a regression floor."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from whyrec.agent.core import Agent
from whyrec.agent.intents import KINDS
from whyrec.agent.slots import SLOTS_OF

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_router  # noqa: E402  (the benchmark's own loader, lock and checks)


def rows(part: str) -> list[dict]:  # type: ignore[type-arg]
    return bench_router.load(part)


@pytest.mark.parametrize("part", ["test", "mixed"])
def test_the_locked_parts_are_locked(part: str) -> None:
    data = (BENCH / "utterances" / f"{part}.jsonl").read_bytes()
    assert hashlib.sha256(data).hexdigest() == bench_router.LOCKED[part]


def test_the_mixed_part_mixes_the_languages_in_every_message() -> None:
    found = rows("mixed")
    assert len(found) >= 60 and {r["lang"] for r in found} == {"mixed"}
    for row in found:
        assert re.search(r"[\u4e00-\u9fff]", row["text"]) and re.search(r"[A-Za-z]{2,}", row["text"]), row


def test_the_set_covers_every_intent_and_slot_in_both_languages() -> None:
    everything = rows("dev") + rows("test")
    assert len(everything) >= 400
    for part in ("dev", "test"):
        found = rows(part)
        by_language = Counter(r["lang"] for r in found)
        assert set(by_language) == {"en", "zh"} and min(by_language.values()) >= 90, by_language
        for language in ("en", "zh"):
            intents = {r["intent"] for r in found if r["lang"] == language}
            assert intents == set(KINDS), (part, language, set(KINDS) - intents)
    slot_types = {name for r in everything for name in r["slots"]}
    assert slot_types >= {n for names in SLOTS_OF.values() for n in names} | {"language"}
    assert sum(1 for r in everything if r.get("context")) >= 30  # follow-ups
    ids = [r["id"] for r in everything]
    assert len(ids) == len(set(ids))


def test_labels_use_only_the_slots_of_their_intent() -> None:
    for row in rows("dev") + rows("test") + rows("mixed"):
        allowed = set(SLOTS_OF[row["intent"]]) | {"language"}
        assert set(row["slots"]) <= allowed, row


@pytest.fixture(scope="module")
def agent(demo_workspace_template: Path) -> Agent:
    return Agent.from_workspace(demo_workspace_template, llm="offline")


def test_dev_part_understanding_floor(agent: Agent) -> None:
    """A regression floor on the dev part (the part tuning may look at)."""
    understood = bench_router.understand(rows("dev"), agent.understanding(), ["i001", "i002", "i003", "i004", "i005"])
    for language in ("en", "zh"):
        mine = [r for r in understood if r["lang"] == language]
        intent = sum(r["intent_ok"] for r in mine) / len(mine)
        slots = sum(r["slots_ok"] for r in mine) / len(mine)
        assert intent >= 0.95 and slots >= 0.9, (language, intent, slots,
                                                 [r["text"] for r in mine if not r["slots_ok"]])


@pytest.mark.slow
def test_chinese_answers_on_the_test_part_hold_no_english(agent: Agent) -> None:
    events = agent.service.workspace.events()
    user = str(events[events["behaviour"] == "purchase"]["user_id"].value_counts().index[0])
    chinese = [r for r in rows("test") if r["lang"] == "zh"]
    answered = bench_router.answer_all(chinese, agent, user)
    offenders = [(a["id"], a["english_fragments"], a["answer"][:120]) for a in answered
                 if a["answer_language"] == "zh" and a["english_fragments"]]
    assert not offenders
    # Every Chinese message is answered in Chinese unless it asked for English.
    asked_english = {r["id"] for r in chinese if r["slots"].get("language") == "en"}
    assert {a["id"] for a in answered if a["answer_language"] != "zh"} <= asked_english
    assert all(json.dumps(a["answer"]) for a in answered)
