"""Personal causal statements: the effect of a behaviour for shoppers like this one, on this item.

For a user and the items in their own funnel (viewed, maybe favourited or carted, not bought),
:func:`personal_effects` evaluates the heterogeneous effect θ(x) of the report's DR learner
(:class:`~.results.CateModel`: the doubly robust scores regressed on the effect modifiers —
the user's taste share for the item's category, the item's log price, the user's activity,
the looks so far) at the user's own decision point on the item, with a clustered
interval, the estimand and a verdict:

* the behaviour not done yet: the decision point is *now* (right after their latest event on
  the item) — "adding it to the cart next would change the chance of buying it by …";
* already done: the decision point right before they did it — "adding it to the cart, as you
  did, changed the chance by …".

The verdict is ``supported`` only when the population effect is supported and the personal
interval excludes zero; it never claims more than the population analysis backs.

θ(x) is a straight line in the modifiers: far from the shoppers it was fitted on it
extrapolates (a 95% interval of +0.7 to +122.9 percentage points was seen for a shopper far
from the average). No personal number is given when any of the shopper's modifiers lies
outside the fitted range (the 1st–99th percentile of the decision points, stored with the
model) or when the personal interval leaves [−1, 1]; the result then carries the effect across
all shoppers instead (``scope="all_shoppers"``) and the reason (``withheld``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from whyrec.prompts.catalogue import LANGUAGES, message

from ..explain.results import CausalStatement
from ..workspace import Workspace
from .decisions import build_decisions
from .estimand import BEHAVIOURS, LOOKS, OUTCOME, Windows
from .results import POPULATION, CateModel, InfluenceReport
from .words import CANNOT_ESTIMATE, INCONCLUSIVE, SUPPORTED, Reason, behaviour_phrase, duration, verdict_name

SHOPPERS_LIKE_YOU = "shoppers_like_you"
ALL_SHOPPERS = "all_shoppers"


@dataclass(frozen=True)
class PersonalEffect:
    """The effect of ``behaviour`` on buying ``item_id``, for shoppers like ``user_id``."""

    user_id: str
    item_id: str
    title: str
    behaviour: str
    outcome: str
    done: bool  # the user already did the behaviour on the item
    at: str | None  # the decision point (ISO time); None when there is none
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    population_estimate: float | None
    verdict: str
    verdict_reasons: tuple[Reason, ...] = ()
    estimand: dict[str, Any] = field(default_factory=dict)
    modifiers: dict[str, float] = field(default_factory=dict)
    #: ``shoppers_like_you`` (θ at the shopper's modifiers) or ``all_shoppers`` (the population's
    #: effect, given when the personal number is withheld for the reason in ``withheld``).
    scope: str = SHOPPERS_LIKE_YOU
    withheld: Reason | None = None

    @property
    def supported(self) -> bool:
        return self.verdict == SUPPORTED

    @property
    def day(self) -> str:
        """The decision point's date (``YYYY-MM-DD``, UTC), empty without one: the moment the
        shopper's "next" is about, which may lie months before the log's end."""
        return "" if self.at is None else pd.Timestamp(self.at).strftime("%Y-%m-%d")

    def day_words(self, language: str = "en") -> str:
        """:attr:`day` as the chat writes dates ("6 Oct 2026" / "2026年10月6日"), empty without one."""
        if self.at is None:
            return ""
        stamp = pd.Timestamp(self.at)
        return message("format.date_year", language, day=stamp.day, year=stamp.year,
                       month=message(f"format.month.{stamp.month}", language))

    def verdict_text(self, language: str = "en") -> str:
        name = verdict_name(self.verdict, language)
        if not self.verdict_reasons:
            return name
        if language == "zh":
            return f"{name}（{'；'.join(r.text(language) for r in self.verdict_reasons)}）"
        return f"{name} ({'; '.join(r.text(language) for r in self.verdict_reasons)})"

    def _key(self, name: str) -> str:
        """``causal.personal.<name>``, in its not-supported form (an estimate whose direction the
        data do not settle, never "changed the chance by") unless the verdict is supported."""
        return f"causal.personal.{name}{'' if self.supported else '_unclear'}"

    def text(self, language: str = "en") -> str:
        """The statement a user reads (or why there is none)."""
        if self.estimate is None or self.ci_low is None or self.ci_high is None:
            return message("causal.personal.none", language, action=behaviour_phrase(self.behaviour, language),
                           title=self.title, verdict=self.verdict_text(language))
        if self.scope == ALL_SHOPPERS:
            return message(self._key("general"), language, action=behaviour_phrase(self.behaviour, language),
                           title=self.title, why=self.withheld.text(language) if self.withheld else "",
                           horizon=duration(self.estimand.get("horizon_seconds", 0.0), language),
                           estimate=f"{100 * self.estimate:+.1f}", low=f"{100 * self.ci_low:+.1f}",
                           high=f"{100 * self.ci_high:+.1f}", verdict=self.verdict_text(language))
        return message(self._key("done" if self.done else "next"), language,
                       action=behaviour_phrase(self.behaviour, language), title=self.title,
                       when=self.day_words(language),
                       horizon=duration(self.estimand.get("horizon_seconds", 0.0), language),
                       estimate=f"{100 * self.estimate:+.1f}", low=f"{100 * self.ci_low:+.1f}",
                       high=f"{100 * self.ci_high:+.1f}", verdict=self.verdict_text(language))

    def statement(self) -> CausalStatement | None:
        """The explainer's :class:`~whyrec.tools.explain.results.CausalStatement` (None without an
        estimate): the estimand for this shopper and item in plain words, the interval, the
        verdict, and the whole sentence (:meth:`text`) in every language."""
        if self.estimate is None:
            return None
        if self.scope == ALL_SHOPPERS:
            key = self._key("statement_general")
        else:
            key = self._key("statement_done" if self.done else "statement_next")
        words = message(key, "en", action=behaviour_phrase(self.behaviour, "en"), title=self.title,
                        when=self.day_words("en"),
                        horizon=duration(self.estimand.get("horizon_seconds", 0.0), "en"),
                        estimate=f"{100 * self.estimate:+.1f}")
        return CausalStatement(behaviour=self.behaviour, item_id=self.item_id, title=self.title, estimand=words,
                               estimate=self.estimate, ci_low=self.ci_low, ci_high=self.ci_high,
                               verdict=self.verdict, scope=self.scope,
                               texts={language: self.text(language) for language in LANGUAGES})

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "item_id": self.item_id, "title": self.title, "behaviour": self.behaviour,
                "outcome": self.outcome, "done": self.done, "at": self.at, "estimate": self.estimate,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "population_estimate": self.population_estimate,
                "verdict": self.verdict_text("en"), "verdict_reasons": [r.to_json() for r in self.verdict_reasons],
                "estimand": self.estimand, "modifiers": self.modifiers, "scope": self.scope,
                "withheld": None if self.withheld is None else self.withheld.to_json(), "text": self.text("en")}


def personal_effects(source: InfluenceReport | Workspace, user_id: str, item_ids: Sequence[str] | None = None,
                     behaviour: str = "cart", *, events: pd.DataFrame | None = None,
                     items: pd.DataFrame | None = None, confidence_level: float = 0.95) -> tuple[PersonalEffect, ...]:
    """The effect of ``behaviour`` for ``user_id`` on each item of their funnel (or ``item_ids``).

    ``source`` is a workspace (its cached population report is used) or a report, then with
    the log's ``events`` and ``items``. Items the user never viewed, or already bought, get a
    ``cannot_estimate`` result saying so.

    >>> for e in personal_effects(Workspace.open("ws"), "u042", behaviour="cart"):   # doctest: +SKIP
    ...     print(e.text("en"))
    """
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}; choose one of {', '.join(BEHAVIOURS)}")
    if isinstance(source, Workspace):
        from .report import load_or_estimate

        report = load_or_estimate(source)
        events = source.events() if events is None else events
        items = source.items() if items is None else items
    else:
        report = source
        if events is None:
            raise ValueError("personal_effects needs the log's events when given a report")
    population = report.effect(behaviour, POPULATION)
    mine = events[events["user_id"].astype(str) == str(user_id)]
    titles = {} if items is None else dict(zip(items["item_id"].astype(str), items["title"].astype(str)))
    kinds = mine["behaviour"].astype(str)
    viewed = set(mine.loc[kinds.isin(LOOKS), "item_id"].astype(str))
    bought = set(mine.loc[kinds == OUTCOME, "item_id"].astype(str))
    wanted = [str(i) for i in item_ids] if item_ids is not None else sorted(viewed - bought)
    windows = _windows(report)
    estimand = {**(population.estimand if population is not None else {}), "behaviour": behaviour}
    rows = _decision_rows(mine, items, windows, behaviour) if len(mine) else pd.DataFrame()
    out = []
    for item in wanted:
        title = titles.get(item, item)
        base = dict(user_id=str(user_id), item_id=item, title=title, behaviour=behaviour, outcome=OUTCOME,
                    population_estimate=None if population is None else population.estimate, estimand=estimand)
        if item not in viewed or item in bought:
            code = "already_bought" if item in bought else "not_in_funnel"
            out.append(PersonalEffect(**base, done=False, at=None, estimate=None, ci_low=None, ci_high=None,
                                      verdict=CANNOT_ESTIMATE, verdict_reasons=(Reason(code),)))
            continue
        if population is None or not population.ok or population.cate is None:
            why = population.verdict_reasons if population is not None else ()
            out.append(PersonalEffect(**base, done=False, at=None, estimate=None, ci_low=None, ci_high=None,
                                      verdict=CANNOT_ESTIMATE, verdict_reasons=tuple(why) or (Reason("no_cate"),)))
            continue
        point = rows[rows["item_id"] == item]
        if point.empty:
            out.append(PersonalEffect(**base, done=False, at=None, estimate=None, ci_low=None, ci_high=None,
                                      verdict=CANNOT_ESTIMATE, verdict_reasons=(Reason("no_decision_point"),)))
            continue
        row = point.iloc[0]
        cate = population.cate
        values = {m: float(row[m]) for m in cate.modifiers}
        x = np.array([1.0] + [values[m] for m in cate.modifiers])
        estimate = float(np.dot(np.asarray(cate.coef), x))
        se = float(np.sqrt(max(x @ np.asarray(cate.cov) @ x, 0.0)))
        z = float(stats.norm.ppf(0.5 + confidence_level / 2))
        low, high = estimate - z * se, estimate + z * se
        withheld = _withheld(cate, values, low, high)
        if withheld is not None:
            # No personal number: the effect across all shoppers, with why.
            out.append(PersonalEffect(**base, done=bool(row["done"]), at=pd.Timestamp(row["t"]).isoformat(),
                                      estimate=population.estimate, ci_low=population.ci_low,
                                      ci_high=population.ci_high, verdict=population.verdict,
                                      verdict_reasons=tuple(population.verdict_reasons), modifiers=values,
                                      scope=ALL_SHOPPERS, withheld=withheld))
            continue
        reasons: list[Reason] = []
        if low <= 0 <= high:
            reasons.append(Reason("interval_spans_zero", {"low_points": low, "high_points": high}))
        if not population.supported:
            reasons.append(Reason("population_not_supported", {"verdict": population.verdict}))
        out.append(PersonalEffect(**base, done=bool(row["done"]), at=pd.Timestamp(row["t"]).isoformat(),
                                  estimate=estimate, ci_low=low, ci_high=high,
                                  verdict=INCONCLUSIVE if reasons else SUPPORTED, verdict_reasons=tuple(reasons),
                                  modifiers={m: float(row[m]) for m in cate.modifiers}))
    return tuple(out)


def _withheld(cate: CateModel, values: dict[str, float], low: float, high: float) -> Reason | None:
    """Why θ(x) gives no personal number for these modifier values (None when it may): a value
    outside the range the model was fitted on, or an interval leaving the possible range."""
    outside = cate.outside_support(values)
    if outside is not None:
        name, value, lo, hi = outside
        return Reason("outside_support", {"modifier": name, "value": _shown(name, value),
                                          "low": _shown(name, lo), "high": _shown(name, hi)})
    if low < -1.0 or high > 1.0:
        return Reason("interval_out_of_range", {"low_points": low, "high_points": high})
    return None


def _shown(modifier: str, value: float) -> str:
    """A modifier's value in its natural unit: a share, a price, a count of items or looks."""
    if not np.isfinite(value):
        return "?"
    if modifier == "taste_share":
        return f"{100 * value:.0f}%"
    if modifier == "log_price":
        return f"{np.exp(value):,.2f}"
    if modifier == "user_activity":
        return f"{np.expm1(value):,.0f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


#: The explainer's question: ``(user_id, item_id, title, behaviours done on it)`` -> statements.
StatementSource = Callable[[str, str, str, tuple[str, ...]], tuple[CausalStatement, ...]]


def causal_statements(report: InfluenceReport, events: pd.DataFrame, items: pd.DataFrame | None, user_id: str,
                      item_id: str, title: str | None = None) -> tuple[CausalStatement, ...]:
    """Personal effects of every behaviour (view again, favourite, cart) on buying ``item_id``,
    as the explainer's statements; behaviours with no estimate for this pair are left out.

    ``events`` need only hold this user's events (all of the log works too).
    """
    mine = events[events["user_id"].astype(str) == str(user_id)]
    out = []
    for behaviour in BEHAVIOURS:
        for effect in personal_effects(report, user_id, [str(item_id)], behaviour, events=mine, items=items):
            statement = (effect if title is None else replace(effect, title=title)).statement()
            if statement is not None:
                out.append(statement)
    return tuple(out)


def statement_source(report: Callable[[], InfluenceReport | None], events: Callable[[str], pd.DataFrame],
                     items: Callable[[], pd.DataFrame | None] = lambda: None) -> StatementSource:
    """A ``CausalSource`` for :class:`~whyrec.tools.explain.Explainer`: ``report()`` gives the
    latest finished population report (None while none is ready: no statements, never an
    estimate on the request path); ``events(user_id)`` that user's events; ``items()`` the catalog.

    >>> source = statement_source(lambda: models.report(version, wait=False),          # doctest: +SKIP
    ...                           workspace.user_events, workspace.items)
    >>> Explainer(ranker, workspace.items(), causal=source)                             # doctest: +SKIP
    """

    def source(user_id: str, item_id: str, title: str, done: tuple[str, ...]) -> tuple[CausalStatement, ...]:
        current = report()
        if current is None:
            return ()
        return causal_statements(current, events(user_id), items(), user_id, item_id, title)

    return source


def _windows(report: InfluenceReport) -> Windows:
    data = report.settings.get("windows", {})
    window = pd.Timedelta(seconds=float(data.get("window_seconds", 7 * 86_400)))
    horizon = pd.Timedelta(seconds=float(data.get("horizon_seconds", 7 * 86_400)))
    return Windows(window, horizon, None, None, bool(data.get("adapted_to_short_log", False)))


def _decision_rows(mine: pd.DataFrame, items: pd.DataFrame | None, windows: Windows, behaviour: str) -> pd.DataFrame:
    """Per item, the user's decision point for ``behaviour``: the one right before they did it,
    else their latest; with the effect modifiers (same definitions as the population's)."""
    table = build_decisions(mine, items, windows)
    frame = table.frame
    if frame.empty:
        return pd.DataFrame(columns=["item_id", "t", "done"])
    units = table.units.frame
    at_risk = (frame["looks_so_far"] == 1) if behaviour == "view" else (frame[f"{behaviour}_so_far"] == 0)
    candidates = frame[at_risk.to_numpy()].copy()
    candidates["done"] = candidates["next"] == behaviour
    # Before the behaviour if it happened; otherwise the latest decision point.
    candidates["order"] = np.where(candidates["done"], 0, 1)
    candidates = candidates.sort_values(["unit", "order", "k"], ascending=[True, True, False])
    chosen = candidates.drop_duplicates("unit", keep="first")
    unit = chosen["unit"].to_numpy()
    return pd.DataFrame({"item_id": units["item_id"].astype(str).to_numpy()[unit], "t": chosen["t"].to_numpy(),
                         "done": chosen["done"].to_numpy(), "looks_so_far": chosen["looks_so_far"].to_numpy(),
                         "taste_share": units["taste_share"].to_numpy()[unit],
                         "log_price": units["log_price"].to_numpy()[unit],
                         "user_activity": units["user_activity"].to_numpy()[unit]})
