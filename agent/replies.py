"""The chat's own replies — everything that is not a tool result worded by :func:`render`:
small talk, the help, out-of-scope questions, clarifying questions, when the shopper last did
something, their newest behaviours, what most shoppers buy, and notes under an answer.

Every word comes from the message catalogue (``prompts/i18n/<lang>/dialog.toml``), every date and
count from a service result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from whyrec.prompts.catalogue import message
from whyrec.tools.service import UserHistory

from .render import date, did, do, joined, list_scope, quote

SMALL_TALK = ("greeting", "thanks", "goodbye", "help", "out_of_scope")


def small_talk(kind: str, language: str) -> str:
    """A short human reply to a greeting, thanks, goodbye, a request for help, or a question
    this shop assistant cannot answer."""
    return message(f"dialog.{kind}", language)


def clarify(options: Sequence[str], language: str) -> str:
    """One clarifying question offering the (at most two) likeliest readings."""
    names = [message(f"dialog.clarify.option.{o}", language) for o in options[:2]]
    if len(names) == 2:
        return message("dialog.clarify.two", language, first=names[0], second=names[1])
    if names:
        return message("dialog.clarify.one", language, first=names[0])
    return message("dialog.clarify.none", language)


def which_item(words: str, titles: Sequence[str], language: str) -> str:
    """Several items fit the words: name them and ask."""
    return message("dialog.clarify.which_item", language, words=words,
                   options=joined([quote(t, language) for t in titles], language))


def need_item(language: str) -> str:
    return message("dialog.clarify.need_item", language)


def last_time(history: UserHistory, behaviour: str | None, title: str | None, language: str) -> str:
    """When the shopper last did ``behaviour`` (on the item ``title``, if given)."""
    if history.events:
        event = history.events[0]
        return message("dialog.last_time.found", language, do=do(event.behaviour, event.title, language),
                       date=date(event.timestamp, language, with_year=True))
    if title is not None:
        return message("dialog.last_time.never_item", language, do=do(behaviour or "view", title, language))
    if behaviour is not None:
        return message("dialog.last_time.never", language,
                       behaviour=message(f"behaviour.name.{behaviour}", language))
    return message("dialog.last_time.never_any", language)


def recent(history: UserHistory, language: str, since: Any = None, behaviour: str | None = None) -> str:
    """The shopper's newest behaviours, one line each, newest first; ``behaviour``: the one kind
    asked about ("what did I add to my cart?"), named in the lead sentence."""
    scope = message("dialog.recent.scope_since", language, date=date(since, language)) if since is not None else ""
    if not history.events:
        return message("dialog.recent.empty", language, scope=scope)
    one = behaviour is not None and all(e.behaviour == behaviour for e in history.events)
    lead = f"dialog.recent.of.{behaviour}" if one else "dialog.recent.intro"
    lines = [message(lead, language, scope=scope)]
    lines += [message("dialog.recent.line", language, did=did(e.behaviour, e.title, language),
                      date=date(e.timestamp, language)) for e in history.events]
    return "\n".join(lines)


def popular(result: Any, language: str, *, personal_hint: bool = True) -> str:
    """The items the most shoppers have bought (a :class:`~whyrec.tools.service.service.PopularItems`), with
    what the list was kept to; ``personal_hint``: end with how to ask for picks of one's own (not
    for a shopper with no behaviours recorded)."""
    if not result.items:
        key = "no_more" if result.first_rank > 1 else "empty_filtered" if result.filtered else "empty"
        return message(f"dialog.popular.{key}", language)
    scope = list_scope(result.category, result.query, language)
    lines = [message("dialog.popular.intro", language, shoppers=result.shoppers, scope=scope)]
    lines += [message("dialog.popular.line", language, rank=n, title=p.item.title, n=p.shoppers)
              for n, p in enumerate(result.items, start=result.first_rank)]
    if personal_hint:
        lines.append(message("dialog.popular.mine", language))
    return "\n".join(lines)


def note(name: str, language: str, **fields: Any) -> str:
    """A note under an answer (``dialog.note.<name>``)."""
    return message(f"dialog.note.{name}", language, **fields)
