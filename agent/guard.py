"""The grounding guard: every number and item title in a final answer must come from a tool result.

An LLM answer that cites a number no tool returned this turn, or names a catalog item no tool
returned, is rejected; the agent then asks once for a rewrite and otherwise falls back to the
template answer. A number counts as supported when a tool result holds a number it rounds to
(0.1998 supports "0.20" and "20%"), or when it is in the user's own message, or is a list
position up to the number of items shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:[.,]\d+)?(?:\s?(?:%|percentage points?|pp\b|个百分点|百分点))?")
_PERCENT = re.compile(r"(?:%|percentage points?|pp|个百分点|百分点)$")


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
