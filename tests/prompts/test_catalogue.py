"""The message catalogue: both languages hold the same messages, Chinese ones hold no English."""

from __future__ import annotations

import re
import string

import pytest

from whyrec.prompts.catalogue import MissingMessage, catalogue, message

#: Names that stay as they are in Chinese text (the product's own name).
LATIN_ALLOWED = {"whyrec"}
#: Messages whose English form quotes an English-only detail that the Chinese form leaves out.
ENGLISH_DETAIL = {"error.invalid": {"detail"}}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _latin_words(text: str) -> list[str]:
    outside = re.sub(r"\{[^{}]*\}", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{2,}", outside) if w not in LATIN_ALLOWED]


def test_both_languages_hold_the_same_keys() -> None:
    en, zh = set(catalogue("en")), set(catalogue("zh"))
    assert en - zh == set(), f"missing in zh: {sorted(en - zh)}"
    assert zh - en == set(), f"missing in en: {sorted(zh - en)}"


def test_both_languages_use_the_same_placeholders() -> None:
    en, zh = catalogue("en"), catalogue("zh")
    wrong = {k: (_fields(en[k]), _fields(zh[k])) for k in en
             if _fields(en[k]) - ENGLISH_DETAIL.get(k, set()) != _fields(zh[k])}
    assert not wrong


def test_chinese_messages_hold_no_english_words() -> None:
    offenders = {k: _latin_words(v) for k, v in catalogue("zh").items() if _latin_words(v)}
    assert not offenders


def test_a_missing_key_names_itself() -> None:
    with pytest.raises(MissingMessage, match="no.such"):
        message("no.such", "en")


def test_unknown_language_falls_back_to_english() -> None:
    assert message("demo.greeting", "fr", name="Ana") == "Hello, Ana"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_verdict_is_one_word_in_the_chat_and_on_the_page(language: str) -> None:
    """Before: a supported effect was "成立" (it holds) in the Chinese chat and "结论可靠" (the
    conclusion is reliable) on the page — two words, both firmer than "supported"."""
    for verdict in ("supported", "inconclusive"):
        chat = message(f"causal.verdict.{verdict}", language)
        page = message(f"ui.verdict.{verdict}", language)
        assert chat.lower() == page.lower(), (verdict, chat, page)
