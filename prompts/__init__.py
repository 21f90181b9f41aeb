"""Prompts and answer templates, as files: system prompts and templates in English and Chinese.

>>> load_template("en", "recommend_intro").format(n=3, scope="")
'Here are 3 picks for you:'
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

LANGUAGES = ("en", "zh")


@cache
def system_prompt(language: str) -> str:
    """The agent's system prompt in ``language`` (en or zh)."""
    return resources.files(__package__).joinpath(f"system.{_lang(language)}.md").read_text(encoding="utf-8")


@cache
def templates(language: str) -> dict[str, str]:
    """All answer templates of ``language``, by name."""
    text = resources.files(__package__).joinpath(f"templates.{_lang(language)}.toml").read_text(encoding="utf-8")
    return {k: str(v) for k, v in tomllib.loads(text).items()}


def load_template(language: str, name: str) -> str:
    return templates(language)[name]


@cache
def phrasing_prompt(language: str) -> str:
    """Instruction for a small local model that only rephrases a composed answer."""
    return resources.files(__package__).joinpath(f"phrasing.{_lang(language)}.md").read_text(encoding="utf-8")


def _lang(language: str) -> str:
    return language if language in LANGUAGES else "en"
