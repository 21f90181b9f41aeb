"""Prompts for language models (system prompts, the phrasing instruction) and, in
:mod:`whyrec.prompts.catalogue`, every word a user reads — English and Chinese, as files.

>>> system_prompt("zh") != system_prompt("en")
True
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from .catalogue import LANGUAGES, language_of


@cache
def system_prompt(language: str) -> str:
    """The agent's system prompt in ``language`` (en or zh)."""
    return resources.files(__package__).joinpath(f"system.{language_of(language)}.md").read_text(encoding="utf-8")


@cache
def phrasing_prompt(language: str) -> str:
    """Instruction for a small local model that only rephrases a composed answer."""
    return resources.files(__package__).joinpath(f"phrasing.{language_of(language)}.md").read_text(encoding="utf-8")


__all__ = ["LANGUAGES", "phrasing_prompt", "system_prompt"]
