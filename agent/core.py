"""The agent: a LangChain tool-using loop bound to one user per chat session.

It orchestrates and composes; it holds no recommender or causal logic. Each turn:

1. the message is understood (:mod:`.intents`): the semantic router picks its intent, the slot
   extractor its details, and the conversation so far resolves follow-ups, "it" and ordinals;
   the reply language is the one asked for, else the caller's, else the message's;
2. the turn runs one compiled agent graph (``langchain.agents.create_agent``, built once per
   backend) with the tools over the service (:mod:`.tools`), bound to the session's user through
   the run's configuration;
3. the model of the loop is the offline planner by default, or an OpenAI-compatible LLM with
   native tool calling;
4. the guard checks an LLM's answer: every number and title against this turn's tool results,
   and every sentence for claims the results do not support; a failing answer is regenerated
   once, then replaced by the composed answer;
5. the answer comes back as text plus the structured results (recommendations, explanations,
   what-ifs, effects, history) and the tool trace.

:meth:`Agent.chat` keeps the conversation in a server session; :meth:`Agent.chat_messages` is
stateless: the conversation is the messages the caller sends (the OpenAI-compatible endpoint).
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from whyrec.prompts import phrasing_prompt, system_prompt
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings

from .backends import BackendSpec, LocalPhraser, backend_spec, make_openai_model
from .composer import Composer
from .failure import ToolFailure
from .guard import FaithfulnessCheck, GroundingGuard, GuardResult
from .intents import CONTINUABLE, Intent, Understanding
from .language import detect_language, reply_language
from .planner import PLAN_KEY, OfflinePlan, OfflinePlanner, turn_results
from .router import Router, shared_router
from .session import Session, SessionStore
from .slots import Catalog, listed_items, quoted_item
from .tools import TOOLS, SessionContext, SessionView

log = logging.getLogger(__name__)

HISTORY_TURNS = 6
RECURSION_LIMIT = 12
#: Days of "recently" (before the shop's latest event).
RECENT_DAYS = 14
#: Kinds whose answer needs no tool and gets no model-written lead sentence.
NO_TOOL_KINDS = ("other_user", "greeting", "thanks", "goodbye", "help", "out_of_scope", "clarify")



#: A stateless conversation is read again from its most recent messages only: at most this many,
REPLAY_MESSAGES = 40
#: holding at most this many times ``max_message_chars`` of text together (older ones are left out).
REPLAY_SHARE = 5


def recent_turns(turns: list[tuple[str, str]], most: int, chars: int) -> list[tuple[str, str]]:
    """The latest of ``turns`` that fit both bounds (a suffix: what "the first one" refers to is
    in the last list shown, so the newest messages are the ones that matter)."""
    kept: list[tuple[str, str]] = []
    total = 0
    for role, text in reversed(turns[-most:] if most > 0 else []):
        total += len(text)
        if total > chars:
            break
        kept.append((role, text))
    return kept[::-1]


class AgentError(ValueError):
    """A request the agent cannot serve (unknown user, session of another user, bad message)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ToolTrace:
    """One tool call of a turn: what was asked and what came back."""

    name: str
    args: dict[str, Any]
    output: str
    ok: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args, "output": self.output, "ok": self.ok}


@dataclass
class Answer:
    """One reply: text plus the structured results the UI and API show."""

    text: str
    language: str
    user_id: str
    session_id: str
    backend: str
    intent: str | None = None
    recommendations: list[Any] = field(default_factory=list)   # RecommendedItem
    explanations: list[Any] = field(default_factory=list)      # Explanation
    what_ifs: list[Any] = field(default_factory=list)          # WhatIfResult
    effects: list[Any] = field(default_factory=list)           # BehaviourEffect
    searches: list[Any] = field(default_factory=list)          # SearchResult
    history: list[Any] = field(default_factory=list)           # HistoryEvent (newest first)
    popular: list[Any] = field(default_factory=list)           # PopularItem
    understood: dict[str, Any] | None = None                   # the intent, its slots and confidence
    tool_trace: list[ToolTrace] = field(default_factory=list)
    grounded: bool = True
    fallback: str | None = None     # why the template answer was used instead of the model's
    seconds: float = 0.0
    usage: dict[str, int] | None = None   # tokens an LLM reported for this turn (None: no LLM, or not reported)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text, "language": self.language, "user_id": self.user_id,
            "session_id": self.session_id, "backend": self.backend, "intent": self.intent,
            "recommendations": [r.to_json() for r in self.recommendations],
            "explanations": [e.to_json() for e in self.explanations],
            "what_ifs": [w.to_json() for w in self.what_ifs],
            "effects": [e.to_json() for e in self.effects],
            "searches": [s.to_json() for s in self.searches],
            "history": [h.to_json() for h in self.history],
            "popular": [p.to_json() for p in self.popular],
            "understood": self.understood,
            "tool_trace": [t.to_json() for t in self.tool_trace],
            "grounded": self.grounded, "fallback": self.fallback, "seconds": round(self.seconds, 3),
            "usage": self.usage,
        }


class Agent:
    """Chat with whyrec: ``Agent.from_workspace(path).chat(user_id, message)``."""

    def __init__(self, service: WhyrecService, spec: BackendSpec | None = None, chat_model: Any = None,
                 phraser: Any = None, router: Router | None = None) -> None:
        self.service = service
        self.settings = service.settings
        self.spec = spec or backend_spec(service.settings)
        self._chat_model = chat_model
        self._phraser = phraser
        self.sessions = SessionStore.from_settings(service.settings)
        self.counters: Counter[str] = Counter()
        self._guard: tuple[int, GroundingGuard] | None = None
        self._graphs: dict[str, Any] = {}
        self._graphs_lock = threading.Lock()
        self._router = router
        self._understanding: tuple[int, Understanding, Any] | None = None
        self._understanding_lock = threading.Lock()
        self._faithfulness: tuple[int, FaithfulnessCheck] | None = None
        self._retries: dict[int, list[BaseMessage]] = {}  # a turn's rewrite request, for its usage

    @classmethod
    def from_workspace(cls, path: str | Path, llm: str | None = None, settings: Settings | None = None,
                       chat_model: Any = None) -> Agent:
        """An agent over the workspace at ``path``; ``llm`` as in ``WHYREC_LLM``.

        ``chat_model`` injects a LangChain chat model (any tool-calling model) for the openai kind.
        """
        base = settings or Settings.from_env({})
        settings = base.with_overrides(workspace=Path(path), llm=llm)
        return cls(WhyrecService(settings), chat_model=chat_model)

    @property
    def backend_name(self) -> str:
        return self.spec.name

    # -- public API ---------------------------------------------------------------------------
    def warm_up(self, segments: bool = False) -> None:
        """Build what a first chat turn would otherwise wait for: the service's model, causal report,
        vector store and embedding model, and the router (trained on its examples) with the catalog
        it reads titles against; then, with ``segments``, the effects per segment. The server runs
        this in the background at start."""

        def router() -> None:
            try:
                self.understanding()
            except Exception:  # each turn reports its own error; a failed warm-up only logs
                log.exception("router warm-up failed")

        # The router before "warm": a first chat turn must not wait for it (nor for the segments).
        self.service.warm_up(segments=segments, also=router)

    def understanding(self) -> Understanding:
        """The router (trained once per process and embedder) over the current catalog."""
        version = self.service.workspace.data_version
        with self._understanding_lock:
            if self._understanding is None or self._understanding[0] != version:
                router = self._router or shared_router(self.service.embedder)
                catalog = Catalog.from_items(self.service.workspace.items())
                clock = self.service.workspace.events()["timestamp"].max()
                self._understanding = (version, Understanding(router, catalog), clock)
            return self._understanding[1]

    def chat(self, user_id: str, message: str, session_id: str | None = None,
             language: str | None = None, on_event: Callable[[dict[str, Any]], None] | None = None) -> Answer:
        """Answer ``message`` for ``user_id`` in a server-kept session (raises :class:`AgentError`
        for bad requests). ``language`` is the caller's choice; a message that asks for a reply
        language ("answer in Chinese") overrides it."""
        started = time.perf_counter()
        user_id, message = self._check(user_id, message)
        session = self.sessions.get(session_id, user_id)
        with session.lock:
            self.sessions.sync(session, self._replay)  # another replica may have taken turns since
            answer = self._turn(session, message, language, on_event or (lambda event: None))
            self.sessions.save(session)
        return self._done(answer, started, message)

    def chat_messages(self, user_id: str, messages: list[tuple[str, str]], language: str | None = None,
                      on_event: Callable[[dict[str, Any]], None] | None = None) -> Answer:
        """Answer the last user message of ``messages`` ((role, text) pairs, oldest first) with no
        server state: the earlier messages are the conversation ("why the first one?" is resolved
        against the list in the last assistant message that showed one)."""
        started = time.perf_counter()
        turns = [(role, text) for role, text in messages if role in ("user", "assistant") and text.strip()]
        last = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
        if last is None:
            raise AgentError("no user message with text content")
        user_id, message = self._check(user_id, turns[last][1])
        limit = self.settings.max_message_chars
        for number, (role, text) in enumerate(turns[:last], start=1):
            # Every earlier message is read again (router, slots): each under the same limit as
            # the last, or one request could make the server read a megabyte of text.
            if role == "user" and len(text.strip()) > limit:
                raise AgentError(f"earlier message {number} is longer than {limit} characters", status=422)
        session = Session(f"stateless-{uuid.uuid4().hex[:16]}", SessionView(user_id))
        self._replay(session, recent_turns(turns[:last], REPLAY_MESSAGES, REPLAY_SHARE * limit))
        answer = self._turn(session, message, language, on_event or (lambda event: None))
        return self._done(answer, started, message)

    def _check(self, user_id: str, message: str) -> tuple[str, str]:
        user_id = str(user_id)
        message = (message or "").strip()
        if not message:
            raise AgentError("the message is empty")
        limit = self.settings.max_message_chars
        if len(message) > limit:
            raise AgentError(f"the message is longer than {limit} characters", status=422)
        return user_id, message

    def _done(self, answer: Answer, started: float, message: str) -> Answer:
        answer.seconds = time.perf_counter() - started
        self.counters["turns"] += 1
        log.info("turn user=%s session=%s intent=%s backend=%s grounded=%s fallback=%s %.3fs%s",
                 answer.user_id, answer.session_id, answer.intent, self.spec.kind, answer.grounded,
                 answer.fallback, answer.seconds,
                 f" message={message!r}" if self.settings.debug else "")
        return answer

    def _replay(self, session: Session, turns: list[tuple[str, str]]) -> None:
        """Rebuild a session from earlier messages: what each user message asked (no tool runs),
        the last list an assistant message showed and the item it talked about."""
        understanding = self.understanding()
        catalog = understanding.catalog
        view = session.view
        own_items = self.service.own_items(view.user_id)
        known = self.service.knows_user(view.user_id)
        for role, text in turns:
            session.history.append((role, text))
            if role == "user":
                intent = understanding.read(text, session.dialog, view.last_recommendations, view.last_item,
                                            view.user_id, own_items)
                session.dialog.remember(intent, text)
                if intent.item_id:
                    view.last_item = intent.item_id
                if intent.kind == "recommend":
                    view.last_k = intent.k
                    try:
                        view.last_filters = self.service.item_filter(
                            intent.slots.category, intent.slots.query, intent.slots.exclude,
                            intent.slots.price if intent.slots.price in ("low", "high") else None,
                            intent.slots.price_max)
                    except Exception:  # a filter the service refuses: explain against the whole list
                        view.last_filters = None
                continue
            listed = listed_items(text, catalog)
            if listed and session.dialog.last_kind == "recommend" and session.dialog.last_list is not None \
                    and session.dialog.last_list.more:   # a "more" page continues the list it pages
                view.last_recommendations = view.last_recommendations + [i for i in listed
                                                                         if i not in view.last_recommendations]
                view.last_k = len(view.last_recommendations)
            elif listed:
                view.last_recommendations = listed
                view.last_k = max(len(listed), 5)
            if listed and (session.dialog.last_kind == "popular" or (session.dialog.last_kind == "recommend"
                                                                     and not known)):
                view.last_popular = len(view.last_recommendations)   # a list of the most bought: "more" pages it
            if not listed:
                mentioned = quoted_item(text, catalog)
                if mentioned:
                    view.last_item = mentioned
        del session.history[:-2 * HISTORY_TURNS]

    def stream(self, user_id: str, message: str, session_id: str | None = None,
               language: str | None = None) -> Iterator[dict[str, Any]]:
        """Events of a turn: ``{"type": "tool", ...}`` as tools run, ``{"type": "delta", "text"}``
        chunks of the (already guarded) answer, then ``{"type": "answer", "answer": Answer}``."""
        return self._stream(lambda on_event: self.chat(user_id, message, session_id, language, on_event=on_event))

    def stream_messages(self, user_id: str, messages: list[tuple[str, str]],
                        language: str | None = None) -> Iterator[dict[str, Any]]:
        """:meth:`stream` for a stateless turn (see :meth:`chat_messages`)."""
        return self._stream(lambda on_event: self.chat_messages(user_id, messages, language, on_event=on_event))

    @staticmethod
    def _stream(turn: Callable[[Callable[[dict[str, Any]], None]], Answer]) -> Iterator[dict[str, Any]]:
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["answer"] = turn(events.put)
            except Exception as exc:  # delivered to the consumer below
                box["error"] = exc
            finally:
                events.put({"type": "done"})

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        while True:
            event = events.get()
            if event["type"] == "done":
                break
            yield event
        worker.join()
        if "error" in box:
            raise box["error"]
        answer: Answer = box["answer"]
        for chunk in _chunks(answer.text):
            yield {"type": "delta", "text": chunk}
        yield {"type": "answer", "answer": answer}

    # -- one turn ------------------------------------------------------------------------------
    def _turn(self, session: Session, message: str, given_language: str | None,
              on_event: Callable[[dict[str, Any]], None]) -> Answer:
        view = session.view
        understanding = self.understanding()
        intent = understanding.read(message, session.dialog, view.last_recommendations, view.last_item,
                                    view.user_id, self.service.own_items(view.user_id))
        language = reply_language(message, intent.slots.language, given_language)
        # A shopper the model knows no behaviours of is answered too: lists are the items the most
        # shoppers bought, said so; questions about their own behaviours say there are none — or,
        # when their behaviours are recorded but not learned yet (a refit is due), say that.
        known = self.service.knows_user(view.user_id)
        composer = self._composer(language, intent, pending_user=not known and self.service.pending_user(view.user_id))
        context = SessionContext(self.service, view, known_user=known)
        plan = OfflinePlan(intent, composer, view.user_id, self._since(intent), understanding.catalog.category_of_kind,
                           known_user=known)
        fallback: str | None = None
        grounded = True

        retries: list[BaseMessage] = []
        if self.spec.kind == "openai":
            try:
                messages, text, grounded, fallback = self._llm_turn(session, message, language, context,
                                                                    composer, on_event)
                retries = self._retries.pop(id(session), [])
            except Exception as exc:  # timeout, connection, malformed reply: answer offline
                self._retries.pop(id(session), None)
                log.warning("LLM backend failed (%s: %s); answering offline", type(exc).__name__, exc)
                self.counters["llm_fallbacks"] += 1
                messages = self._run_graph("offline", [HumanMessage(message)], context, on_event, plan)
                text = str(messages[-1].content) + "\n\n" + composer.note("offline_note")
                fallback = "llm_unavailable"
        else:
            messages = self._run_graph("offline", [HumanMessage(message)], context, on_event, plan)
            text = str(messages[-1].content)
            if self.spec.kind == "phrasing" and intent.kind not in NO_TOOL_KINDS:
                text, grounded, fallback = self._phrase(text, messages, message, language)

        answer = self._answer(session, intent, messages, text, language, grounded, fallback)
        if self.spec.kind == "openai" and fallback != "llm_unavailable":
            answer.usage = _usage(messages + retries)
        session.dialog.remember(intent, message)
        if intent.item_id and intent.kind in CONTINUABLE:
            view.last_item = intent.item_id
        session.history.append(("user", message))
        session.history.append(("assistant", answer.text))
        del session.history[:-2 * HISTORY_TURNS]
        return answer

    def _composer(self, language: str, intent: Intent, pending_user: bool = False) -> Composer:
        catalog = self.understanding().catalog
        edges = None
        if intent.kind == "recommend" and intent.slots.price in ("low", "high"):
            try:
                edges = self.service.price_edges()
            except Exception:  # no prices: the tool says so
                edges = None
        return Composer(language, title_of=catalog.title, price_edges=edges, pending_user=pending_user)

    def _since(self, intent: Intent) -> str | None:
        """The first day of the time window the message asked for, on the shop's clock (its
        latest event: a log that ended last year has no "last week" of this year)."""
        window = intent.slots.time
        if intent.kind != "history" or not window:
            return None
        self.understanding()
        clock = self._understanding[2] if self._understanding else None
        if clock is None or pd.isna(clock):
            return None
        days = RECENT_DAYS if window == "recent" else int(window.rstrip("d"))
        return (pd.Timestamp(clock) - pd.Timedelta(days=days)).date().isoformat()

    def _graph(self, kind: str) -> Any:
        """The compiled agent graph of a backend kind, built once (tools reach the session through
        the run's configuration, so one graph serves every session)."""
        with self._graphs_lock:
            graph = self._graphs.get(kind)
            if graph is None:
                from langchain.agents import create_agent

                model = OfflinePlanner() if kind == "offline" else (
                    self._chat_model or make_openai_model(self.settings))
                graph = create_agent(model, list(TOOLS))
                self._graphs[kind] = graph
            return graph

    def _run_graph(self, kind: str, messages: list[BaseMessage], context: SessionContext,
                   on_event: Callable[[dict[str, Any]], None], plan: OfflinePlan | None = None) -> list[BaseMessage]:
        config = context.config(recursion_limit=RECURSION_LIMIT)
        config["configurable"][PLAN_KEY] = plan
        state: dict[str, Any] = {}
        for update in self._graph(kind).stream({"messages": messages}, config=config, stream_mode="updates"):
            for delta in update.values():
                for m in (delta or {}).get("messages", []):
                    if isinstance(m, AIMessage) and m.tool_calls:
                        for call in m.tool_calls:
                            on_event({"type": "tool", "name": call["name"], "args": call["args"]})
                state.setdefault("messages", list(messages)).extend((delta or {}).get("messages", []))
        return state.get("messages", list(messages))

    # -- LLM turns --------------------------------------------------------------------------------
    def _llm_turn(self, session: Session, message: str, language: str, context: SessionContext,
                  composer: Composer, on_event: Callable[[dict[str, Any]], None]
                  ) -> tuple[list[BaseMessage], str, bool, str | None]:
        model = self._chat_model or make_openai_model(self.settings)
        system = system_prompt(language) + self._session_context(session.view, language)
        if not context.known_user:
            system += "\n\n" + composer.cold("context")
        history: list[BaseMessage] = [HumanMessage(text) if role == "user" else AIMessage(text)
                                      for role, text in session.history]
        turn: list[BaseMessage] = [SystemMessage(system), *history, HumanMessage(message)]
        # Each model request has its own timeout; this bounds the whole loop (model calls and
        # tool runs together), so a stuck endpoint cannot hold a chat turn forever.
        messages = _with_deadline(lambda: self._run_graph("openai", turn, context, on_event),
                                  2 * self.settings.llm_timeout + 30.0)
        text = _text_of(messages[-1])
        if not text.strip():
            raise ValueError("the model returned an empty answer")
        evidence = self._evidence(messages, message)
        problems = self._problems(text, evidence, messages, composer)
        if not problems:
            return messages, text, True, None
        self.counters["guard_rejections"] += 1
        log.warning("guard rejected an answer (%s); asking once for a rewrite", problems)
        retry = _with_deadline(lambda: model.invoke(
            [SystemMessage(system)] + [m for m in messages if not isinstance(m, SystemMessage)]
            + [HumanMessage("Your answer " + problems + ". Rewrite it saying only what the tool results "
                            "above state, with only their numbers and item titles.")]),
            self.settings.llm_timeout + 5.0)
        self._retries[id(session)] = [retry] if isinstance(retry, AIMessage) else []
        retry_text = _text_of(retry)
        if retry_text.strip() and not self._problems(retry_text, evidence, messages, composer):
            return messages, retry_text, True, None
        self.counters["guard_replacements"] += 1
        log.warning("guard replaced an answer with the composed answer")
        results = turn_results(messages)
        text = composer.from_results(results, session.view.user_id, context.known_user) + "\n\n" \
            + composer.note("guard_note")
        return messages, text, False, "guard"

    def _problems(self, text: str, evidence: list[str], messages: list[BaseMessage], composer: Composer) -> str:
        """What is wrong with an LLM's answer ('' when nothing): numbers or titles no tool returned,
        quoted instructions, or sentences the results do not support."""
        check = self._guard_check(text, evidence)
        if not check.grounded:
            return "cited " + check.describe()
        results = turn_results(messages)
        composed = composer.from_results(results, "") if results else ""
        faith = self.faithfulness().check(text, [composed, *evidence[1:]], composer.language,
                                          causal_results=_has_causal(results))
        return "" if faith.faithful else "said things the results do not support: " + faith.describe()

    def faithfulness(self) -> FaithfulnessCheck:
        """The sentence-level check (the sentence model through the router's worker thread)."""
        version = self.service.workspace.data_version
        if self._faithfulness is None or self._faithfulness[0] != version:
            router = self.understanding().router
            titles = self.service.workspace.items()["title"].dropna().astype(str)
            self._faithfulness = (version, FaithfulnessCheck(router.embed_texts, titles))
        return self._faithfulness[1]

    def _phrase(self, composed: str, messages: list[BaseMessage], message: str,
                language: str) -> tuple[str, bool, str | None]:
        """Let a small local model write a friendly lead sentence for the composed answer.

        A 135M-parameter model cannot be trusted with facts, so it gets no facts to state: its
        sentence is kept only if it is short, in the user's language, holds no number and no item
        title, and passes the faithfulness check (it frames the answer, or says only what the
        composed answer says). Otherwise the composed answer goes out alone (``fallback`` says
        the model's sentence was dropped).
        """
        if self._phraser is None:
            self._phraser = LocalPhraser(self.spec, max_seconds=self.settings.llm_timeout)
        try:
            self._phraser.load()  # loading the weights is not the model's answer time
        except Exception as exc:
            log.warning("local model cannot load (%s); using the composed answer", exc)
            self.counters["llm_fallbacks"] += 1
            return composed + "\n\n" + Composer(language).note("offline_note"), True, "llm_unavailable"
        results = turn_results(messages)
        for temperature in (0.3, 0.1):
            try:
                ask = functools.partial(self._phraser.phrase, phrasing_prompt(language), composed,
                                        temperature=temperature, max_new_tokens=48)
                lead = _with_deadline(ask, self.settings.llm_timeout + 5.0)
            except Exception as exc:
                log.warning("local model failed (%s); using the composed answer", exc)
                self.counters["llm_fallbacks"] += 1
                return composed + "\n\n" + Composer(language).note("offline_note"), True, "llm_unavailable"
            lead = _first_sentence(lead)
            short = len(lead.split()) <= 30 if language == "en" else len(lead) <= 60
            if lead and short and detect_language(lead) == language \
                    and self._guard_check(lead, evidence=[]).grounded and not re.search(r"\d", lead) \
                    and self.faithfulness().check(lead, [composed], language, _has_causal(results)).faithful:
                return f"{lead}\n\n{composed}", True, None
            log.info("dropped the local model's sentence %r", lead)
            self.counters["guard_rejections"] += 1
        self.counters["guard_replacements"] += 1
        return composed, True, "guard"

    def _guard_check(self, text: str, evidence: list[str]) -> GuardResult:
        version = self.service.workspace.data_version
        if self._guard is None or self._guard[0] != version:
            self._guard = (version, GroundingGuard(self.service.workspace.items()["title"].dropna().astype(str),
                                                   secrets=[system_prompt("en"), system_prompt("zh")]))
        return self._guard[1].check(text, evidence)

    @staticmethod
    def _evidence(messages: list[BaseMessage], user_message: str) -> list[str]:
        evidence = [user_message]
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        for m in messages[last_human + 1:]:
            if isinstance(m, ToolMessage):
                evidence.append(str(m.content))
                artifact = getattr(m, "artifact", None)
                if artifact is not None and hasattr(artifact, "to_json"):
                    evidence.append(json.dumps(artifact.to_json(), ensure_ascii=False, default=str))
        return evidence

    def _session_context(self, view: SessionView, language: str) -> str:
        if not view.last_recommendations:
            return ""
        lines = [f"{n}. {self.service.item(i).title} (item_id {i})"
                 for n, i in enumerate(view.last_recommendations, 1)]
        head = "\n\n上一轮推荐（用户可能用序号指代）：\n" if language == "zh" else \
            "\n\nLast recommendations shown to the user (they may refer to them by position):\n"
        return head + "\n".join(lines)

    # -- assembling the answer ------------------------------------------------------------------
    def _answer(self, session: Session, intent: Intent, messages: list[BaseMessage], text: str,
                language: str, grounded: bool, fallback: str | None) -> Answer:
        answer = Answer(text=text, language=language, user_id=session.view.user_id,
                        session_id=session.session_id, backend=self.spec.name, intent=intent.kind,
                        grounded=grounded, fallback=fallback,
                        understood=intent.to_json() | {"route": intent.route.to_json() if intent.route else None})
        calls = {c["id"]: c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
        for m in messages:
            if not isinstance(m, ToolMessage):
                continue
            call: dict[str, Any] = dict(calls.get(m.tool_call_id) or {"name": m.name, "args": {}})
            artifact = getattr(m, "artifact", None)
            ok = artifact is not None and not isinstance(artifact, ToolFailure)
            answer.tool_trace.append(ToolTrace(str(call["name"]), dict(call.get("args") or {}),
                                               str(m.content)[:20_000], ok))
            if not ok or artifact is None:
                continue
            name = call["name"]
            if name == "recommend":
                answer.recommendations = list(artifact.items)
            elif name == "explain":
                answer.explanations.append(artifact)
            elif name == "what_if":
                answer.what_ifs.append(artifact)
            elif name == "behaviour_effects":
                answer.effects.extend(artifact.effects)
            elif name in ("search_items", "search_behaviours"):
                answer.searches.append(artifact)
            elif name == "recent_behaviours":
                answer.history.extend(artifact.events)
            elif name == "popular_items":
                answer.popular.extend(artifact.items)
        return answer


def _usage(messages: list[BaseMessage]) -> dict[str, int] | None:
    """The tokens the LLM reported for this turn's calls, in OpenAI's names; None unless every
    call reported them (a partial count would understate)."""
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    calls = [m for m in messages[last_human + 1:] if isinstance(m, AIMessage)]
    if not calls or any(not m.usage_metadata for m in calls):
        return None
    prompt = sum(int(m.usage_metadata["input_tokens"]) for m in calls if m.usage_metadata)
    completion = sum(int(m.usage_metadata["output_tokens"]) for m in calls if m.usage_metadata)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _has_causal(results: list[tuple[str, Any]]) -> bool:
    """True when a result of the turn states causal effects (the effects tool, or an explanation
    with causal statements about its item)."""
    return any(name == "behaviour_effects" or (name == "explain" and getattr(r, "causal", None))
               for name, r in results if not isinstance(r, ToolFailure))


def _chunks(text: str, words: int = 6) -> list[str]:
    """``text`` in pieces that join back to it exactly (a few words, or a few Chinese characters)."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    out: list[str] = []
    for piece in pieces:
        while len(piece) > 24 and not piece.isspace():  # long runs of Chinese without spaces
            out.append(piece[:12])
            piece = piece[12:]
        if out and len(out[-1].split()) < words and not out[-1].endswith("\n"):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _first_sentence(text: str) -> str:
    """The first complete sentence of ``text`` ('' if the model stopped mid-sentence)."""
    match = re.match(r"\s*(.+?[.!?。！？])(?:\s|$)", text.strip().split("\n")[0] + " ")
    return match.group(1).strip() if match else ""


def _text_of(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "")


def _with_deadline(work: Callable[[], Any], seconds: float) -> Any:
    """Run ``work`` in a thread; raise TimeoutError if it has not finished within ``seconds``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]
