"""Which language to answer in: the one the shopper asks for ("answer in Chinese", "用英文回答"),
else the one the message is written in (Chinese if it holds CJK characters, else English)."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

_ZH_NAMES = r"(?:chinese|mandarin|中文|汉语|简体中文|普通话|华语)"
_EN_NAMES = r"(?:english|英文|英语)"
#: A request for the reply language, in either language ("…, answer in Chinese please", "请用英文回答").
LANGUAGE_REQUEST = re.compile(
    rf"[,;:—–-]?\s*(?:(?:please\s+)?(?:answer|reply|respond|write|say|explain|tell me|speak|talk|do it|again)?"
    rf"\s*(?:it\s+|that\s+|this\s+)?(?:back\s+)?in\s+(?P<en>{_ZH_NAMES[3:-1]}|english)\b(?:\s+please)?"
    rf"|(?:请|麻烦)?(?:你)?(?:再)?(?:用|以|说|换成|改用|改成)\s*(?P<zh>{_ZH_NAMES[3:-1]}|{_EN_NAMES[3:-1]})"
    rf"\s*(?:回答|回复|说一遍|再说一遍|再说一次|说|讲|解释一下|解释|写|吧|哦)?)",
    re.IGNORECASE)
_STANDALONE = re.compile(rf"^\s*(?:{_ZH_NAMES}|{_EN_NAMES})\s*(?:please|pls|吧|回答|回复|\s)*[.!?。！？]*\s*$",
                         re.IGNORECASE)


def detect_language(text: str) -> str:
    """``"zh"`` when the text contains Chinese characters, otherwise ``"en"``."""
    return "zh" if _CJK.search(text or "") else "en"


def requested_language(text: str) -> str | None:
    """The reply language the message asks for, if it asks ('in Chinese please' -> 'zh')."""
    match = LANGUAGE_REQUEST.search(text or "")
    name = (match.group("en") or match.group("zh")) if match else None
    if name is None:
        standalone = _STANDALONE.match(text or "")
        name = standalone.group(0) if standalone else None
    if name is None:
        return None
    return "zh" if re.search(_ZH_NAMES, name, re.IGNORECASE) else "en"


def reply_language(message: str, requested: str | None = None, given: str | None = None) -> str:
    """The language to answer in: what the message asks for, else the caller's choice, else the
    message's own language."""
    for choice in (requested, given):
        if choice in ("en", "zh"):
            return choice
    return detect_language(message)
