"""The guard: every number and item title in a final answer must come from a tool result, and every
sentence must be supported by this turn's results (:class:`FaithfulnessCheck`).

An LLM answer that cites a number no tool returned this turn, or names a catalog item no tool
returned, is rejected; the agent then asks once for a rewrite and otherwise falls back to the
template answer. A number counts as supported when a tool result holds a number it rounds to
(0.1998 supports "0.20" and "20%"), or when it is in the user's own message, or is a list
position up to the number of items shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:[.,]\d+)?(?:\s?(?:%|percentage points?|pp\b|个百分点|百分点))?")
_PERCENT = re.compile(r"(?:%|percentage points?|pp|个百分点|百分点)$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True)
class GuardResult:
    grounded: bool
    unsupported_numbers: tuple[str, ...]
    unsupported_titles: tuple[str, ...]
    quotes_system_prompt: bool = False

    def describe(self) -> str:
        parts = []
        if self.quotes_system_prompt:
            parts.append("text quoted from the system instructions")
        if self.unsupported_numbers:
            parts.append("numbers not in any tool result: " + ", ".join(self.unsupported_numbers))
        if self.unsupported_titles:
            parts.append("items not returned by any tool: " + ", ".join(self.unsupported_titles))
        return "; ".join(parts) or "grounded"


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[\w']+", text.lower()))


def numbers_in(text: str) -> list[tuple[str, float, int, bool]]:
    """(raw, value, decimals, is_percent) of every number in ``text``."""
    out = []
    text = text.replace("..", " .. ")  # ranges such as 0.18..0.24
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        percent = bool(_PERCENT.search(raw.rstrip()))
        core = _PERCENT.sub("", raw.rstrip()).replace("−", "-").strip().replace(",", ".")
        try:
            value = float(core)
        except ValueError:
            continue
        decimals = len(core.split(".")[1]) if "." in core else 0
        out.append((raw.strip(), value, decimals, percent))
    return out


class GroundingGuard:
    """Checks answers against the evidence of one turn (tool outputs and the user's message).

    ``secrets`` are texts an answer must never quote (the system prompts): any run of 8 words
    of one of them (or 20 characters, for Chinese) makes the answer ungrounded.
    """

    def __init__(self, catalog_titles: Iterable[str], min_title_length: int = 6,
                 secrets: Iterable[str] = ()) -> None:
        self.titles = sorted({t for t in catalog_titles if t and len(t) >= min_title_length},
                             key=len, reverse=True)
        self._secret_runs: set[str] = set()
        for secret in secrets:
            words = _normalise(secret).split(" ")
            self._secret_runs.update(" ".join(words[i:i + 8]) for i in range(max(0, len(words) - 7)))
            compact = re.sub(r"\s+", "", secret)
            if re.search(r"[\u4e00-\u9fff]", compact):
                self._secret_runs.update(compact[i:i + 20] for i in range(max(0, len(compact) - 19)))

    def leaks(self, answer: str) -> bool:
        """True when ``answer`` quotes a run of one of the secrets."""
        if not self._secret_runs:
            return False
        words = _normalise(answer).split(" ")
        if any(" ".join(words[i:i + 8]) in self._secret_runs for i in range(max(0, len(words) - 7))):
            return True
        compact = re.sub(r"\s+", "", answer)
        return any(compact[i:i + 20] in self._secret_runs for i in range(max(0, len(compact) - 19)))

    def check(self, answer: str, evidence: Sequence[str], list_length: int = 10) -> GuardResult:
        corpus = "\n".join(evidence)
        supported = [value for _, value, _, _ in numbers_in(corpus)]
        bad_numbers = []
        for raw, value, decimals, percent in numbers_in(answer):
            if not percent and decimals == 0 and 0 <= value <= max(list_length, 10):
                continue  # list positions and small counts
            tolerance = 0.5 * 10 ** (-decimals) + 1e-9
            # "20.5%" is supported by 0.205 (a fraction) or by 20.5 (already in percent).
            scales = (1.0, 100.0) if percent else (1.0,)
            if not any(abs(s * scale - value) <= tolerance for s in supported for scale in scales):
                bad_numbers.append(raw)
        lowered_answer = answer.lower()
        lowered_corpus = corpus.lower()
        bad_titles = []
        for title in self.titles:
            t = title.lower()
            if t in lowered_answer and t not in lowered_corpus:
                bad_titles.append(title)
                lowered_answer = lowered_answer.replace(t, " ")
        leaked = self.leaks(answer)
        return GuardResult(not bad_numbers and not bad_titles and not leaked, tuple(bad_numbers),
                           tuple(bad_titles), leaked)


# -- faithfulness: sentences, not only numbers and titles ----------------------------------------
#: Words that assert a cause (only a causal result of this turn supports them).
_CAUSAL = re.compile(
    r"\bcaus(?:e|es|ed|al|ing)\b|\beffects?\b|\bimpacts?\b|\bmore likely\b|\bless likely\b|\bleads? to\b|"
    r"\b(?:raises?|increases?|boosts?|lowers?|reduces?|drives?)\b.{0,40}\b(?:chances?|likel\w*|probab\w*|odds|"
    r"purchas\w*|buy\w*|sales)\b|因果|导致|促使|提高.{0,10}(?:概率|可能)|更(?:可能|愿意|容易)(?:购买|买)")
#: A sentence: up to a full stop that is not a decimal point ("score 1.68" is one sentence), or a line.
_SENTENCE = re.compile(r"(?:[^.!?。！？\n]|(?<=\d)\.(?=\d))+[.!?。！？]?")


@dataclass(frozen=True)
class FaithfulnessResult:
    """Which sentences of an answer say something this turn's results do not support, and why."""

    faithful: bool
    unsupported: tuple[tuple[str, str], ...]   # (sentence, reason)

    def describe(self) -> str:
        return "; ".join(f"“{s.strip()}” ({why})" for s, why in self.unsupported) or "faithful"


class FaithfulnessCheck:
    """Checks each sentence of an answer against the results of its turn.

    Item titles are checked apart (every ``(behaviour, title)`` a sentence says the shopper did
    must be said by the results) and then read as "the item". A sentence then passes when it makes
    no causal claim without a causal result this turn, and is close in meaning to a line of the
    results (cosine of the sentence model at least ``support``) or to a framing sentence ("Here
    are my picks for you.", :data:`~whyrec.agent.examples.FRAMING`, at least
    ``framing_similarity``). Chinese, which the English sentence model reads poorly, is compared
    by shared character pairs instead (at least ``chinese_similarity``).

    ``embed`` turns texts into unit vectors; ``titles`` are the catalog's item titles.
    """

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], titles: Iterable[str],
                 framing: Mapping[str, Sequence[str]] | None = None, support: float = 0.55,
                 framing_similarity: float = 0.6, chinese_similarity: float = 0.35,
                 min_title_length: int = 6) -> None:
        from .examples import FRAMING

        self.embed = embed
        self.titles = sorted({t.lower() for t in titles if t and len(t) >= min_title_length}, key=len, reverse=True)
        self.framing = {k: tuple(v) for k, v in (framing or FRAMING).items()}
        self.support = support
        self.framing_similarity = framing_similarity
        self.chinese_similarity = chinese_similarity
        self._framing_vectors: dict[str, np.ndarray] = {}

    def check(self, answer: str, evidence: Sequence[str], language: str = "en",
              causal_results: bool = False) -> FaithfulnessResult:
        sentences = [s.strip() for s in _SENTENCE.findall(answer) if re.search(r"\w", s)]
        lines = [line.strip(" •-") for text in evidence for line in text.splitlines() if re.search(r"\w", line)]
        if not sentences:
            return FaithfulnessResult(True, ())
        lowered_lines = [line.lower() for line in lines]
        said = set().union(*(self._deeds(line) for line in lowered_lines)) if lines else set()
        masked = [self._mask(s.lower()) for s in sentences]
        vectors = self.embed(masked + [self._mask(line) for line in lowered_lines])
        sentence_vectors, line_vectors = vectors[:len(sentences)], vectors[len(sentences):]
        bad: list[tuple[str, str]] = []
        for sentence, plain, vector in zip(sentences, masked, sentence_vectors, strict=True):
            lowered = sentence.lower()
            if _CAUSAL.search(lowered) and not causal_results:
                bad.append((sentence, "a causal claim, but no causal result this turn"))
                continue
            unsupported = self._deeds(lowered) - said
            if unsupported:
                bad.append((sentence, "says you " + ", ".join(f"{b} “{t}”" for b, t in sorted(unsupported))
                            + ", which the results do not show"))
                continue
            closeness = max((self._similarity(plain, vector, self._mask(line), v) for v, line in
                             zip(line_vectors, lowered_lines, strict=True)), default=0.0)
            needed = self.chinese_similarity if _CJK.search(plain) else self.support
            if closeness >= needed or self._frames(plain, vector, language):
                continue
            bad.append((sentence, f"not supported by the results (closest {closeness:.2f})"))
        return FaithfulnessResult(not bad, tuple(bad))

    def _mask(self, lowered: str) -> str:
        """Item titles read as 'the item' (a title is checked on its own; what is said about it is
        what the sentence model should compare)."""
        for title in self.titles:
            if title in lowered:
                lowered = lowered.replace(title, "the item")
        return lowered

    def _deeds(self, lowered: str) -> set[tuple[str, str]]:
        """(behaviour, title) pairs a text says the shopper did: a behaviour word followed, within a
        few words, by an item title ('you bought “X”', 'added X to your cart')."""
        from .slots import behaviours_in

        found: set[tuple[str, str]] = set()
        for title in self.titles:
            start = lowered.find(title)
            while start >= 0:
                before = lowered[max(0, start - 40):start]
                for cut in (".", ";", "—", "，", "。", "；"):  # only the words of its own clause
                    before = before.rsplit(cut, 1)[-1]
                behaviours = behaviours_in(before)
                if behaviours:
                    found.add((behaviours[-1], title))
                start = lowered.find(title, start + len(title))
        return found

    def _frames(self, sentence: str, vector: np.ndarray, language: str) -> bool:
        examples = self.framing.get(language) or self.framing.get("en", ())
        if not examples:
            return False
        if language not in self._framing_vectors:
            self._framing_vectors[language] = self.embed(list(examples))
        similarity = max(self._similarity(sentence, vector, e.lower(), v)
                         for e, v in zip(examples, self._framing_vectors[language], strict=True))
        return similarity >= (self.chinese_similarity if _CJK.search(sentence) else self.framing_similarity)

    @staticmethod
    def _similarity(text: str, vector: np.ndarray, other: str, other_vector: np.ndarray) -> float:
        """The sentence model's cosine for English; for Chinese, which it reads poorly (any two
        Chinese sentences look alike to it), the cosine of shared character pairs."""
        if _CJK.search(text):
            return _pairs(text, other)
        return float(vector @ other_vector)


def _pairs(a: str, b: str) -> float:
    """Cosine of the character pairs of two texts (Chinese has no spaces; the sentence model reads
    it poorly, shared character pairs do not)."""
    if not _CJK.search(a):
        return 0.0
    first, second = _bigrams(a), _bigrams(b)
    if not first or not second:
        return 0.0
    dot = sum(n * second.get(g, 0) for g, n in first.items())
    return dot / (math.sqrt(sum(n * n for n in first.values())) * math.sqrt(sum(n * n for n in second.values())))


def _bigrams(text: str) -> dict[str, int]:
    compact = re.sub(r"[\s\W]+", "", text)
    out: dict[str, int] = {}
    for i in range(len(compact) - 1):
        out[compact[i:i + 2]] = out.get(compact[i:i + 2], 0) + 1
    return out
