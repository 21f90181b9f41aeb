"""The message catalogue: every word a user reads, in English and Chinese, from one place.

Messages live in ``prompts/i18n/<language>/<area>.toml`` (one file per area, e.g. ``causal.toml``,
``ui.toml``); a message's key is ``<area>.<name>`` (nested TOML tables add more dots). Both
languages must hold the same keys — a test checks it — and Chinese messages hold no English
words outside their ``{placeholders}``.

>>> message("demo.greeting", "en", name="Ana")
'Hello, Ana'
>>> message("demo.greeting", "zh", name="Ana")
'你好，Ana'
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "zh")


class MissingMessage(KeyError):
    """A message key that the catalogue does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


def language_of(language: str | None) -> str:
    """``language`` if the catalogue has it, else English."""
    return language if language in LANGUAGES else "en"


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every message of ``language`` by key (``area.name``)."""
    root = resources.files(__package__).joinpath("i18n", language_of(language))
    out: dict[str, str] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            _flatten(entry.name[: -len(".toml")], tomllib.loads(entry.read_text(encoding="utf-8")), out)
    return out


def message(key: str, language: str | None, /, **fields: Any) -> str:
    """The message ``key`` in ``language``, with ``fields`` filled in (``str.format`` rules)."""
    messages = catalogue(language_of(language))
    try:
        text = messages[key]
    except KeyError:
        raise MissingMessage(f"no message {key!r} in the {language_of(language)} catalogue") from None
    return text.format(**fields) if fields else text


def has_message(key: str, language: str | None = "en") -> bool:
    return key in catalogue(language_of(language))


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, str]) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if isinstance(value, Mapping):
            _flatten(key, value, out)
        else:
            out[key] = str(value)
