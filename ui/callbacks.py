"""The page's callbacks as plain functions: they take and return plain data, never Gradio objects.

Each one asks the agent (chat) or the service (user lists, what-if control, effects) and turns
the result into view data with :mod:`whyrec.ui.views`; :mod:`whyrec.ui.app` wires them to the
components. Errors come back as readable text in the result (``error``), never as a traceback.

``tests/ui/test_callbacks.py`` drives them as the page does (pick a user, recommend, Why?).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from whyrec.agent.core import Agent, AgentError
from whyrec.agent.language import detect_language
from whyrec.agent.render import card_reason
from whyrec.tools.service import FUNNEL, ServiceError, WhyrecService

from . import views
from .i18n import check, label

log = logging.getLogger(__name__)

MAX_CARDS = 10
USER_CHOICES = 100          # user ids offered in the picker at once
HISTORY_ROWS = 20           # recent behaviours shown under the picker
WHATIF_ROWS = 20            # recent behaviours offered in the what-if control
WHATIF_ITEMS = 300          # catalog items offered for "add a behaviour" (typing any id works too)
SEGMENTS = ("all", "category", "brand", "price_band", "activity")


@dataclass
class UIState:
    """One browser session: who is chatting, in which language, and what the panels show."""

    user_id: str | None = None
    language: str = "en"
    session_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)   # Chatbot messages
    recommendations: list[dict[str, Any]] = field(default_factory=list)  # RecommendedItem.to_json()
    explanation: dict[str, Any] | None = None                      # Explanation.to_json()
    what_if: dict[str, Any] | None = None                          # WhatIfResult.to_json()
    whatif_keys: list[str] = field(default_factory=list)           # event keys offered in the control
    fallback: str | None = None                                    # of the last answer
    focus: str | None = None    # the panel the last answer filled: "explain", "whatif" or None


@dataclass
class UserView:
    state: UIState
    history: pd.DataFrame
    note: str
    whatif_choices: list[tuple[str, str]]
    item_choices: list[tuple[str, str]]
    error: str | None = None


@dataclass
class ChatStep:
    """One streamed update of the chat."""

    state: UIState
    status: str
    done: bool = False
    error: str | None = None


@dataclass
class Panels:
    """Everything below the chat, derived from the state."""

    cards: list[tuple[bool, str]]          # (visible, markdown) for each card slot
    heading: str
    chart: pd.DataFrame
    chart_note: str
    counterfactual: str
    effects: pd.DataFrame
    whatif_text: str
    whatif_table: pd.DataFrame
    focus: str | None


@dataclass
class WhatIfView:
    state: UIState
    text: str
    table: pd.DataFrame
    error: str | None = None


@dataclass
class EffectsView:
    graph: str | None
    table: pd.DataFrame
    note: str
    error: str | None = None


class Callbacks:
    """The UI's behaviour, bound to one service and agent (shared by every browser session)."""

    def __init__(self, service: WhyrecService, agent: Agent, pace: float = 0.0, max_cards: int = MAX_CARDS) -> None:
        self.service = service
        self.agent = agent
        self.pace = pace            # seconds between streamed chunks (0 in tests)
        self.max_cards = max_cards

    # -- the page and the status line ---------------------------------------------------------
    def status(self, state: UIState) -> str:
        try:
            stats = self.service.stats().to_json()
        except Exception as exc:  # the status line must render even when the workspace does not
            log.warning("workspace stats unavailable: %s", exc)
            stats = None
        offline = self.agent.spec.kind == "offline"
        return views.status_markdown("offline" if offline else self.agent.backend_name, offline, stats,
                                     state.language, state.fallback)

    def user_choices(self, query: str = "", allowed: str | None = None) -> list[str]:
        """Up to :data:`USER_CHOICES` known user ids containing ``query`` (case-insensitive);
        only ``allowed`` when the session is bound to one user."""
        if allowed is not None:
            query = (query or "").strip().lower()
            return [allowed] if query in allowed.lower() else []
        return self.service.users(query, limit=USER_CHOICES)

    # -- picking a user ----------------------------------------------------------------------
    def search_users(self, query: str, state: UIState,
                     allowed: str | None = None) -> tuple[list[str], str | None, str]:
        """``(choices, exact match or None, note)`` for the search box."""
        query = (query or "").strip()
        try:
            choices = self.user_choices(query, allowed)
        except Exception as exc:
            log.exception("listing users failed")
            return [], None, label("failed", state.language, error=exc)
        exact = query if query in choices else (choices[0] if len(choices) == 1 else None)
        if not choices:
            return [], None, label("no_match", state.language, query=query)
        return choices, exact, "" if exact else label("matches", state.language, n=len(choices))

    def pick_user(self, user_id: str | None, state: UIState, allowed: str | None = None) -> UserView:
        """Switch the session to ``user_id``: a fresh chat, their recent behaviours, the what-if choices.

        ``allowed`` binds the session to one user (a login with a user's API key): any other
        id is refused like an unknown one, so the page reveals nothing about other users.
        """
        fresh = UIState(language=state.language)
        if allowed is not None and (user_id or "").strip() not in ("", allowed):
            message = label("unknown_user", state.language, user_id=(user_id or "").strip())
            return UserView(fresh, views.history_frame(None, state.language), f"⚠️ {message}", [], [],
                            error=message)
        return self._user_view(user_id, fresh)

    def refresh_user(self, state: UIState) -> UserView:
        """The same user's tables again (after a language switch); the chat is kept."""
        return self._user_view(state.user_id, copy.deepcopy(state))

    def _user_view(self, user_id: str | None, state: UIState) -> UserView:
        language = state.language
        user_id = (user_id or "").strip()
        empty = views.history_frame(None, language)
        if not user_id:
            state.user_id = None
            return UserView(state, empty, label("pick_user_first", language), [], [])
        try:
            if not self.service.knows_user(user_id):
                message = label("unknown_user", language, user_id=user_id)
                state.user_id = None
                return UserView(state, empty, f"⚠️ {message}", [], [], error=message)
            recent = self.service.history(user_id, limit=max(HISTORY_ROWS, WHATIF_ROWS))
            history = pd.DataFrame([e.to_json() | {"timestamp": e.timestamp} for e in recent.events],
                                   columns=["event_key", "item_id", "title", "behaviour", "timestamp", "value"])
            total = recent.total
            items = self.item_choices(state, history)
        except Exception as exc:
            log.exception("loading user %s failed", user_id)
            message = label("failed", language, error=exc)
            state.user_id = None
            return UserView(state, empty, f"⚠️ {message}", [], [], error=message)
        state.user_id = user_id
        choices = views.whatif_choices(history.head(WHATIF_ROWS), language)
        state.whatif_keys = [key for _, key in choices]
        return UserView(state, views.history_frame(history.head(HISTORY_ROWS), language),
                        label("history_of", language, user_id=user_id, n=total), choices, items)

    def item_choices(self, state: UIState, history: pd.DataFrame | None = None) -> list[tuple[str, str]]:
        """Items offered for "add a behaviour": the cards, the user's own items, then the catalog."""
        catalog = self.service.items(limit=WHATIF_ITEMS)
        titles = {i.item_id: i.title for i in catalog}
        ids: list[str] = [r["item_id"] for r in state.recommendations]
        titles.update({str(r["item_id"]): str(r["title"]) for r in state.recommendations})
        if history is not None:
            ids += [str(i) for i in history["item_id"]]
            titles.update(zip(history["item_id"].astype(str), history["title"].astype(str), strict=True))
        ids += [i.item_id for i in catalog]
        seen: dict[str, None] = {}
        for item_id in ids:
            seen.setdefault(item_id, None)
        return [(f"{titles.get(i, i)} ({i})", i) for i in list(seen)[: WHATIF_ITEMS + 50]]

    def set_language(self, language: str, state: UIState) -> UIState:
        new = copy.copy(state)
        new.language = check(language)
        return new

    # -- the chat ----------------------------------------------------------------------------
    def chat(self, message: str, state: UIState, language: str | None = None) -> Iterator[ChatStep]:
        """Ask the agent; yields the chat as it streams (tool calls, then the answer's chunks)."""
        state = copy.deepcopy(state)
        message = (message or "").strip()
        if not message:
            yield ChatStep(state, self.status(state), done=True)
            return
        if not state.user_id:
            error = label("pick_user_first", state.language)
            state.messages.append({"role": "assistant", "content": f"⚠️ {error}"})
            yield ChatStep(state, self.status(state), done=True, error=error)
            return
        if language is None:  # typed text: Chinese text gets a Chinese answer whatever the switch says
            language = "zh" if detect_language(message) == "zh" else state.language
        state.messages.append({"role": "user", "content": message})
        tools_message: dict[str, Any] = {"role": "assistant", "content": "",
                         "metadata": {"title": "🔧 " + label("tools", language), "status": "pending"}}
        state.messages.append(tools_message)
        answer_message: dict[str, Any] | None = None
        calls: list[str] = []
        yield ChatStep(state, self.status(state))
        try:
            for event in self.agent.stream(state.user_id, message, session_id=state.session_id,
                                           language=language):
                kind = event.get("type")
                if kind == "tool":
                    args = ", ".join(f"{k}={v!r}" for k, v in (event.get("args") or {}).items())
                    calls.append(f"`{event.get('name')}({args})`")
                    tools_message["content"] = "\n".join(calls)
                    yield ChatStep(state, self.status(state))
                elif kind == "delta":
                    if answer_message is None:
                        tools_message["metadata"]["status"] = "done"
                        answer_message = {"role": "assistant", "content": ""}
                        state.messages.append(answer_message)
                    answer_message["content"] += event.get("text", "")
                    if self.pace:
                        time.sleep(self.pace)
                    yield ChatStep(state, self.status(state))
                elif kind == "answer":
                    self._take_answer(state, event["answer"], answer_message)
        except AgentError as exc:
            yield self._chat_error(state, tools_message, str(exc))
            return
        except Exception as exc:  # backend down, workspace gone: say so in the page
            log.exception("chat turn failed for user %s", state.user_id)
            yield self._chat_error(state, tools_message, label("failed", state.language, error=exc))
            return
        if not calls:
            state.messages.remove(tools_message)
        tools_message["metadata"]["status"] = "done"
        yield ChatStep(state, self.status(state), done=True)

    def _take_answer(self, state: UIState, answer: Any, answer_message: dict[str, Any] | None) -> None:
        state.session_id = answer.session_id
        state.fallback = answer.fallback
        state.focus = None
        if answer_message is not None:
            answer_message["content"] = answer.text  # the exact text, whatever the chunking did
        else:
            state.messages.append({"role": "assistant", "content": answer.text})
        if answer.recommendations:
            state.recommendations = [r.to_json() | {"reason_text": {lang: card_reason(r.headline, lang)
                                                                    for lang in ("en", "zh")}}
                                     for r in answer.recommendations]
        if answer.explanations:
            state.explanation = answer.explanations[-1].to_json()
            state.focus = "explain"
        if answer.what_ifs:
            state.what_if = answer.what_ifs[-1].to_json()
            state.focus = "whatif"

    def _chat_error(self, state: UIState, tools_message: dict[str, Any], error: str) -> ChatStep:
        if tools_message in state.messages and not tools_message["content"]:
            state.messages.remove(tools_message)
        tools_message["metadata"]["status"] = "done"
        state.messages.append({"role": "assistant", "content": f"⚠️ {error}"})
        return ChatStep(state, self.status(state), done=True, error=error)

    def recommend(self, state: UIState) -> Iterator[ChatStep]:
        """The "Recommend for me" button."""
        yield from self.chat(label("recommend_message", state.language), state, language=state.language)

    def why(self, index: int, state: UIState) -> Iterator[ChatStep]:
        """The Why? button of card ``index``: ask the agent, and open that item's explanation."""
        if not 0 <= index < len(state.recommendations):
            yield ChatStep(state, self.status(state), done=True)
            return
        item_id = str(state.recommendations[index]["item_id"])
        step: ChatStep | None = None
        for step in self.chat(label("why_message", state.language, item_id=item_id), state,
                              language=state.language):
            if not step.done:
                yield step
        assert step is not None
        if step.error is None and (step.state.explanation or {}).get("item_id") != item_id:
            # The agent answered about something else (an id its parser could not read): explain
            # the card's item directly, with the same explainer the agent's tool uses.
            try:
                k = max(len(step.state.recommendations), 5)
                step.state.explanation = self.service.explain(str(step.state.user_id), item_id, k=k).to_json()
            except Exception as exc:
                log.exception("explaining %s failed", item_id)
                step.error = label("failed", state.language, error=exc)
        if step.error is None:
            step.state.focus = "explain"
        yield step

    # -- the panels --------------------------------------------------------------------------
    def panels(self, state: UIState) -> Panels:
        language = state.language
        cards = [(True, views.card_markdown(item, language)) for item in state.recommendations[: self.max_cards]]
        cards += [(False, "")] * (self.max_cards - len(cards))
        explanation = state.explanation
        chart = views.chart_frame(explanation, language)
        chart_note = label("chart_empty", language) if explanation and chart.empty else ""
        what_if = state.what_if
        return Panels(cards=cards,
                      heading=views.explanation_heading(explanation, language),
                      chart=chart, chart_note=chart_note,
                      counterfactual=views.counterfactual_markdown(explanation, language),
                      effects=views.causal_frame((explanation or {}).get("causal", []), language),
                      whatif_text=self._whatif_text(what_if, language),
                      whatif_table=views.whatif_frame(what_if, language),
                      focus=state.focus)

    def _whatif_text(self, what_if: dict[str, Any] | None, language: str) -> str:
        if not what_if:
            return label("whatif_intro", language)
        moved = [m for m in what_if.get("moves", []) if m.get("move") != "same"]
        removed = what_if.get("removed", [])
        added = what_if.get("added", [])
        zh = language == "zh"
        parts = []
        if removed:
            parts.append(("去掉 " if zh else "without ") + ("；" if zh else "; ").join(
                f"{views.behaviour_name(e['behaviour'], language)} · {e['title']}" for e in removed))
        if added:
            parts.append(("增加 " if zh else "adding ") + ("；" if zh else "; ").join(
                f"{views.behaviour_name(e['behaviour'], language)} · {e['title']}" for e in added))
        head = ("**假如** " if zh else "**What if:** ") + ("，".join(parts) if zh else ", ".join(parts))
        if not what_if.get("changed") and not moved:
            tail = "排名没有变化。" if zh else "The ranking does not change."
        else:
            tail = (f"前 {what_if.get('k')} 名有 {len(moved)} 处变化：" if zh else
                    f"{len(moved)} change(s) in the top {what_if.get('k')}:")
        return f"{head}\n\n{tail}"

    # -- the what-if control ----------------------------------------------------------------
    def run_what_if(self, ticked: list[str] | None, add_item: str | None, add_behaviour: str | None,
                    state: UIState) -> WhatIfView:
        """Re-rank without the unticked behaviours (and with one added), via the explainer."""
        state = copy.deepcopy(state)
        language = state.language
        if not state.user_id:
            error = label("pick_user_first", language)
            return WhatIfView(state, f"⚠️ {error}", views.whatif_frame(None, language), error)
        keep = {str(k) for k in (ticked or [])}
        remove = [int(k) for k in state.whatif_keys if k not in keep]
        add: list[tuple[str, str]] = []
        try:
            if add_item:
                add.append((self.service.resolve_item(str(add_item)), add_behaviour or "view"))
            if not remove and not add:
                return WhatIfView(state, label("whatif_nothing", language), views.whatif_frame(None, language))
            k = max(len(state.recommendations), 5)
            result = self.service.what_if(state.user_id, remove=remove, add=add, k=k)
        except ServiceError as exc:  # unknown item, stale event key: readable, not a traceback
            log.warning("what-if failed for %s: %s", state.user_id, exc)
            error = label("failed", language, error=exc)
            return WhatIfView(state, f"⚠️ {error}", views.whatif_frame(None, language), error)
        state.what_if = result.to_json()
        state.focus = "whatif"
        return WhatIfView(state, self._whatif_text(state.what_if, language),
                          views.whatif_frame(state.what_if, language))

    # -- the effects tab ----------------------------------------------------------------------
    def effects(self, segment: str | None, language: str) -> EffectsView:
        """The causal graph picture and the behaviour effects (population or by ``segment``)."""
        segment = segment if segment in SEGMENTS else "all"
        try:
            picture: str | None = str(self.service.causal_graph())
        except Exception as exc:
            log.warning("drawing the causal graph failed: %s", exc)
            picture = None
        try:
            report = self.service.effects(segment=None if segment == "all" else segment)
            effects = [e.to_json() for e in report.effects]
        except Exception as exc:
            log.exception("loading the causal report failed")
            error = label("failed", language, error=exc)
            return EffectsView(picture, views.behaviour_effects_frame([], language), f"⚠️ {error}", error)
        version = self.service.status().data_version
        note = ""
        if report.data_version != version:
            note = (f"估计基于数据版本 {report.data_version}（当前 {version}），正在后台重新估计。" if language == "zh"
                    else f"Estimated on data version {report.data_version} (now {version}); "
                         "re-estimating in the background.")
        return EffectsView(picture, views.behaviour_effects_frame(effects, language), note)


#: Behaviours the what-if control can add (the funnel; ratings are not a shop behaviour).
ADDABLE_BEHAVIOURS: tuple[str, ...] = FUNNEL
