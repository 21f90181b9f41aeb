"""One way to turn any result into text in the user's language: :func:`render`.

Every word comes from the message catalogue (``prompts/i18n``); every number from the result.
The agent's tools give a model ``render(result, "en")``; the composer, the UI and the CLI show
``render(result, language)``.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from whyrec.tools.service import Explanation, WhatIfResult, WhyNot

from .composer import Composer


@singledispatch
def render(result: Any, language: str = "en") -> str:
    """``result`` as text in ``language`` (``en`` or ``zh``)."""
    raise TypeError(f"no rendering for {type(result).__name__}")


@render.register
def _(result: Explanation, language: str = "en") -> str:
    return result.to_text(language=language)


@render.register
def _(result: WhyNot, language: str = "en") -> str:
    return result.to_text(language=language)


@render.register
def _(result: WhatIfResult, language: str = "en") -> str:
    return result.to_text(language=language)


def _register_composer_kinds() -> None:
    from whyrec.tools.service import Effects, HistorySearch, ItemSearch, Recommendations

    render.register(Recommendations, lambda r, language="en": Composer(language).recommendations(r))
    render.register(Effects, lambda r, language="en": Composer(language).effects(r))
    render.register(HistorySearch, lambda r, language="en": Composer(language).history(r))
    render.register(ItemSearch, lambda r, language="en": Composer(language).items(r))


_register_composer_kinds()
