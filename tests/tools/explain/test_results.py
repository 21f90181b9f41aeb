"""Text and JSON renderings: every number in the text is in the JSON; Chinese renders too."""

from __future__ import annotations

import json
import re

import pytest

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def numbers(text: str) -> set[float]:
    return {float(n) for n in NUMBER.findall(text)}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("user,item,k", [("u", "t", 3), ("u", "p1", 3), ("w", "t", 3), ("b", "t", 3)])
def test_every_number_in_the_text_is_in_the_json(explainer, language, user, item, k) -> None:
    explanation = explainer.explain(user, item, k)
    text = explanation.to_text(language)
    data = json.dumps(explanation.to_json(), ensure_ascii=False)
    missing = numbers(text) - numbers(data)
    assert not missing, f"numbers {missing} of the text are not in the JSON"
    if language == "zh":
        assert re.search(r"[\u4e00-\u9fff]", text)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_what_if_text_numbers_are_in_json(explainer, events, language) -> None:
    result = explainer.what_if("u", remove_items=[("x", None)], add=[("n1", "cart")], k=3)
    text = result.to_text(language)
    assert not numbers(text) - numbers(json.dumps(result.to_json(), ensure_ascii=False))
    assert result.to_json()["changed"] is True


def test_unknown_language_is_rejected(explainer) -> None:
    with pytest.raises(ValueError, match="language"):
        explainer.explain("u", "t", 3).to_text("fr")


def test_chart_sums_to_the_score(explainer) -> None:
    explanation = explainer.explain("u", "t", 3)
    assert sum(bar.value for bar in explanation.chart) == pytest.approx(explanation.score)
    data = explanation.to_json()
    assert data["counterfactual"]["verified"] is True and data["counterfactual"]["size"] == 1
    assert {"label", "behaviour", "value"} <= set(data["chart"][0])
