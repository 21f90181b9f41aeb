"""Result objects of the explainer: why an item is (or is not) recommended, and what-if re-rankings.

Each has ``to_text(language="en"|"zh")`` (compact, numbers at fixed precision) and
``to_json()`` (the same numbers, rounded the same way, plus the chart data for the UI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import text as t

EXCLUDE_SEEN_NOTE = ("exclude_seen=True: items in the (hypothetical) history are never "
                     "recommended, as in the recommend tool")


@dataclass(frozen=True)
class RankedItem:
    """One item in a ranking (1-based rank; ``None`` when outside the list)."""

    item_id: str
    title: str
    score: float
    rank: int | None

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "score": t.rounded(self.score),
                "rank": self.rank}


@dataclass(frozen=True)
class EventContribution:
    """One past behaviour of the user and what it adds to the item's score."""

    event_key: int
    behaviour: str
    item_id: str
    title: str
    timestamp: Any  # pd.Timestamp (UTC)
    contribution: float
    share: float    # contribution / (|prior| + sum |contributions|)

    def describe(self, language: str = "en") -> str:
        """``added to cart 'Y' (item 7) on 2024-01-14``."""
        when = t.day(self.timestamp)
        if language == "zh":
            return f"{when} {t.verb(self.behaviour, language)}{t.quoted(self.title, self.item_id, language)}"
        return f"{t.verb(self.behaviour, language)} {t.quoted(self.title, self.item_id, language)} on {when}"

    def to_text(self, language: str = "en") -> str:
        return (f"{self.describe(language)}: {t.signed(self.contribution)} "
                f"({t.percent(self.share)})")

    def to_json(self) -> dict[str, Any]:
        # Event keys are 64-bit: as JSON strings, so JavaScript clients keep every digit.
        return {"event_key": str(int(self.event_key)), "behaviour": self.behaviour,
                "item_id": self.item_id, "title": self.title,
                "timestamp": t.clean(self.timestamp), "date": t.day(self.timestamp),
                "contribution": t.rounded(self.contribution), "share_pct": t.share_pct(self.share)}


@dataclass(frozen=True)
class BehaviourTotal:
    """The summed contribution of all the user's events of one behaviour type."""

    behaviour: str
    events: int
    contribution: float
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "events": self.events,
                "contribution": t.rounded(self.contribution), "share_pct": t.share_pct(self.share)}


@dataclass(frozen=True)
class ChartBar:
    """One bar of the UI's contribution chart."""

    label: str
    behaviour: str   # behaviour type, or "prior" for the popularity/catalog term, "other"
    value: float

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "behaviour": self.behaviour, "value": t.rounded(self.value)}


@dataclass(frozen=True)
class Counterfactual:
    """A smallest set of the user's events whose removal drops the item out of the top-k.

    ``verified`` means the ranker itself re-ranked the history without these events and the item
    was not in the top-k; ``exact`` means no smaller set of supporting events exists.
    """

    events: tuple[EventContribution, ...]
    verified: bool
    exact: bool
    new_rank: int | None
    new_score: float
    replacement: RankedItem | None
    evaluations: int

    @property
    def event_keys(self) -> tuple[int, ...]:
        return tuple(e.event_key for e in self.events)

    def to_json(self) -> dict[str, Any]:
        return {"event_keys": [str(int(k)) for k in self.event_keys], "size": len(self.events),
                "events": [e.to_json() for e in self.events], "verified": self.verified,
                "exact": self.exact, "new_rank": self.new_rank,
                "new_score": t.rounded(self.new_score),
                "replacement": None if self.replacement is None else self.replacement.to_json(),
                "evaluations": self.evaluations}


@dataclass(frozen=True)
class PopulationEffect:
    """The causal tool's estimate for one behaviour type, across the whole population."""

    behaviour: str          # the user's behaviour type
    effect_behaviour: str   # the treatment in the causal report it maps to (click -> view)
    outcome: str
    status: str             # "ok", "cannot_estimate" or "missing"
    reason: str
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str | None = None
    n: int = 0
    refutation: str = "not run"   # "passed", "refuted" or "not run"

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.estimate is not None

    def to_text(self, language: str = "en") -> str:
        if not self.ok:
            if language == "zh":
                return f"{t.noun(self.behaviour, language)}：无法估计（{self.reason}）"
            return f"{t.noun(self.behaviour, language)}: no population estimate ({self.reason})"
        interval = (f"{t.signed(self.ci_low, t.EFFECT_DIGITS)}..{t.signed(self.ci_high, t.EFFECT_DIGITS)}")
        estimate = t.signed(self.estimate, t.EFFECT_DIGITS)
        if language == "zh":
            refuted = {"passed": "通过反驳检验", "refuted": "未通过反驳检验",
                       "not run": "未做反驳检验"}[self.refutation]
            return (f"在所有用户中，{t.noun(self.effect_behaviour, language)}使{self.outcome}概率变化 "
                    f"{estimate}（95% 区间 {interval}；{refuted}；n={self.n}）")
        return (f"across shoppers, {t.noun(self.effect_behaviour, language)} changes "
                f"P({self.outcome}) by {estimate} (95% CI {interval}; refutations {self.refutation}; "
                f"n={self.n})")

    def to_json(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "effect_behaviour": self.effect_behaviour,
                "outcome": self.outcome, "status": self.status, "reason": self.reason,
                "estimate": t.rounded(self.estimate, t.EFFECT_DIGITS),
                "ci_low": t.rounded(self.ci_low, t.EFFECT_DIGITS),
                "ci_high": t.rounded(self.ci_high, t.EFFECT_DIGITS), "method": self.method,
                "n": self.n, "refutation": self.refutation}


@dataclass(frozen=True)
class SuggestedAddition:
    """One behaviour on an item the user has seen that would bring the target into the top-k."""

    item_id: str
    title: str
    behaviour: str
    new_rank: int
    new_score: float
    verified: bool

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "behaviour": self.behaviour,
                "new_rank": self.new_rank, "new_score": t.rounded(self.new_score),
                "verified": self.verified}


#: Why an item is not in the top-k.
WHY_NOT_REASONS: dict[str, str] = {
    "seen": "the user already interacted with it, and recommendations exclude seen items",
    "filtered": "the filters of the request exclude it",
    "outranked": "other items score higher",
    "in_top_k": "it is in the top-k",
}


@dataclass(frozen=True)
class WhyNot:
    """Why an item is not in the user's top-k, and the smallest change that would bring it in."""

    user_id: str
    item_id: str
    title: str
    k: int
    reason: str                 # a key of WHY_NOT_REASONS
    rank: int | None            # 1-based rank among eligible items (None if excluded)
    score: float
    prior: float
    cutoff: RankedItem | None   # the k-th item, the one it has to beat
    contributions: tuple[EventContribution, ...]
    seen_behaviours: tuple[str, ...] = ()
    addition: SuggestedAddition | None = None
    options: int = 0            # how many single additions would bring it in
    exclude_seen: bool = True

    @property
    def gap(self) -> float | None:
        """How much the item's score falls short of the k-th item's."""
        return None if self.cutoff is None else self.cutoff.score - self.score

    def to_text(self, language: str = "en") -> str:
        language = t.check_language(language)
        name = t.quoted(self.title, self.item_id, language)
        if language == "zh":
            return self._zh(name)
        if self.reason == "in_top_k":
            return f"{name} is in the top {self.k} for user {self.user_id} (rank {self.rank})."
        if self.reason == "seen":
            done = ", ".join(t.verb(b, language) for b in self.seen_behaviours) or "interacted with"
            return (f"{name} is not recommended to user {self.user_id} because they already "
                    f"{done} it: recommendations exclude items the user has interacted with.")
        if self.reason == "filtered":
            return f"{name} is not recommended: the request's filters exclude it."
        lines = [f"{name} is not in the top {self.k} for user {self.user_id}: it ranks "
                 f"{self.rank} with score {t.score(self.score)} (prior {t.score(self.prior)})."]
        if self.cutoff is not None:
            lines.append(f"It would have to beat {t.quoted(self.cutoff.title, self.cutoff.item_id, language)} "
                         f"at rank {self.k} (score {t.score(self.cutoff.score)}), a gap of "
                         f"{t.score(self.gap)}.")
        if self.contributions:
            lines.append("Its support from the user's history: " + "; ".join(
                c.to_text(language) for c in self.contributions[:3]) + ".")
        else:
            lines.append("None of the user's behaviours supports it.")
        if self.addition is not None:
            a = self.addition
            lines.append(f"Smallest change that brings it in: one more '{a.behaviour}' on "
                         f"{t.quoted(a.title, a.item_id, language)} would move it to rank "
                         f"{a.new_rank} (score {t.score(a.new_score)}; "
                         f"{'verified by re-ranking' if a.verified else 'not verified'}).")
        else:
            lines.append("No single added behaviour on an item the user has seen would bring it "
                         f"into the top {self.k}.")
        return "\n".join(lines)

    def _zh(self, name: str) -> str:
        if self.reason == "in_top_k":
            return f"{name}在用户 {self.user_id} 的前 {self.k} 名推荐中（第 {self.rank} 名）。"
        if self.reason == "seen":
            done = "、".join(t.verb(b, "zh") for b in self.seen_behaviours) or "接触过"
            return f"没有向用户 {self.user_id} 推荐{name}，因为该用户已经{done}它：推荐会排除用户接触过的商品。"
        if self.reason == "filtered":
            return f"没有推荐{name}：请求的筛选条件排除了它。"
        lines = [f"{name}不在用户 {self.user_id} 的前 {self.k} 名中：排第 {self.rank} 名，"
                 f"得分 {t.score(self.score)}（先验 {t.score(self.prior)}）。"]
        if self.cutoff is not None:
            lines.append(f"它需要超过第 {self.k} 名的{t.quoted(self.cutoff.title, self.cutoff.item_id, 'zh')}"
                         f"（得分 {t.score(self.cutoff.score)}），差距 {t.score(self.gap)}。")
        if self.contributions:
            lines.append("来自用户历史的支持：" + "；".join(
                c.to_text("zh") for c in self.contributions[:3]) + "。")
        else:
            lines.append("用户的行为都不支持它。")
        if self.addition is not None:
            a = self.addition
            lines.append(f"最小的改变：对{t.quoted(a.title, a.item_id, 'zh')}再{t.noun(a.behaviour, 'zh')}一次，"
                         f"它将升至第 {a.new_rank} 名（得分 {t.score(a.new_score)}；"
                         f"{'已重新排序验证' if a.verified else '未验证'}）。")
        else:
            lines.append(f"在用户看过的商品上增加任何单个行为都无法让它进入前 {self.k} 名。")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "why_not", "user_id": self.user_id, "item_id": self.item_id,
                "title": self.title, "k": self.k, "reason": self.reason,
                "reason_text": WHY_NOT_REASONS[self.reason], "rank": self.rank,
                "score": t.rounded(self.score), "prior": t.rounded(self.prior),
                "cutoff": None if self.cutoff is None else self.cutoff.to_json(),
                "gap": t.rounded(self.gap),
                "contributions": [c.to_json() for c in self.contributions],
                "seen_behaviours": list(self.seen_behaviours),
                "addition": None if self.addition is None else self.addition.to_json(),
                "options": self.options, "exclude_seen": self.exclude_seen,
                "note": EXCLUDE_SEEN_NOTE}


#: Why an item is (or is not) explained by the user's history.
EXPLANATION_REASONS: dict[str, str] = {
    "history": "its place in the top-k rests on the user's behaviours",
    "no_support": "none of the user's behaviours supports it: it comes from the popularity/"
                  "catalog prior alone",
    "popularity": "it stays in the top-k even without every behaviour that supports it: it comes "
                  "from popularity/catalog match",
    "unverified": "no removal set survived verification by re-ranking",
    "not_in_top_k": "it is not in the top-k",
}


@dataclass(frozen=True)
class Explanation:
    """Why ``item_id`` is recommended to ``user_id`` — exact contributions, a verified
    counterfactual, and the population effect of each behaviour type involved."""

    user_id: str
    item_id: str
    title: str
    k: int
    rank: int | None              # 1-based rank in the top-k, None when not in it
    score: float
    prior: float
    prior_share: float
    contributions: tuple[EventContribution, ...]   # the largest, up to the explainer's limit
    n_events: int
    n_supporting: int             # events with a positive contribution
    by_behaviour: tuple[BehaviourTotal, ...]
    chart: tuple[ChartBar, ...]
    counterfactual: Counterfactual | None
    effects: tuple[PopulationEffect, ...]
    explained_by_history: bool
    reason: str                   # a key of EXPLANATION_REASONS
    why_not: WhyNot | None = None
    rank_without_support: int | None = None   # rank with every supporting event removed
    as_of: Any = None             # the fixed clock of every counterfactual
    exclude_seen: bool = True

    @property
    def in_top_k(self) -> bool:
        return self.rank is not None

    def to_text(self, language: str = "en") -> str:
        language = t.check_language(language)
        if self.why_not is not None:
            return self.why_not.to_text(language)
        return self._zh() if language == "zh" else self._en()

    def _en(self) -> str:
        name = t.quoted(self.title, self.item_id, "en")
        lines = [f"Why {name} is recommended to user {self.user_id}: rank {self.rank} of the top "
                 f"{self.k}, score {t.score(self.score)} = prior {t.score(self.prior)} "
                 f"({t.percent(self.prior_share)}, popularity/catalog) + the user's behaviours."]
        if self.contributions:
            lines.append("Largest contributions: " + "; ".join(
                f"{n}. {c.to_text('en')}" for n, c in enumerate(self.contributions[:5], 1)) + ".")
        if self.by_behaviour:
            lines.append("By behaviour: " + ", ".join(
                f"{b.behaviour} x{b.events} {t.signed(b.contribution)} ({t.percent(b.share)})"
                for b in self.by_behaviour) + ".")
        cf = self.counterfactual
        if cf is not None:
            removed = "; ".join(e.describe("en") for e in cf.events)
            after = f"it would fall to rank {cf.new_rank}" if cf.new_rank else "it would fall out"
            replaced = (f" and {t.quoted(cf.replacement.title, cf.replacement.item_id, 'en')} would "
                        f"take its place" if cf.replacement is not None else "")
            check = "verified by re-ranking" if cf.verified else "NOT verified"
            lines.append(f"Counterfactual ({len(cf.events)} behaviour(s), {check}"
                         f"{', provably smallest' if cf.exact else ''}): without {removed}, "
                         f"{after} (score {t.score(cf.new_score)}){replaced}.")
        if cf is not None and len(cf.events) > 1 and cf.exact:
            lines.append(f"No single behaviour is enough on its own: it takes these {len(cf.events)} "
                         "together.")
        if not self.explained_by_history:
            lines.append(f"No behaviour of the user explains it: {EXPLANATION_REASONS[self.reason]}"
                         + (f" (still rank {self.rank_without_support} without them)"
                            if self.rank_without_support else "") + ".")
        for effect in self.effects:
            text = effect.to_text("en")
            lines.append(text[:1].upper() + text[1:] + ".")
        return "\n".join(lines)

    def _zh(self) -> str:
        name = t.quoted(self.title, self.item_id, "zh")
        lines = [f"为什么向用户 {self.user_id} 推荐{name}：前 {self.k} 名中的第 {self.rank} 名，"
                 f"得分 {t.score(self.score)} = 先验 {t.score(self.prior)}（{t.percent(self.prior_share)}，"
                 f"热度/目录）+ 用户行为。"]
        if self.contributions:
            lines.append("贡献最大的行为：" + "；".join(
                f"{n}. {c.to_text('zh')}" for n, c in enumerate(self.contributions[:5], 1)) + "。")
        if self.by_behaviour:
            lines.append("按行为类型：" + "，".join(
                f"{t.noun(b.behaviour, 'zh')} x{b.events} {t.signed(b.contribution)}（{t.percent(b.share)}）"
                for b in self.by_behaviour) + "。")
        cf = self.counterfactual
        if cf is not None:
            removed = "；".join(e.describe("zh") for e in cf.events)
            after = f"它将降至第 {cf.new_rank} 名" if cf.new_rank else "它将不再被推荐"
            replaced = (f"，由{t.quoted(cf.replacement.title, cf.replacement.item_id, 'zh')}取代"
                        if cf.replacement is not None else "")
            check = "已重新排序验证" if cf.verified else "未验证"
            lines.append(f"反事实（{len(cf.events)} 个行为，{check}{'，已证明最小' if cf.exact else ''}）："
                         f"如果没有{removed}，{after}（得分 {t.score(cf.new_score)}）{replaced}。")
        if cf is not None and len(cf.events) > 1 and cf.exact:
            lines.append(f"没有任何单个行为足以单独解释它：需要这 {len(cf.events)} 个行为共同作用。")
        if not self.explained_by_history:
            zh = {"no_support": "用户的行为都不支持它，它完全来自热度/目录先验",
                  "popularity": "即使去掉所有支持它的行为，它仍在前 {k} 名中，它来自热度/目录匹配",
                  "unverified": "没有通过重新排序验证的反事实集合",
                  "not_in_top_k": "它不在前 {k} 名中"}.get(self.reason, self.reason)
            extra = (f"（去掉后仍排第 {self.rank_without_support} 名）"
                     if self.rank_without_support else "")
            lines.append(f"没有用户行为能解释它：{zh.format(k=self.k)}{extra}。")
        for effect in self.effects:
            lines.append(effect.to_text("zh") + "。")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "explanation", "user_id": self.user_id, "item_id": self.item_id,
                "title": self.title, "k": self.k, "rank": self.rank, "in_top_k": self.in_top_k,
                "score": t.rounded(self.score), "prior": t.rounded(self.prior),
                "prior_share_pct": t.share_pct(self.prior_share),
                "contributions": [c.to_json() for c in self.contributions],
                "n_events": self.n_events, "n_supporting": self.n_supporting,
                "by_behaviour": [b.to_json() for b in self.by_behaviour],
                "chart": [b.to_json() for b in self.chart],
                "counterfactual": None if self.counterfactual is None else self.counterfactual.to_json(),
                "effects": [e.to_json() for e in self.effects],
                "explained_by_history": self.explained_by_history, "reason": self.reason,
                "reason_text": EXPLANATION_REASONS[self.reason],
                "rank_without_support": self.rank_without_support,
                "why_not": None if self.why_not is None else self.why_not.to_json(),
                "as_of": t.clean(self.as_of), "exclude_seen": self.exclude_seen,
                "note": EXCLUDE_SEEN_NOTE}


@dataclass(frozen=True)
class RankMove:
    """How one item moved between the old and the new top-k."""

    item_id: str
    title: str
    old_rank: int | None
    new_rank: int | None

    @property
    def move(self) -> str:
        if self.old_rank is None:
            return "new"
        if self.new_rank is None:
            return "dropped"
        return "up" if self.new_rank < self.old_rank else "down" if self.new_rank > self.old_rank else "same"

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "old_rank": self.old_rank,
                "new_rank": self.new_rank, "move": self.move}


@dataclass(frozen=True)
class HypotheticalEvent:
    """An event added (or removed) in a what-if."""

    item_id: str
    title: str
    behaviour: str
    event_key: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "behaviour": self.behaviour,
                "event_key": None if self.event_key is None else str(int(self.event_key))}


@dataclass(frozen=True)
class WhatIfResult:
    """The user's top-k before and after a hypothetical change of their history."""

    user_id: str
    k: int
    removed: tuple[HypotheticalEvent, ...]
    added: tuple[HypotheticalEvent, ...]
    before: tuple[RankedItem, ...]
    after: tuple[RankedItem, ...]
    moves: tuple[RankMove, ...]
    as_of: Any = None
    exclude_seen: bool = True

    @property
    def changed(self) -> bool:
        return [r.item_id for r in self.before] != [r.item_id for r in self.after]

    def to_text(self, language: str = "en") -> str:
        language = t.check_language(language)
        zh = language == "zh"

        def events(items: tuple[HypotheticalEvent, ...]) -> str:
            sep = "；" if zh else "; "
            return sep.join(f"{t.verb(e.behaviour, language)}{'' if zh else ' '}"
                            f"{t.quoted(e.title, e.item_id, language)}" for e in items)

        change = []
        if self.removed:
            change.append(("去掉：" if zh else "without: ") + events(self.removed))
        if self.added:
            change.append(("增加：" if zh else "adding: ") + events(self.added))
        head = (f"假如（用户 {self.user_id}）" if zh else f"What if (user {self.user_id}) ") + \
            (("，".join(change) if zh else ", ".join(change)) or ("不做改变" if zh else "nothing changes"))
        lines = [head]
        lines.append(("新的前 {k} 名：" if zh else "New top {k}: ").format(k=self.k) + ", ".join(
            f"{r.rank}. {r.title} ({r.item_id}, {t.score(r.score)})" for r in self.after))
        moved = [m for m in self.moves if m.move != "same"]
        if not moved:
            lines.append("排名没有变化。" if zh else "The ranking is unchanged.")
        for m in moved:
            name = t.quoted(m.title, m.item_id, language)
            if zh:
                text = {"new": f"{name}进入第 {m.new_rank} 名",
                        "dropped": f"{name}跌出前 {self.k} 名（原第 {m.old_rank} 名）",
                        "up": f"{name}从第 {m.old_rank} 名升至第 {m.new_rank} 名",
                        "down": f"{name}从第 {m.old_rank} 名降至第 {m.new_rank} 名"}[m.move]
            else:
                text = {"new": f"{name} enters at rank {m.new_rank}",
                        "dropped": f"{name} drops out (was rank {m.old_rank})",
                        "up": f"{name} moves up from rank {m.old_rank} to {m.new_rank}",
                        "down": f"{name} moves down from rank {m.old_rank} to {m.new_rank}"}[m.move]
            lines.append("- " + text)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "what_if", "user_id": self.user_id, "k": self.k,
                "removed": [e.to_json() for e in self.removed],
                "added": [e.to_json() for e in self.added],
                "before": [r.to_json() for r in self.before],
                "after": [r.to_json() for r in self.after],
                "moves": [m.to_json() for m in self.moves], "changed": self.changed,
                "as_of": t.clean(self.as_of), "exclude_seen": self.exclude_seen,
                "note": EXCLUDE_SEEN_NOTE}
