"""The semantic router with the shipped sentence model: paraphrases it never saw land on the right
intent, in English and Chinese; its examples stay apart from the benchmark's utterances."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from whyrec.agent.examples import EXAMPLES, INTENTS
from whyrec.agent.router import Router, shared_router
from whyrec.agent.slots import mask_products

UTTERANCES = Path(__file__).resolve().parents[2] / "bench" / "utterances"


@pytest.fixture(scope="module")
def router() -> Router:
    from whyrec.tools.embeddings import default_embedder

    return shared_router(default_embedder())


# Phrasings written for this test: in neither the router's examples nor the utterance set.
@pytest.mark.parametrize(("text", "intent"), [
    ("could you point me to something I'd enjoy buying", "recommend"),
    ("what's the story behind the first suggestion", "explain"),
    ("this item never makes it into my list — how come?", "why_not"),
    ("hypothetically, if this item had stayed out of my cart, would my list differ", "what_if"),
    ("does a thing being favourited actually push people to buy it", "effects"),
    ("what was the date of my most recent order", "last_time"),
    ("have you got any thing in stock", "search"),
    ("which products do shoppers here buy most often", "popular"),
    ("what is the tallest building in the world", "out_of_scope"),
    ("给我来点购物灵感", "recommend"),
    ("收藏这个行为对下单有没有因果作用", "effects"),
    ("我最近一次下单是几号", "last_time"),
    ("谢谢你的帮助", "thanks"),
])
def test_unseen_paraphrases(router: Router, text: str, intent: str) -> None:
    route = router.route(mask_products(text))
    assert route.intent == intent, route.to_json()


def test_routes_rank_every_intent_with_probabilities(router: Router) -> None:
    route = router.route("why the second one?")
    names = [name for name, _ in route.ranked]
    assert set(INTENTS) <= set(names) and abs(sum(p for _, p in route.ranked) - 1.0) < 1e-6
    assert route.confidence == route.ranked[0][1] and route.intent == "explain"


def test_nonsense_is_not_read_confidently(router: Router) -> None:
    route = router.route("qwxz plork vvv")
    assert route.intent in ("unclear", "out_of_scope") or route.confidence < 0.5, route.to_json()


def test_one_router_per_embedder() -> None:
    from whyrec.tools.embeddings import default_embedder

    assert shared_router(default_embedder()) is shared_router(default_embedder())


def test_examples_hold_no_benchmark_utterance() -> None:
    """The router learns from its examples; the utterance set measures it, so none may be both."""
    def norm(text: str) -> str:
        return re.sub(r"[\W_]+", " ", text.lower()).strip()

    examples = {norm(t) for by_language in EXAMPLES.values() for texts in by_language.values() for t in texts}
    for part in ("dev", "test", "mixed"):
        for line in (UTTERANCES / f"{part}.jsonl").read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            assert norm(text) not in examples, f"{part}: {text!r} is also a router example"


def test_every_intent_has_examples_in_both_languages() -> None:
    for intent, by_language in EXAMPLES.items():
        assert {"en", "zh"} <= set(by_language) <= {"en", "zh", "mixed"}, intent
        assert min(len(by_language[language]) for language in ("en", "zh")) >= 7, intent
