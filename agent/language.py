"""Which language a message is in: Chinese if it contains CJK characters, else English."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> str:
    """``"zh"`` when the text contains Chinese characters, otherwise ``"en"``."""
    return "zh" if _CJK.search(text or "") else "en"
