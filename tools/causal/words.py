"""Every causal word a user reads, from the message catalogue (``prompts/i18n/*/causal.toml``).

Results keep reasons as codes with fields (:class:`Reason`); these functions turn them into
English or Chinese text, so the JSON stays machine-readable and the words live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from whyrec.prompts.catalogue import message

from .estimand import duration_parts

SUPPORTED = "supported"
INCONCLUSIVE = "inconclusive"
CANNOT_ESTIMATE = "cannot_estimate"
VERDICTS: tuple[str, ...] = (SUPPORTED, INCONCLUSIVE, CANNOT_ESTIMATE)


@dataclass(frozen=True)
class Reason:
    """Why a verdict is what it is: a catalogue code (``causal.reason.<code>``) and its fields."""

    code: str
    fields: dict[str, Any] = field(default_factory=dict)

    def text(self, language: str = "en") -> str:
        return reason_text(self.code, self.fields, language)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "fields": dict(self.fields)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reason:
        return cls(str(data["code"]), dict(data.get("fields", {})))


def duration(seconds: float, language: str = "en") -> str:
    """'7 days' / '7 天', '40 minutes' / '40 分钟'."""
    import pandas as pd

    amount, unit = duration_parts(pd.Timedelta(seconds=float(seconds)))
    text = f"{amount:.1f}".rstrip("0").rstrip(".")
    return message(f"causal.duration.{unit}", language, n=text)


def behaviour_phrase(behaviour: str, language: str = "en") -> str:
    """'adding it to the cart' / '加入购物车' — the behaviour as an action on an item."""
    return message(f"causal.behaviour.{behaviour}", language)


def verdict_name(verdict: str, language: str = "en") -> str:
    return message(f"causal.verdict.{verdict}", language)


def percent(value: float) -> str:
    """A share as a percentage: 0.034 -> '3.4%'; a positive share too small to show, '<0.1%'."""
    if 0 < value < 0.0005:
        return "<0.1%"
    return f"{100 * value:.1f}%"


def points(value: float) -> str:
    """A probability difference in percentage points, signed: 0.134 -> '+13.4'."""
    return f"{100 * value:+.1f}"


def reason_text(code: str, fields: dict[str, Any], language: str = "en") -> str:
    """The reason ``code`` in ``language``: durations and shares are formatted here."""
    shown: dict[str, Any] = {}
    for key, value in fields.items():
        if key.endswith("_seconds"):
            shown[key[: -len("_seconds")]] = duration(value, language)
        elif key.endswith("_share"):
            shown[key] = percent(float(value))
        elif key.endswith("_points"):
            shown[key] = points(float(value))
        elif key == "modifier":
            shown["modifier"] = message(f"causal.modifier.{value}", language)
        elif key == "behaviour":
            shown["behaviour"] = behaviour_phrase(str(value), language)
        elif key == "verdict":
            shown["verdict"] = verdict_name(str(value), language)
        elif isinstance(value, int) and not isinstance(value, bool):
            shown[key] = f"{value:,}"
        elif isinstance(value, float):
            shown[key] = f"{value:.3g}"
        else:
            shown[key] = value
    return message(f"causal.reason.{code}", language, **shown)


def estimand_sentence(behaviour: str, window_seconds: float, horizon_seconds: float,
                      language: str = "en") -> str:
    """The estimand of ``behaviour`` in plain words (see ``docs/causal.md``)."""
    return message("causal.estimand.sentence", language, action=behaviour_phrase(behaviour, language),
                   at_risk=message(f"causal.estimand.at_risk_{behaviour}", language),
                   window=duration(window_seconds, language), horizon=duration(horizon_seconds, language))


def sensitivity_sentence(behaviour: str, robustness: float, interval_holds_zero: bool,
                         language: str = "en") -> str:
    """How strong an unmeasured factor would have to be to move the interval to zero."""
    if interval_holds_zero:
        return message("causal.sensitivity.none", language)
    return message("causal.sensitivity.sentence", language, share=percent(max(robustness, 1e-9)),
                   action=behaviour_phrase(behaviour, language))
