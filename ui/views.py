"""Turn the tools' JSON results into what the page shows: markdown, tables, chart data.

Pure functions of plain data (the ``to_json()`` forms), no Gradio: the callbacks use them and the
tests call them directly. Numbers are shown as the tools rounded them; nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .i18n import behaviour_name, label, reason_text

CHART_COLUMNS = ("label", "contribution", "behaviour")
CHART_LABEL_CHARS = 42
#: Bar colours by behaviour (the same in both languages: the chart's colour column is English).
CHART_COLOURS: dict[str, str] = {"view": "#9ecae1", "click": "#6baed6", "favourite": "#fd8d3c",
                                 "cart": "#3182bd", "purchase": "#31a354", "rating": "#756bb1",
                                 "prior": "#bdbdbd", "other": "#d9d9d9"}


def _escape(text: Any) -> str:
    """Markdown-safe text (titles come from the catalog)."""
    out = str(text)
    for ch in "\\`*_[]<>|#":
        out = out.replace(ch, "\\" + ch)
    return out


def _short(text: str, limit: int = CHART_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- recommendation cards ----------------------------------------------------------------------
def card_markdown(item: dict[str, Any], language: str) -> str:
    """One recommendation card: rank and title, its category, and its verified reason (worded
    by the agent's renderer in both languages when the answer arrived: ``reason_text``)."""
    lines = [f"**{item['rank']}. {_escape(item['title'])}**"]
    if item.get("category"):
        lines.append(_escape(category_name(item["category"])))
    reason = (item.get("reason_text") or {}).get(language)
    if reason:
        lines.append(f"<small>{_escape(reason)}</small>")
    return "\n\n".join(lines)


# -- the explanation panel --------------------------------------------------------------------
def explanation_heading(explanation: dict[str, Any] | None, language: str) -> str:
    if not explanation:
        return label("explain_empty", language)
    zh = language == "zh"
    title = _escape(explanation["title"])
    if explanation.get("why_not") or explanation.get("rank") is None:
        why_not = explanation.get("why_not") or {}
        rank = why_not.get("rank")
        where = (f"（第 {rank} 名）" if zh else f" (rank {rank})") if rank else ""
        return (f"### “{title}” 不在前 {explanation['k']} 名推荐中{where}" if zh else
                f"### '{title}' is not in the top {explanation['k']}{where}")
    prior = f"{explanation['prior']:.4f} ({explanation['prior_share_pct']:.1f}%)"
    if zh:
        return (f"### 为什么推荐“{title}”？\n前 {explanation['k']} 名中的第 **{explanation['rank']}** 名 · "
                f"得分 {explanation['score']:.4f} = 热度先验 {prior} + 用户 {explanation['n_events']} 个行为的贡献")
    return (f"### Why '{title}'?\nRank **{explanation['rank']}** of the top {explanation['k']} · "
            f"score {explanation['score']:.4f} = popularity prior {prior} + the contributions of the "
            f"user's {explanation['n_events']} behaviours")


def chart_frame(explanation: dict[str, Any] | None, language: str) -> pd.DataFrame:
    """The contribution chart's data: one row per bar (repeated behaviours on one item grouped),
    largest first, labels unique."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for bar in (explanation or {}).get("chart") or []:
        kind = str(bar.get("kind", "event"))
        behaviour = "prior" if kind == "prior" else "other" if kind == "other" else str(bar.get("behaviour"))
        if kind in ("prior", "other"):
            name = behaviour_name(behaviour, language)
        else:
            name = f"{behaviour_name(behaviour, language)}: {bar.get('title', '')}"
            if int(bar.get("count") or 1) > 1:
                name += f" ×{int(bar['count'])}"
        name = _short(name)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # the same behaviour on the same item twice: keep both bars
            name = f"{name} ({seen[name]})"
        rows.append({"label": name, "contribution": float(bar.get("value") or 0.0), "behaviour": behaviour})
    return pd.DataFrame(rows, columns=list(CHART_COLUMNS))


def counterfactual_markdown(explanation: dict[str, Any] | None, language: str) -> str:
    """"Without these, X drops to #n and Y takes its place", with the events and the checks."""
    if not explanation:
        return ""
    zh = language == "zh"
    title = _escape(explanation["title"])
    cf = explanation.get("counterfactual")
    if explanation.get("why_not") is not None:
        return ""
    if not cf:
        reason = reason_text(str(explanation.get("reason", "")), language)
        return (f"**反事实：** 没有能让它掉出推荐的行为集合 —— {reason}。" if zh else
                f"**Counterfactual:** no set of the user's behaviours drops it — {reason}.")
    n = int(cf["size"])
    rank = cf.get("new_rank")
    replacement = cf.get("replacement")
    if zh:
        drop = f"“{title}”将降至第 **{rank}** 名" if rank else f"“{title}”将不再被推荐"
        swap = f"，由“{_escape(replacement['title'])}”取代它的位置" if replacement else ""
        head = f"**如果没有这 {n} 个行为**，{drop}{swap}。"
        checks = ["已通过重新排序验证" if cf.get("verified") else "未验证"]
        if cf.get("proven_minimal"):
            checks.append("已证明是最小集合")
    else:
        drop = f"'{title}' drops to **#{rank}**" if rank else f"'{title}' drops out of the list"
        swap = f" and '{_escape(replacement['title'])}' takes its place" if replacement else ""
        head = f"**Without these {n} behaviour{'s' if n != 1 else ''}**, {drop}{swap}."
        checks = ["verified by re-ranking" if cf.get("verified") else "not verified"]
        if cf.get("proven_minimal"):
            checks.append("provably the smallest such set")
    events = [f"- {e.get('date', '')} · {behaviour_name(e['behaviour'], language)} · "
              f"{_escape(e['title'])} ({e['contribution']:+.4f})" for e in cf.get("events", [])]
    return "\n".join([head, "", *events, "", f"<small>✓ {' · '.join(checks)}</small>"])


def causal_frame(statements: Iterable[dict[str, Any]], language: str) -> pd.DataFrame:
    """The explanation's causal statements (CausalStatement.to_json() rows): only effects about
    the explained item itself, with their estimand and verdict."""
    zh = language == "zh"
    cols = (["行为", "效应", "95% 区间", "结论", "含义"] if zh else
            ["behaviour", "effect", "95% interval", "verdict", "what it means"])
    rows = []
    for c in statements:
        rows.append([behaviour_name(c["behaviour"], language), f"{100 * c['estimate']:+.1f}",
                     f"{100 * c['ci_low']:+.1f} .. {100 * c['ci_high']:+.1f}" if c.get("ci_low") is not None else "—",
                     c.get("verdict", ""), c.get("estimand", "")])
    return pd.DataFrame(rows, columns=cols)


def category_name(category: str) -> str:
    """'garden.plants.planter' -> 'planter'."""
    return str(category).split(",")[0].strip().split(".")[-1].replace("_", " ")


# -- the effects tab ---------------------------------------------------------------------------
def behaviour_effects_frame(effects: Iterable[dict[str, Any]], language: str) -> pd.DataFrame:
    """The causal report's effects (BehaviourEffect.to_json() rows), one per behaviour and segment."""
    zh = language == "zh"
    cols = (["分组", "行为", "效应", "95% 区间", "朴素差异", "方法", "n", "反驳检验", "状态"] if zh else
            ["segment", "behaviour", "effect", "95% interval", "naive", "method", "n", "refutations", "status"])
    rows = []
    for e in effects:
        ok = e.get("status") == "ok" and e.get("estimate") is not None
        refutations = e.get("refutations") or []
        failed = [r["name"] for r in refutations if not r.get("passed")]
        if not refutations:
            refuted = "未运行" if zh else "not run"
        elif failed:
            refuted = ("未通过：" if zh else "REFUTED: ") + ", ".join(failed)
        else:
            refuted = (f"{len(refutations)} 项通过" if zh else f"{len(refutations)} passed")
        rows.append([e.get("segment", "all"), behaviour_name(e["behaviour"], language),
                     f"{e['estimate']:+.3f}" if ok else "—",
                     f"{e['ci_low']:+.3f} .. {e['ci_high']:+.3f}" if ok and e.get("ci_low") is not None else "—",
                     f"{e['naive']:+.3f}" if e.get("naive") is not None else "—",
                     e.get("method") or "—", int(e.get("n") or 0), refuted if ok else "—",
                     ("已估计" if zh else "estimated") if ok else str(e.get("reason", ""))])
    return pd.DataFrame(rows, columns=cols)


# -- the user's history and the what-if control ------------------------------------------------
def history_frame(history: pd.DataFrame, language: str) -> pd.DataFrame:
    """``user_history()`` rows as a small table: when, behaviour, item."""
    zh = language == "zh"
    cols = ["时间", "行为", "商品"] if zh else ["when", "behaviour", "item"]
    if history is None or history.empty:
        return pd.DataFrame(columns=cols)
    when = pd.to_datetime(history["timestamp"], utc=True).dt.strftime("%Y-%m-%d")
    return pd.DataFrame({cols[0]: when.to_numpy(),
                         cols[1]: [behaviour_name(str(b), language) for b in history["behaviour"]],
                         cols[2]: [str(t) for t in history["title"]]})


def whatif_choices(history: pd.DataFrame, language: str) -> list[tuple[str, str]]:
    """CheckboxGroup choices for the user's events: (label, event key as text)."""
    if history is None or history.empty:
        return []
    when = pd.to_datetime(history["timestamp"], utc=True).dt.strftime("%Y-%m-%d")
    return [(f"{d} · {behaviour_name(str(b), language)} · {t}", str(int(k)))
            for d, b, t, k in zip(when, history["behaviour"], history["title"], history["event_key"])]


def whatif_frame(result: dict[str, Any] | None, language: str) -> pd.DataFrame:
    """Old and new top-k side by side, from WhatIfResult.to_json()."""
    zh = language == "zh"
    cols = ["商品", "原排名", "新排名", "变化"] if zh else ["item", "rank before", "rank after", "move"]
    if not result:
        return pd.DataFrame(columns=cols)
    words = ({"new": "新进入", "dropped": "跌出", "up": "上升", "down": "下降", "same": "不变"} if zh else
             {"new": "new", "dropped": "dropped out", "up": "up", "down": "down", "same": "same"})
    arrows = {"new": "★ ", "dropped": "✕ ", "up": "▲ ", "down": "▼ ", "same": ""}
    rows = []
    for m in result.get("moves", []):
        rows.append([f"{m['title']} ({m['item_id']})",
                     m["old_rank"] if m.get("old_rank") is not None else "—",
                     m["new_rank"] if m.get("new_rank") is not None else "—",
                     arrows.get(m["move"], "") + words.get(m["move"], m["move"])])
    rows.sort(key=lambda r: (r[2] == "—", r[2] if r[2] != "—" else 0))
    return pd.DataFrame(rows, columns=cols)


def status_markdown(backend: str, offline: bool, stats: dict[str, Any] | None, language: str,
                    fallback: str | None = None) -> str:
    """The status line: the active LLM backend, the workspace size, and the last answer's fallback."""
    parts = [label("backend", language, name=backend)]
    if offline:
        parts.append(label("offline_note", language))
    if stats:
        parts.append(label("workspace", language, users=stats.get("users", 0),
                           items=stats.get("catalog_items", 0), events=stats.get("events", 0)))
    line = " · ".join(parts)
    if fallback == "llm_unavailable":
        line += f"\n\n⚠️ {label('fallback_llm', language)}"
    elif fallback == "guard":
        line += f"\n\n⚠️ {label('fallback_guard', language)}"
    return line
