"""The page's callbacks as plain functions: they take and return plain data, never Gradio objects.

Each one asks the agent (chat) or the service (users, history, what-if control, effects) and
turns the result into view data with :mod:`whyrec.ui.views`; :mod:`whyrec.ui.app` wires them to
the components. Errors come back as words from the catalogue (``error``/``notice``), never as a
traceback, and a message that was refused stays in the input.

``tests/ui/test_callbacks.py`` drives them as the page does (pick a user, recommend, Why?).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from whyrec.agent.core import Agent, AgentError
from whyrec.agent.language import detect_language
from whyrec.agent.render import card_reason, do_mine, headline_text, quote
from whyrec.prompts.catalogue import has_message, message
from whyrec.tools.service import FUNNEL, ServiceError, WhyrecService

from . import views
from .state import UIState
from .text import LANGUAGES, check, t

log = logging.getLogger(__name__)

MAX_CARDS = 10
USER_CHOICES = 100          # user ids offered in the picker at once
HISTORY_ROWS = 20           # recent behaviours shown, and offered in the what-if control
WHATIF_ITEMS = 300          # catalog items offered for "add a behaviour" (typing any id works too)
SEGMENTS = ("all", "category", "brand", "price_band", "activity")
RECOMMEND_K = 5
MORE_K = 10
WARM_WAIT = 900.0           # seconds the effects prefetch waits for the service to warm up
#: Behaviours the what-if control can add (the funnel; ratings are not a shop behaviour).
ADDABLE_BEHAVIOURS: tuple[str, ...] = FUNNEL


@dataclass
class UserView:
    """Everything about the current user: the state and what the side panels show."""

    state: UIState
    history: str                                  # HTML
    history_total: int
    whatif_choices: list[tuple[str, str]]
    item_choices: list[tuple[str, str]]
    error: str | None = None


@dataclass
class ChatStep:
    """One update of the chat while a turn runs."""

    state: UIState
    status: str                   # HTML
    done: bool = False
    error: str | None = None      # shown next to the input
    keep_input: bool = False      # the text was refused or failed: leave it in the input
    loading: str | None = None    # the panel that is being computed ("explain")


@dataclass
class Panels:
    """Everything derived from the state: the cards, the explanation, the what-if result, chips."""

    cards: list[tuple[bool, str]]          # (visible, HTML) for each card slot
    cards_heading: str
    explanation: str
    whatif: str
    chips: list[str]
    focus: str | None


@dataclass
class WhatIfView:
    state: UIState
    html: str
    error: str | None = None


@dataclass
class EffectsView:
    html: str
    error: str | None = None


@dataclass
class _Prefetch:
    started: bool = False
    done: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Callbacks:
    """The UI's behaviour, bound to one service and agent (shared by every browser session)."""

    def __init__(self, service: WhyrecService, agent: Agent, max_cards: int = MAX_CARDS) -> None:
        self.service = service
        self.agent = agent
        self.max_cards = max_cards
        self._prefetch = _Prefetch()

    @property
    def max_chars(self) -> int:
        return int(self.service.settings.max_message_chars)

    # -- the status line ---------------------------------------------------------------------
    def status(self, state: UIState) -> str:
        """The status line. A page bound to one shopper's login shows their own figures only (as
        ``/v1/stats`` does for their key): the shop's size and activity are not theirs to watch."""
        try:
            if state.bound:
                mine = self.service.user_stats(state.user_id).to_json() if state.user_id else None
                stats = None if mine is None else {"mine": int(mine.get("events", 0))}
            else:
                stats = self.service.stats().to_json()
        except Exception as exc:  # the status line must render even when the workspace does not
            log.warning("workspace stats unavailable: %s", exc)
            stats = None
        offline = self.agent.spec.kind == "offline"
        return views.status_html(self.agent.backend_name, offline, stats, state.language, state.fallback,
                                 warm=bool(getattr(self.service, "warm", True)))

    # -- users ---------------------------------------------------------------------------------
    def user_choices(self, query: str = "", allowed: str | None = None) -> list[str]:
        """Up to :data:`USER_CHOICES` known user ids containing ``query`` (case-insensitive);
        only ``allowed`` when the session is bound to one user."""
        if allowed is not None:
            query = (query or "").strip().lower()
            return [allowed] if query in allowed.lower() else []
        return self.service.users((query or "").strip(), limit=USER_CHOICES)

    def restore(self, raw: Any, allowed: str | None = None) -> UserView:
        """The page after a (re)load: the stored state, its user and conversation, checked again."""
        state = UIState.from_json(raw).bound_to(allowed)
        if allowed is None and state.user_id is None:
            try:
                first = self.user_choices()
            except Exception as exc:  # e.g. an empty or unreadable workspace
                log.exception("listing users failed")
                return self._empty(state, self._error_text(exc, state.language))
            if first:
                state = state.switch_to(first[0])
        return self._user_view(state, allowed)

    def pick_user(self, user_id: str | None, raw: Any, allowed: str | None = None) -> UserView:
        """Switch to ``user_id``: the current conversation is kept under its user, and the new
        user's own conversation comes back. An unknown (or, for a session bound to one user, any
        other) id changes nothing and says so."""
        state = UIState.from_json(raw).bound_to(allowed)
        user_id = (user_id or "").strip()
        if not user_id or user_id == state.user_id:
            return self._user_view(state, allowed)
        refused = allowed is not None and user_id != allowed
        try:
            # A session bound to this shopper may be theirs before any behaviour is recorded.
            known = not refused and (user_id == allowed or self.service.knows_user(user_id)
                                     or self.service.pending_user(user_id))
        except Exception as exc:
            log.exception("checking user %s failed", user_id)
            return self._with_error(self._user_view(state), self._error_text(exc, state.language))
        if not known:
            return self._with_error(self._user_view(state), t("user.unknown", state.language, user_id=user_id))
        return self._user_view(state.switch_to(user_id), allowed)

    def set_language(self, language: str, raw: Any, allowed: str | None = None) -> UserView:
        state = UIState.from_json(raw)
        state.language = check(language)
        return self._user_view(state, allowed)

    @staticmethod
    def _with_error(view: UserView, error: str) -> UserView:
        view.error = error
        return view

    def _empty(self, state: UIState, error: str | None = None) -> UserView:
        return UserView(state, views.history_html([], 0, state.language), 0, [], [], error)

    def _user_view(self, state: UIState, allowed: str | None = None) -> UserView:
        """The shopper's panel. One the model does not know is refused (a mistyped id), unless
        their behaviours are recorded and not learned yet (shown as usual: the history is read
        from the log), or the session is bound to them — a shopper with nothing recorded yet,
        whose chat is answered with what the most shoppers bought."""
        language = state.language
        if not state.user_id:
            return self._empty(state)
        try:
            if not self.service.knows_user(state.user_id) and not self.service.pending_user(state.user_id):
                if state.user_id == allowed:
                    return UserView(state, views.history_html([], 0, language, empty="user.none_yet"), 0, [], [])
                error = t("user.unknown", language, user_id=state.user_id)
                return self._empty(state.switch_to(None), error)
            recent = self.service.history(state.user_id, limit=HISTORY_ROWS)
            events = [e.to_json() for e in recent.events]
            items = self.item_choices(state, events)
        except Exception as exc:
            log.exception("loading user %s failed", state.user_id)
            return self._empty(state, self._error_text(exc, language))
        choices = views.whatif_choices(events, language)
        state.whatif_keys = [key for _, key in choices]
        return UserView(state, views.history_html(events, recent.total, language), recent.total, choices, items)

    def item_choices(self, state: UIState, events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """Items offered for "add a behaviour": the cards, the user's own items, then the catalog."""
        catalog = self.service.items(limit=WHATIF_ITEMS)
        titles = {i.item_id: i.title for i in catalog}
        ids: list[str] = [str(r["item_id"]) for r in state.recommendations]
        titles.update({str(r["item_id"]): str(r["title"]) for r in state.recommendations})
        ids += [str(e["item_id"]) for e in events]
        titles.update({str(e["item_id"]): str(e["title"]) for e in events})
        ids += [i.item_id for i in catalog]
        unique = list(dict.fromkeys(ids))[: WHATIF_ITEMS + 50]
        counts = pd.Series([titles.get(i, i) for i in unique]).value_counts()
        return [(titles.get(i, i) if counts[titles.get(i, i)] == 1 else f"{titles.get(i, i)} ({i})", i)
                for i in unique]

    # -- the chat ----------------------------------------------------------------------------
    def chat(self, text: str, raw: Any, language: str | None = None,
             loading: str | None = None) -> Iterator[ChatStep]:
        """Ask the agent; yields the chat as the turn runs (its steps, then the answer)."""
        state = UIState.from_json(raw)
        text = (text or "").strip()
        if not text:  # nothing to send (or a reply is still on its way): leave the input as it is
            yield ChatStep(state, self.status(state), done=True, keep_input=True)
            return
        if len(text) > self.max_chars:
            error = t("chat.too_long", state.language, n=f"{len(text):,}", limit=f"{self.max_chars:,}")
            yield ChatStep(state, self.status(state), done=True, error=error, keep_input=True)
            return
        if not state.user_id:
            yield ChatStep(state, self.status(state), done=True, error=t("chat.pick_first", state.language),
                           keep_input=True)
            return
        if language is None:  # typed text: Chinese text gets a Chinese answer whatever the switch says
            language = "zh" if detect_language(text) == "zh" else state.language
        state.messages.append({"role": "user", "content": views.chat_text(text)})
        steps: list[str] = []
        working: dict[str, Any] = {"role": "assistant", "content": "",
                                   "metadata": {"title": t("chat.working", state.language), "status": "pending"}}
        state.messages.append(working)
        yield ChatStep(copy.deepcopy(state), self.status(state), loading=loading)
        answer = None
        try:
            for event in self.agent.stream(state.user_id, text, session_id=state.session_id, language=language):
                kind = event.get("type")
                if kind == "tool":
                    step = self._step_name(str(event.get("name")), state.language)
                    if step not in steps:
                        steps.append(step)
                        working["content"] = views.chat_text("\n".join(f"• {s}" for s in steps))
                        yield ChatStep(copy.deepcopy(state), self.status(state), loading=loading)
                elif kind == "answer":
                    answer = event["answer"]
        except AgentError as exc:
            yield self._chat_error(state, working, self._agent_error_text(exc, text, state.language))
            return
        except Exception as exc:  # backend down, workspace gone: say so in the page
            log.exception("chat turn failed for user %s", state.user_id)
            yield self._chat_error(state, working, self._error_text(exc, state.language))
            return
        if answer is None:
            yield self._chat_error(state, working, message("chat.other.error", state.language,
                                                           message=message("error.other", state.language)))
            return
        if steps:
            working["metadata"] = {"title": t("chat.steps", state.language), "status": "done"}
        else:
            state.messages.remove(working)
        state.messages.append({"role": "assistant", "content": views.chat_text(answer.text)})
        self._take_answer(state, answer)
        state.trim()
        yield ChatStep(state, self.status(state), done=True)

    @staticmethod
    def _step_name(tool: str, language: str) -> str:
        key = f"tool.{tool}"
        return t(key if has_message(f"ui.{key}", "en") else "tool.other", language)

    def _take_answer(self, state: UIState, answer: Any) -> None:
        state.session_id = answer.session_id
        state.fallback = answer.fallback
        state.focus = None
        if answer.recommendations:
            state.recommendations = [self.card(r) for r in answer.recommendations]
        if answer.explanations:
            state.explanation = self.explanation(answer.explanations[-1])
            state.focus = "explain"
        if answer.what_ifs:
            state.what_if = self.what_if(answer.what_ifs[-1])
            state.focus = "whatif"

    # Results as the state keeps them: their JSON, plus their words in both languages (so a
    # language switch or a reload shows them again without asking the service).
    @staticmethod
    def card(item: Any) -> dict[str, Any]:
        return item.to_json() | {"reason_text": {lang: card_reason(item.headline, lang) for lang in LANGUAGES}}

    @staticmethod
    def explanation(result: Any) -> dict[str, Any]:
        return result.to_json() | {"text": {"headline": {lang: headline_text(result, lang) for lang in LANGUAGES}}}

    @staticmethod
    def what_if(result: Any) -> dict[str, Any]:
        return result.to_json()

    def _chat_error(self, state: UIState, working: dict[str, Any], error: str) -> ChatStep:
        if working in state.messages:
            state.messages.remove(working)
        state.messages.append({"role": "assistant", "content": views.chat_text(error)})
        return ChatStep(state, self.status(state), done=True, error=error, keep_input=True)

    def _agent_error_text(self, exc: AgentError, text: str, language: str) -> str:
        if exc.status == 422:
            return t("chat.too_long", language, n=f"{len(text):,}", limit=f"{self.max_chars:,}")
        if exc.status == 404:
            return message("chat.other.error", language, message=message("error.unknown_user", language))
        return message("chat.other.error", language, message=message("error.other", language))

    @staticmethod
    def _error_text(exc: Exception, language: str) -> str:
        """A failure in the user's language: a service error by its code, anything else as
        "something went wrong" (the details go to the log)."""
        text = message("error.other", language)
        if isinstance(exc, ServiceError):
            try:
                text = message(f"error.{exc.code}", language, **exc.fields)
            except (KeyError, IndexError):
                pass
        elif isinstance(exc, OSError | TimeoutError):
            text = t("error.unreachable", language)
        return message("chat.other.error", language, message=text)

    def recommend(self, raw: Any) -> Iterator[ChatStep]:
        """The "Recommend for me" button."""
        state = UIState.from_json(raw)
        yield from self.chat(t("chat.recommend_message", state.language, k=RECOMMEND_K), state,
                             language=state.language)

    def why(self, index: int, raw: Any) -> Iterator[ChatStep]:
        """The Why? button of card ``index``: ask the agent about that card (by its rank and title),
        and open that item's explanation."""
        state = UIState.from_json(raw)
        if not 0 <= index < len(state.recommendations):
            yield ChatStep(state, self.status(state), done=True)
            return
        card = state.recommendations[index]
        item_id = str(card["item_id"])
        question = t("chat.why_message", state.language, rank=card["rank"],
                     title=quote(str(card["title"]), state.language))
        step: ChatStep | None = None
        for step in self.chat(question, state, language=state.language, loading="explain"):
            if not step.done:
                yield step
        assert step is not None
        if step.error is None and (step.state.explanation or {}).get("item_id") != item_id:
            # The agent answered about something else (its session no longer holds these cards,
            # e.g. after a server restart): explain the card's item directly, with the same
            # explainer the agent's tool uses.
            try:
                k = max(len(step.state.recommendations), RECOMMEND_K)
                step.state.explanation = self.explanation(self.service.explain(str(step.state.user_id), item_id, k=k))
            except Exception as exc:
                log.exception("explaining %s failed", item_id)
                step.error = self._error_text(exc, state.language)
        if step.error is None:
            step.state.focus = "explain"
        yield step

    @staticmethod
    def clear_chat(raw: Any) -> UIState:
        """A new conversation with the same user (the cards and panels stay)."""
        state = UIState.from_json(raw)
        state.messages = []
        state.session_id = None
        return state

    # -- follow-up chips ---------------------------------------------------------------------
    def chips(self, state: UIState) -> list[str]:
        """Three suggested follow-ups that fit what is on screen (each a message the agent reads)."""
        language = state.language
        recs = state.recommendations
        if not recs:
            return [t("chip.important", language), t("chip.effects", language), t("chip.history", language)]
        explained = (state.explanation or {}).get("item_id")
        ranks = [int(r["rank"]) for r in recs]
        shown = next((int(r["rank"]) for r in recs if r["item_id"] == explained), None)
        nth = next((r for r in ranks if r != shown and (shown is None or r > shown)), None)
        nth = nth if nth is not None else next((r for r in ranks if r != shown), ranks[0])
        chips = [t("chip.why_nth", language, nth=t(f"ordinal.{nth}", language) if has_message(f"ui.ordinal.{nth}", "en")
                   else f"#{nth}")]
        event = self._headline_event(state)
        if event is not None:
            chips.append(t("chip.what_if", language, do=do_mine(event["behaviour"], event["title"], language)))
        else:
            chips.append(t("chip.important", language))
        chips.append(t("chip.more", language, k=MORE_K))
        return chips

    @staticmethod
    def _headline_event(state: UIState) -> dict[str, Any] | None:
        """The behaviour the current explanation (or the first card) rests on most."""
        sources = [state.explanation] if state.explanation else []
        sources += [r for r in state.recommendations[:1]]
        for source in sources:
            events = ((source or {}).get("headline") or {}).get("events") or []
            if events and (source or {}).get("why_not") is None:
                return dict(events[0])
        return None

    # -- the panels --------------------------------------------------------------------------
    def panels(self, state: UIState, loading: str | None = None) -> Panels:
        language = state.language
        cards = [(True, views.card_html(item, language)) for item in state.recommendations[: self.max_cards]]
        cards += [(False, "")] * (self.max_cards - len(cards))
        return Panels(cards=cards, cards_heading=views.cards_heading_html(len(state.recommendations), language),
                      explanation=views.explanation_html(state.explanation, language, loading=loading == "explain"),
                      whatif=views.whatif_html(state.what_if, language), chips=self.chips(state),
                      focus="explain" if loading == "explain" else state.focus)

    # -- the what-if control ----------------------------------------------------------------
    def run_what_if(self, ticked: list[str] | None, add_item: str | None, add_behaviour: str | None,
                    raw: Any) -> WhatIfView:
        """Re-rank without the unticked behaviours (and with one added), via the explainer."""
        state = UIState.from_json(raw)
        language = state.language
        if not state.user_id:
            error = t("chat.pick_first", language)
            return WhatIfView(state, views.whatif_html(None, language, notice=error), error)
        keep = {str(k) for k in (ticked or [])}
        remove = [int(k) for k in state.whatif_keys if k not in keep and k.isdigit()]
        add: list[tuple[str, str]] = []
        try:
            if add_item:
                add.append((self.service.resolve_item(str(add_item)), add_behaviour or "view"))
            if not remove and not add:
                notice = t("whatif.nothing", language)
                return WhatIfView(state, views.whatif_html(None, language, notice=notice))
            k = max(len(state.recommendations), RECOMMEND_K)
            result = self.service.what_if(state.user_id, remove=remove, add=add, k=k)
        except ServiceError as exc:  # unknown item, stale event key: readable, not a traceback
            log.warning("what-if failed for %s: %s", state.user_id, exc)
            error = self._error_text(exc, language)
            return WhatIfView(state, views.whatif_html(None, language, notice=error), error)
        state.what_if = self.what_if(result)
        state.focus = "whatif"
        return WhatIfView(state, views.whatif_html(state.what_if, language))

    # -- the effects tab ----------------------------------------------------------------------
    def effects(self, segment: str | None, language: str) -> EffectsView:
        """The behaviour effects (everyone, or per ``segment``) and the causal graph, as HTML."""
        segment = segment if segment in SEGMENTS else "all"
        language = check(language)
        try:
            report = self.service.effects(segment=None if segment == "all" else segment)
            effects = [e.to_json() | {"verdict_words": e.verdict_text(language),
                                      "estimand_words": e.estimand_text(language)} for e in report.effects]
        except Exception as exc:
            log.exception("loading the causal report failed")
            error = self._error_text(exc, language)
            return EffectsView(views.effects_html([], segment, language, None, note=error), error)
        note = ""
        try:
            if report.data_version != self.service.status().data_version:
                note = t("effects.stale", language)
        except Exception:  # the status is a nicety here
            log.warning("service status unavailable", exc_info=True)
        return EffectsView(views.effects_html(effects, segment, language, self.graph_spec(), note=note))

    def graph_spec(self) -> dict[str, Any] | None:
        """The causal graph the population effects rest on, by layer, with their horizon."""
        try:
            return self.service.causal_graph_layers().to_json()
        except Exception:
            log.warning("the causal graph is unavailable", exc_info=True)
            return None

    def prefetch_effects(self) -> None:
        """Estimate every segment's effects in the background once the service is warm, so the
        Effects tab answers at once (started by the first page load; runs once)."""
        with self._prefetch.lock:
            if self._prefetch.started:
                return
            self._prefetch.started = True
        threading.Thread(target=self._prefetch_now, name="whyrec-ui-effects", daemon=True).start()

    def _prefetch_now(self) -> None:
        deadline = time.monotonic() + WARM_WAIT
        while not getattr(self.service, "warm", True):
            if time.monotonic() > deadline:
                log.warning("effects prefetch gave up: the service did not warm up")
                return
            time.sleep(1.0)
        for segment in SEGMENTS[1:]:
            try:
                self.service.effects(segment=segment)
                self._prefetch.done.append(segment)
            except Exception:
                log.warning("prefetching effects by %s failed", segment, exc_info=True)
