"""The UI's own words (labels, headers, errors, the status line, graph labels) from the message
catalogue's ``ui`` area: ``prompts/i18n/<language>/ui.toml``. Results are worded by
:mod:`whyrec.agent.render`, so the page and the chat say the same thing.

>>> t("cards.why", "zh")
'为什么？'
"""

from __future__ import annotations

from whyrec.prompts.catalogue import has_message, language_of, message

#: The language switch: each language named in itself, so a reader finds their own.
LANGUAGE_CHOICES: tuple[tuple[str, str], ...] = (("English", "en"), ("中文", "zh"))
LANGUAGES: tuple[str, ...] = tuple(code for _, code in LANGUAGE_CHOICES)


def check(language: str | None) -> str:
    """``language`` if the UI speaks it, else English."""
    return language_of(language)


def t(key: str, language: str | None, /, **fields: object) -> str:
    """The UI message ``ui.<key>`` in ``language``, with ``fields`` filled in."""
    return message(f"ui.{key}", check(language), **fields)


def t_or(key: str, fallback: str, language: str | None, /, **fields: object) -> str:
    """``ui.<key>`` if the catalogue holds it, else ``ui.<fallback>`` (for codes from data:
    estimator and refuter names, segment values, graph nodes)."""
    name = key if has_message(f"ui.{key}", check(language)) else fallback
    return t(name, language, **fields)


def has(key: str) -> bool:
    return has_message(f"ui.{key}", "en")
