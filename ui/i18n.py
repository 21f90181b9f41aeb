"""The UI's own words in English and Chinese (the agent words its answers itself).

>>> label("why", "zh")
'为什么？'
"""

from __future__ import annotations

LANGUAGES: tuple[tuple[str, str], ...] = (("English", "en"), ("中文", "zh"))

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "## whyrec — recommendations explained by your own behaviours",
        "subtitle": "Pick a user, ask for recommendations, then press **Why?** on a card to see which of "
                    "the user's views, favourites, carts and purchases made the pick — checked by re-ranking.",
        "user_search": "Find a user",
        "user_search_placeholder": "type part of a user id and press Enter",
        "user_picker": "User",
        "language": "Language",
        "history": "Recent behaviours",
        "chat": "Chat",
        "chat_placeholder": "Pick a user, then press “Recommend for me” or ask something like "
                            "“why the first one?” or “what if I hadn't added it to my cart?”",
        "input_placeholder": "Ask about recommendations, your behaviours, or what-ifs…",
        "send": "Send",
        "recommend": "Recommend for me",
        "recommend_message": "Recommend 5 items for me",
        "why_message": "Why did you recommend item {item_id}?",
        "cards": "### Recommendations",
        "no_cards": "_No recommendations yet: press “Recommend for me”._",
        "why": "Why?",
        "tab_explain": "Explanation",
        "tab_whatif": "What if",
        "tab_effects": "Effects",
        "explain_empty": "_Press **Why?** on a recommendation to see its explanation here._",
        "chart": "Contribution of each behaviour to the score",
        "chart_empty": "_No behaviour of this user contributes to this item's score._",
        "effects_in_explanation": "Causal effects about this item",
        "whatif_intro": "Untick behaviours to remove them from the history (or add one below), then "
                        "press **Re-rank** to see how the recommendations change.",
        "whatif_remove": "The user's behaviours (untick to remove)",
        "whatif_item": "Add a behaviour on item (optional)",
        "whatif_behaviour": "Behaviour to add",
        "whatif_run": "Re-rank",
        "whatif_nothing": "Untick a behaviour or choose one to add, then press **Re-rank**.",
        "effects_intro": "The causal graph the effects are estimated on (confounders → behaviours → "
                         "purchase), and the estimated effect of each behaviour on the chance of "
                         "purchase, with 95% intervals and refutation tests (DoWhy).",
        "segment": "Effects by segment",
        "effects_refresh": "Show effects",
        "graph": "Causal graph",
        "pick_user_first": "Pick a user first (search by id on the left).",
        "unknown_user": "Unknown user {user_id!r}: no behaviours recorded for this user in this workspace.",
        "no_match": "No user id contains {query!r}.",
        "matches": "{n} matching user(s); pick one from the list.",
        "history_of": "**{user_id}** · {n} behaviours",
        "tools": "Tools used",
        "failed": "Sorry, that did not work: {error}",
        "backend": "**LLM backend:** {name}",
        "offline_note": "no LLM is configured — answers are composed from the tool results",
        "fallback_llm": "the LLM did not answer, so the last reply was composed offline from the tool results",
        "fallback_guard": "the model's reply cited numbers or titles not in the tool results, so the composed "
                          "reply was shown instead",
        "workspace": "{users:,} users · {items:,} items · {events:,} events",
    },
    "zh": {
        "title": "## whyrec —— 用你自己的行为解释推荐",
        "subtitle": "选择一个用户，请求推荐，然后在卡片上点 **为什么？**，查看是哪些浏览、收藏、加购和购买行为促成了推荐"
                    "（经重新排序验证）。",
        "user_search": "查找用户",
        "user_search_placeholder": "输入用户 id 的一部分并回车",
        "user_picker": "用户",
        "language": "语言",
        "history": "最近的行为",
        "chat": "对话",
        "chat_placeholder": "选择一个用户，然后点“为我推荐”，或者问“为什么推荐第一个？”、“如果我没有把它加入购物车会怎样？”",
        "input_placeholder": "询问推荐、你的行为或假设情景……",
        "send": "发送",
        "recommend": "为我推荐",
        "recommend_message": "给我推荐 5 件商品",
        "why_message": "为什么推荐商品 {item_id}？",
        "cards": "### 推荐",
        "no_cards": "_还没有推荐：点“为我推荐”。_",
        "why": "为什么？",
        "tab_explain": "解释",
        "tab_whatif": "假如",
        "tab_effects": "因果效应",
        "explain_empty": "_在推荐卡片上点 **为什么？**，解释会显示在这里。_",
        "chart": "每个行为对得分的贡献",
        "chart_empty": "_该用户的行为对这件商品的得分没有贡献。_",
        "effects_in_explanation": "关于这件商品的因果效应",
        "whatif_intro": "取消勾选行为即从历史中去掉它们（或在下方增加一个行为），然后点 **重新排序** 查看推荐如何变化。",
        "whatif_remove": "用户的行为（取消勾选即去掉）",
        "whatif_item": "在商品上增加一个行为（可选）",
        "whatif_behaviour": "要增加的行为",
        "whatif_run": "重新排序",
        "whatif_nothing": "取消勾选一个行为或选择要增加的行为，然后点 **重新排序**。",
        "effects_intro": "估计效应所用的因果图（混杂因素 → 行为 → 购买），以及每种行为对购买概率的效应估计，"
                         "含 95% 区间和反驳检验（DoWhy）。",
        "segment": "按分组查看效应",
        "effects_refresh": "显示效应",
        "graph": "因果图",
        "pick_user_first": "请先选择一个用户（在左侧按 id 查找）。",
        "unknown_user": "未知用户 {user_id!r}：该工作区没有这个用户的行为记录。",
        "no_match": "没有包含 {query!r} 的用户 id。",
        "matches": "{n} 个匹配的用户，请从列表中选择。",
        "history_of": "**{user_id}** · {n} 个行为",
        "tools": "使用的工具",
        "failed": "抱歉，操作失败：{error}",
        "backend": "**LLM 后端：** {name}",
        "offline_note": "未配置 LLM —— 回答由工具结果组合而成",
        "fallback_llm": "LLM 没有响应，上一条回答由工具结果离线组合而成",
        "fallback_guard": "模型的回答引用了工具结果中没有的数字或标题，因此显示组合的回答",
        "workspace": "{users:,} 个用户 · {items:,} 件商品 · {events:,} 条行为",
    },
}

BEHAVIOUR_NAMES: dict[str, dict[str, str]] = {
    "en": {"view": "view", "click": "click", "favourite": "favourite", "cart": "add to cart",
           "purchase": "purchase", "rating": "rating", "prior": "popularity prior", "other": "other"},
    "zh": {"view": "浏览", "click": "点击", "favourite": "收藏", "cart": "加购", "purchase": "购买",
           "rating": "评分", "prior": "热度先验", "other": "其他"},
}

SEGMENTS: dict[str, dict[str, str]] = {
    "en": {"all": "whole population", "category": "by category", "brand": "by brand",
           "price_band": "by price band", "activity": "by activity"},
    "zh": {"all": "全体用户", "category": "按类别", "brand": "按品牌", "price_band": "按价格区间",
           "activity": "按活跃度"},
}

#: Why an item is not explained by the user's history (Explanation.reason codes).
REASONS: dict[str, dict[str, str]] = {
    "en": {"no_support": "none of the user's behaviours supports it: it is recommended for its popularity",
           "popularity": "it stays in the list even without the user's behaviours: popularity carries it",
           "unverified": "no removal set could be verified by re-ranking",
           "not_in_top_k": "it is not in the user's recommendations"},
    "zh": {"no_support": "用户的行为都不支持它：它因热度被推荐",
           "popularity": "即使去掉用户的行为它仍在列表中：靠热度入选",
           "unverified": "没有能通过重新排序验证的删除集合",
           "not_in_top_k": "它不在该用户的推荐中"},
}


def check(language: str | None) -> str:
    """``language`` if the UI speaks it, else English."""
    return language if language in _LABELS else "en"


def label(key: str, language: str | None, **values: object) -> str:
    """The UI text ``key`` in ``language`` (English if missing), formatted with ``values``."""
    text = _LABELS[check(language)].get(key) or _LABELS["en"][key]
    return text.format(**values) if values else text


def behaviour_name(behaviour: str, language: str | None) -> str:
    return BEHAVIOUR_NAMES[check(language)].get(behaviour, behaviour)


def reason_text(code: str, language: str | None) -> str:
    return REASONS[check(language)].get(code, code.replace("_", " "))
