"""One way to turn any result into text in the user's language: :func:`render`.

Every word comes from the message catalogue (``prompts/i18n``), every number from the result,
and the three kinds of statement stay apart: the verified reason leads an explanation, the
model's attributions follow as "what counts towards it in my model", and causal effects appear
only where they answer the question, with their verdict. Titles and other data are quoted as
plain text; the UI escapes markup when it shows an answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import singledispatch
from typing import Any

import pandas as pd

from whyrec.prompts.catalogue import has_message, language_of, message
from whyrec.tools.service import (
    Effects,
    Explanation,
    HistorySearch,
    ItemSearch,
    Recommendations,
    WhatIfResult,
    WhyNot,
)
from whyrec.tools.service.results import Headline

from .failure import ToolFailure

#: How many model reasons an explanation lists.
MODEL_REASONS = 3
#: How many behaviours of the verified set the headline names (the rest are counted).
HEADLINE_EVENTS = 3


# -- words and numbers --------------------------------------------------------------------------
def did(behaviour: str, title: str, language: str) -> str:
    """'bought “X”' / '购买了“X”'."""
    return message(f"behaviour.did.{behaviour}", language, title=quote(title, language))


def do(behaviour: str, title: str, language: str) -> str:
    """The plain form: 'bought “X”' after "hadn't" / '购买“X”' after 没有."""
    return message(f"behaviour.do.{behaviour}", language, title=quote(title, language))


def do_mine(behaviour: str, title: str, language: str) -> str:
    """The plain form in the shopper's own words, for a message suggested to them: 'saved “X” to
    my favourites' (``do`` says "your": it is the assistant speaking)."""
    return message(f"behaviour.do_mine.{behaviour}", language, title=quote(title, language))


def behaviour_name(behaviour: str, language: str) -> str:
    return message(f"behaviour.name.{behaviour}", language)


def quote(text: str, language: str) -> str:
    return message("format.quote", language, text=text)


def date(timestamp: Any, language: str, with_year: bool = False) -> str:
    """'31 Oct' / '10月31日'."""
    if timestamp is None:
        return ""
    stamp = pd.Timestamp(timestamp)
    month = message(f"format.month.{stamp.month}", language)
    key = "format.date_year" if with_year else "format.date"
    return message(key, language, day=stamp.day, month=month, year=stamp.year)


def percent(share: float, language: str) -> str:
    """A share of a score (0..1) as a whole percentage; below 1% as '<1%'."""
    value = 100.0 * abs(share)
    text = "<1" if 0 < value < 1 else f"{value:.0f}"
    return message("format.percent", language, value=text)


def points(difference: float, language: str) -> str:
    """A difference in probability (0..1 scale) in percentage points."""
    return message("format.points", language, value=f"{100.0 * abs(difference):.1f}")


def signed_points(difference: float, language: str) -> str:
    """A difference in percentage points with its sign (+1.2 / -3.5)."""
    return message("format.points", language, value=f"{100.0 * difference:+.1f}")


def effect_words(estimate: float, verdict: str, language: str) -> str:
    """What a causal estimate says about doing the behaviour next: raises / lowers by so many
    points when the verdict is ``supported``; otherwise that the data do not settle the direction
    (an inconclusive estimate is not a finding, whatever its sign)."""
    direction = "unclear" if verdict != "supported" else "up" if estimate >= 0 else "down"
    return message(f"chat.effects.estimate.{direction}", language, points=points(estimate, language),
                   signed=signed_points(estimate, language))


def points_range(low: float, high: float, language: str) -> str:
    return message("format.points_range", language, low=f"{100.0 * low:+.1f}", high=f"{100.0 * high:+.1f}")


def joined(parts: Sequence[str], language: str) -> str:
    """'a, b and c' / 'a、b和c'."""
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return message("format.list_comma", language).join(parts[:-1]) + message("format.list_and", language) + parts[-1]


def category_name(category: str | None) -> str:
    """A catalog category as people say it: 'garden.plants.planter' -> 'planter'."""
    if not category:
        return ""
    last = str(category).split(",")[0].strip().split(".")[-1]
    return last.replace("_", " ")


# -- results ------------------------------------------------------------------------------------
@singledispatch
def render(result: Any, language: str = "en") -> str:
    """``result`` as text in ``language`` (``en`` or ``zh``)."""
    raise TypeError(f"no rendering for {type(result).__name__}")


def card_reason(headline: Headline | None, language: str) -> str:
    """The one-line verified reason of a recommendation card."""
    if headline is None or headline.kind == "popularity":
        return message("explain.card.popularity", language)
    if headline.kind == "stays":
        return message("explain.card.stays", language)
    if headline.kind == "many_signals" or not headline.events:
        return message("explain.card.many_signals", language)
    events = sorted(headline.events, key=lambda e: -e.contribution)
    first = did(events[0].behaviour, events[0].title, language)
    if len(events) == 1:
        return message("explain.card.verified_one", language, did=first)
    if len(events) == 2:
        second = (message(f"behaviour.did.{events[1].behaviour}", language, title=message("behaviour.it", language))
                  if events[1].item_id == events[0].item_id else did(events[1].behaviour, events[1].title, language))
        return message("explain.card.verified_two", language, first=first, second=second)
    return message("explain.card.verified_many", language, n=len(events), first=first)


def list_scope(category: str | None, query: str | None, language: str) -> str:
    """What a list was kept to, as its intro says it (" in home", " for “lamp”")."""
    scope = ""
    if category:
        scope += message("chat.recommend.scope_category", language, category=category_name(category))
    if query:
        scope += message("chat.recommend.scope_query", language, query=query)
    return scope


@render.register
def _(result: Recommendations, language: str = "en") -> str:
    language = language_of(language)
    scope = list_scope(result.category, result.query, language)
    if not result.items:
        return message("chat.recommend.empty", language, scope=scope)
    first, last = result.items[0].rank, result.items[-1].rank
    lines = [message("chat.recommend.intro", language, n=len(result.items), scope=scope) if first == 1 else
             message("chat.recommend.intro_more", language, n=len(result.items), scope=scope, first=first, last=last)]
    for item in result.items:
        lines.append(message("chat.recommend.line", language, rank=item.rank, title=item.title,
                             reason=card_reason(item.headline, language)))
    scores = [round(item.score, 12) for item in result.items]
    if len(set(scores)) < len(scores):
        lines.append(message("chat.recommend.ties", language))
    if len(result.items) > 1 and all(i.headline is not None and i.headline.kind in ("stays", "popularity")
                                      for i in result.items):
        # Each pick checked to stay without the shopper's behaviours (or resting on none):
        # "picks for you" alone would read as personal.
        lines.append(message("chat.recommend.not_personal", language))
    lines.append(message("chat.recommend.footer", language))
    return "\n".join(lines)


def important(result: Recommendations, language: str) -> str:
    """Which of the user's behaviours count most across the list (model attributions)."""
    influence, _ = result.influence()
    if not influence:
        return message("chat.important.empty", language)
    lines = [message("chat.important.intro", language)]
    for rank, (reason, _total, titles) in enumerate(influence, start=1):
        lines.append(message("chat.important.line", language, rank=rank,
                             did=did(reason.behaviour, reason.title, language), date=date(reason.timestamp, language),
                             items=joined([quote(t, language) for t in titles[:3]], language)))
    return "\n".join(lines)


@render.register
def _(result: Explanation, language: str = "en") -> str:
    language = language_of(language)
    if result.why_not is not None:  # e.g. an item the shopper is still deciding on
        lines = [render(result.why_not, language)]
    else:
        lines = [_headline(result, quote(result.title, language), language)]
        lines += _model_reasons(result, language)
    if result.causal:  # only about this item, in the shopper's own funnel (the causal tool's words)
        lines.append(message("explain.causal.intro", language))
        for statement in result.causal:
            if statement.texts.get(language):
                lines.append(message("explain.causal.said", language, statement=statement.texts[language]))
                continue
            span = ("" if statement.ci_low is None or statement.ci_high is None
                    else points_range(statement.ci_low, statement.ci_high, language))
            lines.append(message("explain.causal.line", language, statement=statement.estimand, range=span,
                                 verdict=_verdict_word(statement.verdict, language)))
    return "\n".join(line for line in lines if line)


def headline_text(result: Explanation, language: str = "en") -> str:
    """The explanation's lead: the verified reason (or what carries the item instead)."""
    language = language_of(language)
    if result.why_not is not None:
        return render(result.why_not, language).split("\n")[0]
    return _headline(result, quote(result.title, language), language)


def _headline(result: Explanation, title: str, language: str) -> str:
    headline, cf = result.headline, result.counterfactual
    if headline.kind == "verified" and cf is not None:
        events = sorted(cf.events, key=lambda e: -e.contribution)
        shown = events if len(events) <= HEADLINE_EVENTS else events[:HEADLINE_EVENTS - 1]
        named = joined([message("format.with_date", language, text=did(e.behaviour, e.title, language),
                                date=date(e.timestamp, language)) for e in shown], language)
        that = (message("explain.headline.that_one", language) if len(events) == 1
                else message("explain.headline.that_many", language, n=len(events)))
        if len(shown) < len(events):
            lead = message("explain.headline.verified_many", language, title=title, rank=result.rank,
                           n=len(events), events=named, more=len(events) - len(shown))
        else:
            lead = message("explain.headline.verified", language, title=title, rank=result.rank, events=named)
        parts = [lead]
        replacement = quote(cf.replacement.title, language) if cf.replacement is not None else None
        if cf.new_rank is not None and replacement:
            parts.append(message("explain.headline.drop_replaced", language, that=that, new_rank=cf.new_rank,
                                 replacement=replacement))
        elif replacement:
            parts.append(message("explain.headline.drop_out_replaced", language, that=that, replacement=replacement))
        elif cf.new_rank is not None:
            parts.append(message("explain.headline.drop", language, that=that, new_rank=cf.new_rank))
        else:
            parts.append(message("explain.headline.drop_out", language, that=that, k=result.k))
        parts.append(message("explain.headline.checked", language, that=that))
        if cf.proven_minimal and len(events) > 1:
            parts.append(message("explain.headline.together", language))
        return " ".join(parts) if language == "en" else "".join(parts)
    if headline.kind == "many_signals":
        return message("explain.headline.many_signals", language, title=title, rank=result.rank,
                       share=percent(headline.largest_share, language))
    if headline.kind == "stays":
        return message("explain.headline.stays" if headline.support > 1 else "explain.headline.stays_one",
                       language, title=title, rank=result.rank, k=result.k, n=headline.support,
                       new_rank=headline.new_rank, share=percent(result.prior_share, language))
    return message("explain.headline.popularity", language, title=title, rank=result.rank)


def _model_reasons(result: Explanation, language: str) -> list[str]:
    """What counts towards the item in the model (positive terms only, as shares of the score),
    then the behaviours that lower it, said as such."""
    events = [b for b in result.chart if b.kind == "event" and b.value > 0]
    if not events:
        return []
    # One list by share, popularity in its place among the behaviours (listed after the top three
    # whatever its share, it read as counting more than behaviours left out), then the rest summed.
    prior = next((b for b in result.chart if b.kind == "prior" and b.share >= 0.05), None)
    ranked = sorted([*events, *([prior] if prior is not None else [])], key=lambda b: -b.share)
    shown = ranked[:MODEL_REASONS + (prior is not None)]
    lines = [message("explain.model.intro", language)]
    for bar in shown:
        if bar is prior:
            lines.append(message("explain.model.popularity", language, share=percent(bar.share, language)))
            continue
        key = "explain.model.line_repeated" if bar.count > 1 else "explain.model.line"
        lines.append(message(key, language, did=did(str(bar.behaviour), str(bar.title), language),
                             count=bar.count, date=date(bar.last, language), share=percent(bar.share, language)))
    rest = [b for b in events if not any(b is s for s in shown)]
    if rest:
        lines.append(message("explain.model.rest", language, n=len(rest)))
    lowering = [b for b in result.chart if b.kind == "event" and b.value < 0][:MODEL_REASONS]
    if lowering:
        lines.append(message("explain.model.lowering", language, events=joined(
            [did(str(b.behaviour), str(b.title), language) for b in lowering], language)))
    return lines


@render.register
def _(result: WhyNot, language: str = "en") -> str:
    language = language_of(language)
    title = quote(result.title, language)
    if result.reason == "in_top_k":
        return message("explain.why_not.in_top_k", language, title=title, rank=result.rank)
    if result.reason == "seen":
        done = result.seen_behaviours[-1] if result.seen_behaviours else "view"
        it = message("format.it", language)
        return message("explain.why_not.seen", language, title=title,
                       did=message(f"behaviour.did.{done}", language, title=it))
    if result.reason == "filtered":
        return message("explain.why_not.filtered", language, title=title)
    cutoff = quote(result.cutoff.title, language) if result.cutoff is not None else ""
    lines = [message("explain.why_not.outranked", language, title=title, rank=result.rank, k=result.k,
                     cutoff=cutoff)]
    support = [c for c in result.contributions if c.contribution > 0][:MODEL_REASONS]
    if support:
        lines.append(message("explain.why_not.support", language, events=joined(
            [did(c.behaviour, c.title, language) for c in support], language)))
    else:
        lines.append(message("explain.why_not.no_support", language))
    if result.addition is not None:
        a = result.addition
        lines.append(message("explain.why_not.addition", language, did=did(a.behaviour, a.title, language),
                             new_rank=a.new_rank))
    else:
        lines.append(message("explain.why_not.no_addition", language, k=result.k))
    return "\n".join(lines)


@render.register
def _(result: WhatIfResult, language: str = "en") -> str:
    language = language_of(language)
    lines = []
    for event in result.removed[:1]:
        lines.append(message("explain.what_if.head_removed", language, do=do(event.behaviour, event.title, language)))
    for event in result.added[:1]:
        lines.append(message("explain.what_if.head_added", language, did=did(event.behaviour, event.title, language)))
    moved = [m for m in result.moves if m.move != "same"]
    if not moved:
        lines.append(message("explain.what_if.same", language, k=result.k))
    for m in moved:
        title = quote(m.title, language)
        if m.move == "new":
            lines.append(message("explain.what_if.new", language, title=title, rank=m.new_rank))
        elif m.move == "dropped":
            lines.append(message("explain.what_if.dropped", language, title=title, rank=m.old_rank))
        else:
            lines.append(message(f"explain.what_if.{m.move}", language, title=title, old=m.old_rank, new=m.new_rank))
    return "\n".join(lines)


def _verdict_word(verdict: str, language: str) -> str:
    key = f"causal.verdict.{verdict}"
    return message(key, language) if has_message(key, language) else verdict


@render.register
def _(result: Effects, language: str = "en") -> str:
    """Each behaviour's causal effect with its interval and the causal tool's verdict; the
    estimand in plain words once per behaviour (it is the same for every group)."""
    language = language_of(language)
    if not result.effects:
        return message("chat.effects.empty", language)
    lines = [message("chat.effects.intro", language)]
    segment = None
    measured: set[str] = set()
    for effect in result.effects:
        if effect.segment and effect.segment != "all" and effect.segment != segment:
            segment = effect.segment
            lines.append(message("chat.effects.segment", language, segment=segment.split("=", 1)[-1]))
        treatment = message(f"chat.effects.treatment.{effect.behaviour}", language)
        if not effect.ok or effect.estimate is None:
            lines.append(message("chat.effects.cannot", language, treatment=treatment,
                                 reason=effect.verdict_text(language)))
            continue
        estimate = effect_words(effect.estimate, effect.verdict, language)
        low, high = effect.ci_low, effect.ci_high
        span = points_range(low, high, language) if low is not None and high is not None else "?"
        lines.append(message("chat.effects.line", language, treatment=treatment, estimate=estimate, range=span,
                             verdict=effect.verdict_text(language)))
        if effect.naive is not None and math.isfinite(effect.naive):
            # Equal once rounded as shown: "it mixes in who does this" would read as a correction.
            # Signed: a plain comparison can point the other way from the estimate.
            same = signed_points(effect.naive, language) == signed_points(effect.estimate, language)
            lines.append(message("chat.effects.naive_same" if same else "chat.effects.naive", language,
                                 naive=signed_points(effect.naive, language)))
        estimand = effect.estimand_text(language)
        if estimand and effect.behaviour not in measured:
            measured.add(effect.behaviour)
            lines.append(message("chat.effects.measures", language, estimand=estimand))
    return "\n".join(lines)


@render.register
def _(result: HistorySearch, language: str = "en") -> str:
    language = language_of(language)
    scope = (message("chat.history.scope_behaviour", language,
                     behaviours=joined([behaviour_name(b, language) for b in result.behaviours], language))
             if result.behaviours else "")
    if not result.hits:
        return message("chat.history.empty", language, scope=scope)
    lines = [message("chat.history.intro", language, scope=scope)]
    for hit in result.hits:
        key = "chat.history.line_repeated" if hit.count > 1 else "chat.history.line"
        lines.append(message(key, language, did=did(hit.behaviour, hit.title, language), count=hit.count,
                             when=date(hit.last_time, language)))
    return "\n".join(lines)


@render.register
def _(result: ItemSearch, language: str = "en") -> str:
    language = language_of(language)
    if not result.hits:
        return message("chat.items.empty", language, query=result.query)
    lines = [message("chat.items.intro", language, query=result.query)]
    for hit in result.hits:
        details = [category_name(hit.category)] if hit.category else []
        if hit.price is not None:
            details.append(f"{hit.price:.2f}")
        extra = (message("format.details", language,
                         details=message("format.details_sep", language).join(details)) if details else "")
        lines.append(message("chat.items.line", language, title=hit.title, details=extra))
    return "\n".join(lines)


@render.register
def _(result: ToolFailure, language: str = "en") -> str:
    language = language_of(language)
    fields = dict(result.fields)
    if result.code == "nothing_to_remove":
        fields["did"] = do(str(fields.get("behaviour", "view")), str(fields.get("title", "")), language)
    try:
        text = message(f"error.{result.code}", language, **fields)
    except (KeyError, IndexError):
        text = message("error.other", language)
    return message("chat.other.error", language, message=text)
