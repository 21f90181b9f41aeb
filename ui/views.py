"""What the page shows, as HTML built from the results' JSON forms (``to_json()``).

Pure functions of plain data, no Gradio: the callbacks use them and the tests call them directly.
Every word comes from the message catalogue (the ``ui`` area for the page's own words,
:mod:`whyrec.agent.render` for the words of results, so the page and the chat agree); every
number comes from a result, as its ``to_json()`` rounded it. Data (titles, ids, categories) is
always escaped: it is shown as text, never read as markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from whyrec.agent.render import (
    behaviour_name,
    category_name,
    date,
    did,
    do,
    effect_words,
    joined,
    points_range,
    quote,
)
from whyrec.prompts.catalogue import has_message, message

from .text import t, t_or

#: Bar colours by behaviour (the legend shows the same swatches, with their names).
COLOURS: dict[str, str] = {"view": "#6baed6", "click": "#9e9ac8", "favourite": "#fd8d3c", "cart": "#2171b5",
                           "purchase": "#238b45", "rating": "#807dba", "other": "#bdbdbd", "prior": "#8c8c8c",
                           "lowering": "#cb181d"}
#: How many groups of the verified set the explanation lists (the rest are under Details).
CF_GROUPS = 4
#: Verdict marks in the segment table.
MARKS = {"supported": "✓", "inconclusive": "?", "cannot_estimate": "—"}


def esc(text: Any) -> str:
    """``text`` as HTML text or a double-quoted attribute value (data is never markup)."""
    return html.escape(str(text), quote=False).replace('"', "&quot;")


def chat_text(text: str) -> str:
    """A chat message as text for a Chatbot that renders no markdown: HTML from data escaped."""
    return html.escape(str(text), quote=False)


def _number(value: float | None, digits: int = 4) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{float(value):.{digits}f}"


def _signed_points(value: float | None) -> str:
    """A difference in probability (0..1) as signed percentage points: '+18.2'."""
    return "—" if value is None else f"{100.0 * float(value):+.1f}"


def _share(share_pct: Any, language: str) -> str:
    """A share in percent with one decimal, as Details shows it: '6.2%'."""
    return message("format.percent", language, value=f"{float(share_pct or 0.0):.1f}")


def _items(texts: Iterable[str], tag: str = "ul", cls: str = "") -> str:
    """Plain texts as an HTML list (each escaped)."""
    attr = f' class="{cls}"' if cls else ""
    return f"<{tag}{attr}>" + "".join(f"<li>{esc(x)}</li>" for x in texts) + f"</{tag}>"


def _when(timestamp: Any, language: str) -> str:
    return date(timestamp, language) if timestamp else ""


# -- the status line and the user's history ------------------------------------------------------
def status_html(backend: str, offline: bool, stats: dict[str, Any] | None, language: str,
                fallback: str | None = None, warm: bool = True) -> str:
    """The status line: how answers are made, the shop's size (or, for a page bound to one shopper,
    ``stats = {"mine": n}``: how many of their behaviours are recorded), and the last answer's
    fallback."""
    parts = [t("status.offline", language) if offline else t("status.llm", language, name=backend)]
    if stats and "mine" in stats:   # a page bound to one shopper: their own figure, nothing of the shop's
        parts.append(t("status.mine", language, events=f"{int(stats['mine']):,}"))
    elif stats:
        parts.append(t("status.shop", language, users=f"{int(stats.get('users', 0)):,}",
                       items=f"{int(stats.get('catalog_items', 0)):,}", events=f"{int(stats.get('events', 0)):,}"))
    tuning = (stats or {}).get("tuning") or {}
    score = (tuning.get("validation") or {}).get("ndcg@20")
    repeat = ((tuning.get("baselines") or {}).get("repeat") or {}).get("ndcg@20")
    if tuning.get("tuned") and score is not None and repeat is not None:  # what the served ranker was measured at
        parts.append(t("status.tuned", language, score=f"{float(score):.3f}", repeat=f"{float(repeat):.3f}"))
    if not warm:
        parts.append(t("status.warming", language))
    line = f'<span class="wr-status">{esc(" · ".join(parts))}</span>'
    if fallback in ("llm_unavailable", "guard"):
        key = "status.fallback_llm" if fallback == "llm_unavailable" else "status.fallback_guard"
        line += f'<span class="wr-status-warn">{esc(t(key, language))}</span>'
    return line


def history_html(events: Sequence[dict[str, Any]], total: int, language: str,
                 empty: str = "user.no_history") -> str:
    """The user's recent behaviours (HistoryEvent.to_json() rows, newest first); ``empty`` is the
    message key shown when there are none."""
    if not events:
        return f'<p class="wr-muted">{esc(t(empty, language))}</p>'
    rows = [f'<li><span class="wr-date">{esc(_when(e.get("timestamp"), language))}</span> '
            f'{esc(t("user.history_line", language, did=did(str(e["behaviour"]), str(e["title"]), language)))}</li>'
            for e in events]
    more = total - len(events)
    tail = f'<p class="wr-muted">{esc(t("user.history_more", language, n=f"{more:,}"))}</p>' if more > 0 else ""
    return f'<ol class="wr-history">{"".join(rows)}</ol>{tail}'


def notice_html(text: str | None, kind: str = "error") -> str:
    """An inline notice under the chat input (errors stay next to the text they are about)."""
    if not text:
        return ""
    return f'<p class="wr-notice wr-notice-{esc(kind)}" role="alert">{esc(text)}</p>'


def counter_html(n: int, limit: int, language: str) -> str:
    """The character counter under the chat input (the page's script keeps it current)."""
    template = t("chat.counter", language, n="{n}", limit="{limit}")
    over = " wr-over" if n > limit else ""
    return (f'<span class="wr-counter{over}" data-template="{esc(template)}" data-limit="{limit}">'
            f'{esc(t("chat.counter", language, n=f"{n:,}", limit=f"{limit:,}"))}</span>')


# -- recommendation cards ------------------------------------------------------------------------
def card_html(item: dict[str, Any], language: str) -> str:
    """One card: rank and title, the category as people say it, the price when known, and the
    verified reason in one line (worded by the agent's renderer when the answer arrived)."""
    meta = []
    if item.get("category"):
        meta.append(esc(category_name(str(item["category"]))))
    if item.get("price") is not None and math.isfinite(float(item["price"])):
        meta.append(esc(t("cards.price", language, price=f"{float(item['price']):,.2f}")))
    reason = (item.get("reason_text") or {}).get(language) or ""
    return (f'<div class="wr-card-body"><div class="wr-card-title"><span class="wr-rank">{int(item["rank"])}</span>'
            f'<span class="wr-title-text">{esc(item["title"])}</span></div>'
            + (f'<div class="wr-card-meta">{" · ".join(meta)}</div>' if meta else "")
            + (f'<div class="wr-card-reason">{esc(reason)}</div>' if reason else "")
            + "</div>")


def cards_heading_html(n: int, language: str) -> str:
    text = t("cards.heading", language)
    empty = "" if n else f'<p class="wr-muted">{esc(t("cards.empty", language))}</p>'
    return f'<h2 class="wr-h2">{esc(text)}</h2>{empty}'


# -- the explanation panel -----------------------------------------------------------------------
def explanation_html(explanation: dict[str, Any] | None, language: str, loading: bool = False) -> str:
    """The explanation a person reads in five seconds: the headline sentence, the chart, the
    verified set as a short list with its replacement, causal statements in plain words, and
    every technical number behind "Details"."""
    if loading:
        return f'<div class="wr-explain wr-loading" aria-busy="true">{esc(t("explain.loading", language))}</div>'
    if not explanation:
        return f'<div class="wr-explain wr-empty"><p class="wr-muted">{esc(t("explain.empty", language))}</p></div>'
    title = quote(str(explanation["title"]), language)
    why_not = explanation.get("why_not") is not None or explanation.get("rank") is None
    heading = t("explain.title_why_not" if why_not else "explain.title", language, title=title)
    rank = "" if why_not else t("explain.rank", language, rank=explanation["rank"], k=explanation["k"])
    headline = ((explanation.get("text") or {}).get("headline") or {}).get(language, "")
    parts = [f'<h2 class="wr-h2">{esc(heading)}</h2>',
             f'<p class="wr-rankline">{esc(rank)}</p>' if rank else "",
             f'<p class="wr-headline">{esc(headline)}</p>' if headline else ""]
    if not why_not:
        parts.append(counterfactual_html(explanation, language))
    parts.append(chart_html(explanation.get("chart") or [], language))
    parts.append(causal_html(explanation.get("causal") or [], language))
    parts.append(explanation_details_html(explanation, language))
    return f'<div class="wr-explain">{"".join(p for p in parts if p)}</div>'


def _bar_label(bar: dict[str, Any], language: str) -> tuple[str, str]:
    """(what, when) of a chart bar, in words."""
    kind = bar.get("kind")
    if kind == "prior":
        return t("explain.bar_prior", language), ""
    if kind == "other":
        return t("explain.bar_other", language, n=int(bar.get("count") or 0)), ""
    count = int(bar.get("count") or 1)
    done = did(str(bar.get("behaviour")), str(bar.get("title") or ""), language)
    what = (t("explain.you_did_repeated", language, did=done, count=count) if count > 1
            else t("explain.you_did", language, did=done))
    stamp = bar.get("last")
    when = "" if not stamp else (t("explain.last_on", language, date=date(stamp, language)) if count > 1
                                 else date(stamp, language))
    return what, when


def _axis_max(largest: float) -> float:
    """A round end for the chart's axis (in percent), at least the largest bar."""
    for end in (5, 10, 20, 25, 40, 50, 60, 80, 100):
        if largest <= end:
            return float(end)
    return float(math.ceil(largest / 50.0) * 50)


def chart_html(bars: Sequence[dict[str, Any]], language: str) -> str:
    """A horizontal bar chart (HTML): each bar's full label and date, repeated behaviours grouped,
    the value as a share of the score, a legend, an axis with its unit, and "other" explained."""
    if not bars:
        return f'<div class="wr-chart"><p class="wr-muted">{esc(t("explain.no_bars", language))}</p></div>'
    largest = max(abs(float(b.get("share_pct") or 0.0)) for b in bars)
    end = _axis_max(largest)
    rows = []
    kinds: dict[str, None] = {}
    for bar in bars:
        share = float(bar.get("share_pct") or 0.0)
        kind = str(bar.get("kind") or "event")
        colour_key = kind if kind in ("other", "prior") else str(bar.get("behaviour"))
        lowering = share < 0
        kinds.setdefault("lowering" if lowering else colour_key, None)
        what, when = _bar_label(bar, language)
        value = ("−" if lowering else "") + message("format.percent", language, value=_pct(abs(share)))
        width = 0.0 if end <= 0 else min(100.0, 100.0 * abs(share) / end)
        note = f' <span class="wr-lowers">{esc(t("explain.lowers", language))}</span>' if lowering else ""
        colour = "lowering" if lowering else colour_key
        label = (f'<span class="wr-bar-what">{esc(what)}</span>'
                 + (f' <span class="wr-date">{esc(when)}</span>' if when else "") + note)
        bar_html = f'<div class="wr-bar wr-c-{esc(colour)}" style="width:{width:.1f}%"></div>'
        rows.append(f'<li class="wr-bar-row"><div class="wr-bar-label">{label}</div>'
                    f'<div class="wr-bar-line"><div class="wr-bar-track">{bar_html}</div>'
                    f'<span class="wr-bar-value">{esc(value)}</span></div></li>')
    ticks = "".join(f'<span class="wr-tick" style="left:{100.0 * v / end:.1f}%">{esc(_pct(v))}</span>'
                    for v in (0.0, end / 2, end))
    legend = "".join(f'<li><span class="wr-swatch wr-c-{esc(k)}"></span>{esc(_legend_name(k, language))}</li>'
                     for k in kinds)
    notes = [("wr-note", t("explain.chart_note", language))]
    other = next((b for b in bars if b.get("kind") == "other"), None)
    if other is not None:
        notes.append(("wr-note wr-other-note", t("explain.other_note", language, n=int(other.get("count") or 0))))
    return (f'<figure class="wr-chart"><figcaption class="wr-chart-title">{esc(t("explain.chart_title", language))}'
            f'</figcaption><ul class="wr-legend" aria-label="{esc(t("explain.legend", language))}">{legend}</ul>'
            f'<ol class="wr-bars">{"".join(rows)}</ol>'
            f'<div class="wr-axis-line"><div class="wr-axis">{ticks}</div><span class="wr-bar-value"></span></div>'
            f'<p class="wr-axis-title">{esc(t("explain.axis", language))}</p>'
            + "".join(f'<p class="{cls}">{esc(n)}</p>' for cls, n in notes) + "</figure>")


def _pct(value: float) -> str:
    """A share in percent as the chart writes it: whole numbers, '<1' below one."""
    return "<1" if 0 < value < 1 else f"{value:.0f}"


def _legend_name(kind: str, language: str) -> str:
    if kind in ("other", "prior", "lowering"):
        return t(f"explain.legend_{kind}", language)
    return behaviour_name(kind, language)


def _grouped(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same behaviour on the same item, grouped (largest contribution first, as given)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        key = (str(event.get("behaviour")), str(event.get("item_id")))
        group = groups.get(key)
        if group is None:
            groups[key] = dict(event, count=1, last=event.get("timestamp"),
                               contribution=float(event.get("contribution") or 0.0))
            continue
        group["count"] += 1
        group["contribution"] += float(event.get("contribution") or 0.0)
        if str(event.get("timestamp") or "") > str(group.get("last") or ""):
            group["last"] = event.get("timestamp")
    return list(groups.values())


def counterfactual_html(explanation: dict[str, Any], language: str) -> str:
    """The verified set as a short list (repeated behaviours grouped) and what takes its place."""
    cf = explanation.get("counterfactual")
    title = quote(str(explanation["title"]), language)
    if not cf:
        reason = str(explanation.get("reason") or "")
        text = t_or(f"reason.{reason}", "reason.other", language)
        return (f'<div class="wr-cf wr-cf-none"><h3 class="wr-h3">{esc(t("cf.none_title", language))}</h3>'
                f'<p>{esc(text)}</p></div>')
    events = list(cf.get("events") or [])
    n = len(events)
    groups = _grouped(events)
    items = []
    for g in groups[:CF_GROUPS]:
        bar = {"kind": "event", "behaviour": g["behaviour"], "title": g.get("title"), "count": g["count"],
               "last": g.get("last")}
        what, when = _bar_label(bar, language)
        items.append(f'<li>{esc(what)}' + (f' <span class="wr-date">{esc(when)}</span>' if when else "") + "</li>")
    rest = sum(g["count"] for g in groups[CF_GROUPS:])
    if rest:
        items.append(f'<li class="wr-muted">{esc(t("cf.more", language, n=rest))}</li>')
    replacement = cf.get("replacement")
    other = quote(str(replacement["title"]), language) if replacement else None
    rank = cf.get("new_rank")
    if rank and other:
        result = t("cf.drop_replaced", language, title=title, rank=rank, replacement=other)
    elif other:
        result = t("cf.drop_out_replaced", language, title=title, replacement=other)
    elif rank:
        result = t("cf.drop", language, title=title, rank=rank)
    else:
        result = t("cf.drop_out", language, title=title, k=explanation.get("k"))
    checks = [t("cf.verified" if cf.get("verified") else "cf.not_verified", language)]
    if cf.get("proven_minimal") and n > 1:
        checks.append(t("cf.minimal", language))
    heading = t("cf.title_one", language) if n == 1 else t("cf.title_many", language, n=n)
    mark = "✓" if cf.get("verified") else "✗"
    return (f'<div class="wr-cf"><h3 class="wr-h3">{esc(heading)}</h3><ul class="wr-cf-list">{"".join(items)}</ul>'
            f'<p class="wr-cf-result">→ {esc(result)}</p>'
            f'<p class="wr-check">{mark} {esc(" · ".join(checks))}</p></div>')


def causal_html(statements: Sequence[dict[str, Any]], language: str) -> str:
    """Causal statements about this item (CausalStatement.to_json()), in plain words with their verdict."""
    if not statements:
        return ""
    lines = []
    for s in statements:
        verdict = t_or(f"verdict.{s.get('verdict')}", "verdict.other", language)
        said = (s.get("texts") or {}).get(language)
        if said:  # the causal tool's own sentence: estimand, number, interval and verdict
            badge = f'<span class="wr-badge wr-v-{esc(s.get("verdict"))}">{esc(verdict)}</span>'
            lines.append(f'<li>{esc(said)} {badge}</li>')
            continue
        treatment = _treatment(str(s["behaviour"]), language)
        words = effect_words(float(s.get("estimate") or 0.0), str(s.get("verdict")), language)
        span = (points_range(s["ci_low"], s["ci_high"], language)
                if s.get("ci_low") is not None and s.get("ci_high") is not None else "—")
        verdict = t_or(f"verdict.{s.get('verdict')}", "verdict.other", language)
        scope = t_or(f"causal.scope.{s.get('scope')}", "causal.scope.other", language)
        lines.append(f'<li>{esc(t("causal.line", language, treatment=treatment, estimate=words, range=span))}'
                     f' <span class="wr-badge wr-v-{esc(s.get("verdict"))}">{esc(verdict)}</span>'
                     f' <span class="wr-muted">{esc(scope)}</span></li>')
    return (f'<div class="wr-causal"><h3 class="wr-h3">{esc(t("causal.title", language))}</h3>'
            f'<ul>{"".join(lines)}</ul><p class="wr-note">{esc(t("causal.note", language))}</p></div>')


def explanation_details_html(explanation: dict[str, Any], language: str) -> str:
    """Scores, the prior, every behaviour of the verified set with its contribution, the
    largest contributions and the re-ranking counts, behind a "Details" toggle."""
    items = [t("details.score", language, score=_number(explanation.get("score")),
               prior=_number(explanation.get("prior")), share=_share(explanation.get("prior_share_pct"), language)),
             t("details.events", language, n=int(explanation.get("n_events") or 0),
               supporting=int(explanation.get("n_supporting") or 0),
               lowering=int(explanation.get("n_lowering") or 0))]
    if explanation.get("rank_without_support") is not None:
        items.append(t("details.rank_without", language, rank=explanation["rank_without_support"]))
    if explanation.get("as_of"):
        items.append(t("details.as_of", language, date=date(explanation["as_of"], language, with_year=True)))
    blocks = [_items(items)]
    cf = explanation.get("counterfactual")
    if cf:
        stats = t("details.cf_stats", language, score=_number(cf.get("new_score")),
                  evaluations=int(cf.get("evaluations") or 0))
        blocks.append(f'<h4 class="wr-h4">{esc(t("details.cf_title", language))}</h4>'
                      + _items((_event_line(e, language) for e in cf.get("events") or []), "ol")
                      + f"<p>{esc(stats)}</p>")
    contributions = explanation.get("contributions") or []
    if contributions:
        blocks.append(f'<h4 class="wr-h4">{esc(t("details.contrib_title", language))}</h4>'
                      + _items((_event_line(c, language) for c in contributions), "ol"))
    # Whose effect the number is (shoppers like this one, or all shoppers when the personal
    # number was withheld) goes with it, so a population number never reads as personal.
    causal = [t("details.causal", language, behaviour=behaviour_name(str(s["behaviour"]), language),
                estimate=_signed_points(s.get("estimate")), low=_signed_points(s.get("ci_low")),
                high=_signed_points(s.get("ci_high")),
                scope=t_or(f"causal.scope.{s.get('scope')}", "causal.scope.other", language))
              for s in explanation.get("causal") or []]
    if causal:
        blocks.append(_items(causal))
    return details(t("details.summary", language), "".join(blocks))


def _event_line(event: dict[str, Any], language: str) -> str:
    """One behaviour with its exact contribution (EventContribution.to_json())."""
    return t("details.event_line", language, date=date(event["timestamp"], language, with_year=True),
             behaviour=behaviour_name(str(event["behaviour"]), language), title=quote(str(event["title"]), language),
             contribution=_number(event.get("contribution")), share=_share(event.get("share_pct"), language))


def details(summary: str, body: str, element_id: str = "") -> str:
    """A "Details" toggle (closed): technical numbers stay out of the way until asked for."""
    ident = f' id="{esc(element_id)}"' if element_id else ""
    return f'<details class="wr-details"{ident}><summary>{esc(summary)}</summary><div>{body}</div></details>'


# -- the what-if tab -----------------------------------------------------------------------------
def whatif_label(offered: int, total: int, language: str) -> str:
    """The what-if list's label: it says when it holds only the newest behaviours (an older one an
    explanation names cannot be unticked there; ask in the chat: "what if I hadn't …?")."""
    if total > offered:
        return t("whatif.remove_recent", language, n=f"{offered:,}", total=f"{total:,}")
    return t("whatif.remove", language)


def whatif_choices(events: Sequence[dict[str, Any]], language: str) -> list[tuple[str, str]]:
    """CheckboxGroup choices for the user's events: (label, event key as text)."""
    return [(t("whatif.choice", language, date=_when(e.get("timestamp"), language),
               behaviour=behaviour_name(str(e["behaviour"]), language), title=str(e["title"])),
             str(e["event_key"])) for e in events]


def whatif_text(what_if: dict[str, Any], language: str) -> str:
    """A what-if (WhatIfResult.to_json()) in words: every behaviour taken out or added, then each
    move in the chat's words (``explain.what_if.*``)."""
    removed = joined([do(str(e["behaviour"]), str(e["title"]), language) for e in what_if.get("removed") or []],
                     language)
    added = joined([did(str(e["behaviour"]), str(e["title"]), language) for e in what_if.get("added") or []],
                   language)
    if removed and added:
        lines = [t("whatif.head_both", language, removed=removed, added=added)]
    elif removed:
        lines = [t("whatif.head_removed", language, events=removed)]
    else:
        lines = [t("whatif.head_added", language, events=added)]
    moved = [m for m in what_if.get("moves") or [] if m.get("move") != "same"]
    if not moved:
        lines.append(message("explain.what_if.same", language, k=what_if.get("k")))
    for m in moved:
        title = quote(str(m["title"]), language)
        if m["move"] == "new":
            lines.append(message("explain.what_if.new", language, title=title, rank=m.get("new_rank")))
        elif m["move"] == "dropped":
            lines.append(message("explain.what_if.dropped", language, title=title, rank=m.get("old_rank")))
        else:
            lines.append(message(f"explain.what_if.{m['move']}", language, title=title, old=m.get("old_rank"),
                                 new=m.get("new_rank")))
    return "\n".join(lines)


def whatif_html(what_if: dict[str, Any] | None, language: str, notice: str | None = None) -> str:
    """A what-if's result: the sentence the chat says, and the moves as a small table."""
    if notice:
        return f'<p class="wr-muted">{esc(notice)}</p>'
    if not what_if:
        return f'<p class="wr-muted">{esc(t("whatif.intro", language))}</p>'
    text = whatif_text(what_if, language)
    lines = "".join(f"<p>{esc(line)}</p>" for line in text.split("\n") if line.strip())
    rows = []
    moves = sorted(what_if.get("moves") or [], key=lambda m: (m.get("new_rank") is None, m.get("new_rank") or 0))
    arrows = {"new": "★", "dropped": "✕", "up": "▲", "down": "▼", "same": ""}
    for m in moves:
        move = str(m.get("move"))
        word = t_or(f"whatif.move.{move}", "whatif.move.same", language)
        change = f"{arrows.get(move, '')} {word}".strip()
        rows.append(f'<tr><td>{esc(m["title"])}</td><td class="wr-num">{esc(m.get("old_rank") or "—")}</td>'
                    f'<td class="wr-num">{esc(m.get("new_rank") or "—")}</td>'
                    f'<td class="wr-move wr-move-{esc(move)}">{esc(change)}</td></tr>')
    head = "".join(f'<th scope="col">{esc(t(f"whatif.col.{c}", language))}</th>'
                   for c in ("item", "before", "after", "move"))
    table = (f'<table class="wr-table wr-whatif-table"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>') if rows else ""
    return f'<div class="wr-whatif">{lines}{table}</div>'


# -- the effects tab -----------------------------------------------------------------------------
def effects_html(effects: Sequence[dict[str, Any]], segment: str, language: str, graph: dict[str, Any] | None,
                 note: str = "", loading: bool = False) -> str:
    """Causal effects of behaviours on purchase in plain words with their verdict (everyone: one
    card per behaviour; a segment: one row per group), technical detail behind "Details", and the
    causal graph the estimates rest on, drawn with words from the catalogue."""
    intro = f'<p class="wr-intro">{esc(t("effects.intro", language))}</p>'
    if loading:
        body = f'<p class="wr-loading" aria-busy="true">{esc(t("effects.loading", language))}</p>'
        return f'<div class="wr-effects">{intro}{body}</div>'
    notice = f'<p class="wr-notice wr-notice-info">{esc(note)}</p>' if note else ""
    segment = segment or "all"
    effects = [e for e in effects if str(e.get("segment") or "all") == "all"
               or str(e.get("segment")).startswith(f"{segment}=")]
    if segment == "all":
        body = "".join(_effect_card(e, language) for e in effects) or \
            f'<p class="wr-muted">{esc(t("effects.none", language))}</p>'
        body = f'<div class="wr-effect-cards">{body}</div>'
    else:
        body = _segment_table(effects, segment, language)
    detail = details(t("details.summary", language), _effects_details(effects, language))
    picture = graph_html(graph, language) if graph else ""
    return f'<div class="wr-effects">{intro}{notice}{body}{detail}{picture}</div>'


def _treatment(behaviour: str, language: str) -> str:
    key = f"chat.effects.treatment.{behaviour}"
    return message(key, language) if has_message(key, language) else behaviour_name(behaviour, language)


def _effect_sentence(effect: dict[str, Any], language: str) -> str:
    words = effect_words(float(effect["estimate"]), str(effect.get("verdict")), language)
    span = (points_range(effect["ci_low"], effect["ci_high"], language)
            if effect.get("ci_low") is not None and effect.get("ci_high") is not None else "—")
    sentence = t("effects.sentence", language, estimate=words, range=span)
    return sentence[:1].upper() + sentence[1:]


def verdict_name(verdict: str, language: str) -> str:
    """The badge's words for a causal verdict (supported, inconclusive, cannot_estimate)."""
    return t_or(f"verdict.{verdict}", "verdict.other", language)


def _cannot(effect: dict[str, Any], language: str) -> str:
    """Why there is no estimate: the causal tool's verdict with its reasons (``verdict_words``,
    set by the callbacks in the page's language)."""
    return str(effect.get("verdict_words") or t("verdict.cannot_estimate", language))


def _effect_card(effect: dict[str, Any], language: str) -> str:
    verdict = str(effect.get("verdict") or "cannot_estimate")
    name = _treatment(str(effect["behaviour"]), language)
    measures = (f'<p class="wr-muted">{esc(t("effects.measures", language, estimand=effect["estimand_words"]))}</p>'
                if effect.get("estimand_words") else "")
    if verdict == "cannot_estimate" or effect.get("estimate") is None:
        return (f'<div class="wr-effect wr-v-cannot_estimate"><h3 class="wr-h3">{esc(name)}</h3>'
                f'<p>{esc(_cannot(effect, language))}</p>{measures}</div>')
    # The headline is what the data say: a number only when it is supported; otherwise that the
    # direction is not settled (the estimate stays in the sentence under it, said as an estimate).
    value = (t("effects.value", language, value=_signed_points(float(effect["estimate"])))
             if verdict == "supported" else t("effects.unsettled", language))
    why = (f'<p class="wr-muted">{esc(str(effect["verdict_words"]))}</p>'
           if verdict != "supported" and effect.get("verdict_words") else "")
    return (f'<div class="wr-effect wr-v-{esc(verdict)}"><h3 class="wr-h3">{esc(name)}</h3>'
            f'<p class="wr-effect-value">{esc(value)}</p><p>{esc(_effect_sentence(effect, language))}</p>'
            f'<p><span class="wr-badge wr-v-{esc(verdict)}">{esc(verdict_name(verdict, language))}</span></p>'
            f'{why}{measures}</div>')


def segment_label(segment: str, language: str) -> str:
    """'category=apparel' -> 'apparel' (data as stored); coded values (price band, activity) in words."""
    if segment in ("", "all"):
        return t("effects.everyone", language)
    kind, _, value = segment.partition("=")
    if kind in ("price_band", "activity"):
        return t_or(f"effects.level.{value}", "effects.level.other", language, value=value)
    return value


#: Coded levels (price band, activity) in their own order, not the alphabet's (high, low, mid).
LEVEL_ORDER = {"low": 0, "mid": 1, "high": 2}


def _segment_order(segment: str) -> tuple[bool, int, str]:
    """Everyone first, then levels low → high, then other groups by name."""
    value = segment.partition("=")[2]
    return segment != "all", LEVEL_ORDER.get(value, len(LEVEL_ORDER)), value


def _segment_table(effects: Sequence[dict[str, Any]], segment: str, language: str) -> str:
    behaviours: list[str] = []
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for e in effects:
        seg = str(e.get("segment") or "all")
        if seg != "all" and not seg.startswith(f"{segment}="):
            continue
        if str(e["behaviour"]) not in behaviours:
            behaviours.append(str(e["behaviour"]))
        rows.setdefault(seg, {})[str(e["behaviour"])] = e
    if not rows:
        return f'<p class="wr-muted">{esc(t("effects.none", language))}</p>'
    names = [t_or(f"effects.short.{b}", "effects.short.other", language, behaviour=behaviour_name(b, language))
             for b in behaviours]
    head = "".join(f'<th scope="col">{esc(n)}</th>' for n in [t("effects.col_group", language), *names])
    body = []
    for seg in sorted(rows, key=_segment_order):
        cells = []
        for b in behaviours:
            cell = rows[seg].get(b)
            verdict = str((cell or {}).get("verdict") or "cannot_estimate")
            if cell is None or cell.get("estimate") is None or verdict == "cannot_estimate":
                why = esc(_cannot(cell or {}, language))
                cells.append(f'<td class="wr-num wr-v-cannot_estimate" title="{why}">—</td>')
                continue
            title = esc(str(cell.get("verdict_words") or verdict))
            points = esc(_signed_points(float(cell["estimate"])))
            shown = (f'{points} {MARKS["supported"]}' if verdict == "supported"   # not settled: the mark first
                     else f'{MARKS.get(verdict, "")} <span class="wr-muted">({points})</span>')
            cells.append(f'<td class="wr-num wr-v-{esc(verdict)}" title="{title}">{shown}</td>')
        body.append(f'<tr><th scope="row">{esc(segment_label(seg, language))}</th>{"".join(cells)}</tr>')
    return (f'<table class="wr-table wr-segment-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            f'</table><p class="wr-note">{esc(t("effects.table_note", language))}</p>')


def _effects_details(effects: Sequence[dict[str, Any]], language: str) -> str:
    items = []
    for e in effects:
        group = segment_label(str(e.get("segment") or "all"), language)
        name = f"{group} · {_treatment(str(e['behaviour']), language)}"
        if e.get("estimate") is None:
            items.append(f"<li><b>{esc(name)}</b>: {esc(_cannot(e, language))}</li>")
            continue
        checks = [t("details.check_passed" if r.get("passed") else "details.check_failed", language,
                    name=t_or(f"refuter.{r.get('name')}", "refuter.other", language))
                  for r in e.get("refutations") or []]
        alternatives = [t("details.alternative", language, method=_method(a.get("method"), language),
                          estimate=_signed_points(float(a["estimate"])))
                        for a in e.get("alternatives") or [] if a.get("estimate") is not None]
        text = t("details.effect", language, method=_method(e.get("method"), language),
                 estimate=_signed_points(float(e["estimate"])),
                 low=_signed_points(float(e["ci_low"])) if e.get("ci_low") is not None else "—",
                 high=_signed_points(float(e["ci_high"])) if e.get("ci_high") is not None else "—",
                 n=f"{int(e.get('n') or 0):,}", treated=f"{int(e.get('n_treated') or 0):,}",
                 naive=_signed_points(float(e["naive"])) if e.get("naive") is not None else "—",
                 checks=(message("format.list_comma", language).join(checks) if checks
                         else t("details.checks_none", language)))
        extra = (" " + " ".join(alternatives)) if alternatives else ""
        items.append(f"<li><b>{esc(name)}</b>: {esc(text + extra)}</li>")
    return f'<ul class="wr-effect-details">{"".join(items)}</ul>'


def _method(code: Any, language: str) -> str:
    return t_or(f"method.{code}", "method.other", language)


# -- the causal graph ----------------------------------------------------------------------------
def graph_html(spec: dict[str, Any], language: str) -> str:
    """The causal graph of one decision point (``CausalGraph.to_json()``) as four labelled layers,
    time running left to right: known before the first look → on the item so far → the next
    action → the purchase within the horizon. Every node is named from the catalogue."""
    outcome = str(spec.get("outcome") or "purchase")
    seconds = spec.get("horizon_seconds")

    def node(name: str) -> str:
        label = (t("graph.outcome_node", language, days=f"{float(seconds) / 86400:g}") if name == outcome and seconds
                 else _node_name(name, language))
        return f'<li class="wr-node">{esc(label)}</li>'

    def layer(key: str, names: Sequence[str], cls: str) -> str:
        return (f'<div class="wr-layer wr-layer-{cls}"><h4 class="wr-h4">{esc(t(key, language))}</h4>'
                f'<ul>{"".join(node(str(n)) for n in names)}</ul></div>')

    arrow = '<div class="wr-arrow" aria-hidden="true"></div>'
    caption = esc(t("graph.title", language))
    layers = [layer("graph.before", spec.get("baseline") or [], "before"),
              layer("graph.history", spec.get("history") or [], "history"),
              layer("graph.did", spec.get("behaviours") or [], "did"),
              layer("graph.outcome", [outcome], "outcome")]
    return (f'<figure class="wr-graph" id="causal-graph"><figcaption class="wr-h3">{caption}</figcaption>'
            f'<div class="wr-layers">{arrow.join(layers)}</div>'
            f'<p class="wr-note">{esc(t("graph.caption", language))}</p></figure>')


def _node_name(name: str, language: str) -> str:
    return t_or(f"graph.node.{name}", "graph.node.other", language, name=name)
