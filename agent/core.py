"""The agent: a LangChain tool-using loop bound to one user per chat session.

It orchestrates and composes; it holds no recommender or causal logic. Each turn:

1. the message's language is detected (or given), the session's user is fixed;
2. the turn runs one compiled agent graph (``langchain.agents.create_agent``, built once per
   backend) with six tools over the service (search_items, search_behaviours, recommend,
   explain, what_if, behaviour_effects), bound to that user through the run's configuration;
3. the model of the loop is the offline planner by default, or an OpenAI-compatible LLM with
   native tool calling;
4. the grounding guard checks every number and title of an LLM's answer against this turn's
   tool results; a failing answer is regenerated once, then replaced by the template answer;
5. the answer comes back as text plus the structured results (recommendations, explanations,
   what-ifs, effects) and the tool trace.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from whyrec.prompts import phrasing_prompt, system_prompt
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings

from .backends import BackendSpec, LocalPhraser, backend_spec, make_openai_model
from .composer import Composer
from .failure import ToolFailure
from .guard import GroundingGuard, GuardResult
from .intents import Intent, ItemResolver, parse_intent
from .language import detect_language
from .planner import PLAN_KEY, OfflinePlan, OfflinePlanner, turn_results
from .session import Session, SessionStore
from .tools import TOOLS, SessionContext, SessionView

log = logging.getLogger(__name__)

HISTORY_TURNS = 6
RECURSION_LIMIT = 12


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
    tool_trace: list[ToolTrace] = field(default_factory=list)
    grounded: bool = True
    fallback: str | None = None     # why the template answer was used instead of the model's
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text, "language": self.language, "user_id": self.user_id,
            "session_id": self.session_id, "backend": self.backend, "intent": self.intent,
            "recommendations": [r.to_json() for r in self.recommendations],
            "explanations": [e.to_json() for e in self.explanations],
            "what_ifs": [w.to_json() for w in self.what_ifs],
            "effects": [e.to_json() for e in self.effects],
            "searches": [s.to_json() for s in self.searches],
            "tool_trace": [t.to_json() for t in self.tool_trace],
            "grounded": self.grounded, "fallback": self.fallback, "seconds": round(self.seconds, 3),
        }


class Agent:
    """Chat with whyrec: ``Agent.from_workspace(path).chat(user_id, message)``."""

    def __init__(self, service: WhyrecService, spec: BackendSpec | None = None, chat_model: Any = None,
                 phraser: Any = None) -> None:
        self.service = service
        self.settings = service.settings
        self.spec = spec or backend_spec(service.settings)
        self._chat_model = chat_model
        self._phraser = phraser
        self.sessions = SessionStore()
        self.counters: Counter[str] = Counter()
        self._guard: tuple[int, GroundingGuard] | None = None
        self._graphs: dict[str, Any] = {}
        self._graphs_lock = threading.Lock()

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
    def chat(self, user_id: str, message: str, session_id: str | None = None,
             language: str | None = None, on_event: Callable[[dict[str, Any]], None] | None = None) -> Answer:
        """Answer ``message`` for ``user_id`` (raises :class:`AgentError` for bad requests)."""
        started = time.perf_counter()
        user_id = str(user_id)
        message = (message or "").strip()
        if not message:
            raise AgentError("the message is empty")
        limit = self.settings.max_message_chars
        if len(message) > limit:
            raise AgentError(f"the message is longer than {limit} characters", status=422)
        if not self.service.knows_user(user_id):
            raise AgentError(f"unknown user {user_id!r}: no behaviours recorded for this user", status=404)
        language = language if language in ("en", "zh") else detect_language(message)
        session = self.sessions.get(session_id, user_id)
        with session.lock:
            answer = self._turn(session, message, language, on_event or (lambda event: None))
        answer.seconds = time.perf_counter() - started
        self.counters["turns"] += 1
        log.info("turn user=%s session=%s intent=%s backend=%s grounded=%s fallback=%s %.3fs%s",
                 user_id, answer.session_id, answer.intent, self.spec.kind, answer.grounded,
                 answer.fallback, answer.seconds,
                 f" message={message!r}" if self.settings.debug else "")
        return answer

    def stream(self, user_id: str, message: str, session_id: str | None = None,
               language: str | None = None) -> Iterator[dict[str, Any]]:
        """Events of a turn: ``{"type": "tool", ...}`` as tools run, ``{"type": "delta", "text"}``
        chunks of the (already guarded) answer, then ``{"type": "answer", "answer": Answer}``."""
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["answer"] = self.chat(user_id, message, session_id, language, on_event=events.put)
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
        words = answer.text.split(" ")
        for start in range(0, len(words), 6):
            chunk = " ".join(words[start:start + 6])
            yield {"type": "delta", "text": chunk + (" " if start + 6 < len(words) else "")}
        yield {"type": "answer", "answer": answer}

    # -- one turn ------------------------------------------------------------------------------
    def _turn(self, session: Session, message: str, language: str,
              on_event: Callable[[dict[str, Any]], None]) -> Answer:
        view = session.view
        resolver = ItemResolver.from_catalog(self.service.workspace.items(), view.last_recommendations,
                                             view.last_item)
        intent = parse_intent(message, resolver, view.user_id)
        composer = Composer(language)
        context = SessionContext(self.service, view)
        plan = OfflinePlan(intent, composer, view.user_id)
        fallback: str | None = None
        grounded = True

        if self.spec.kind == "openai":
            try:
                messages, text, grounded, fallback = self._llm_turn(session, message, language, context,
                                                                    composer, on_event)
            except Exception as exc:  # timeout, connection, malformed reply: answer offline
                log.warning("LLM backend failed (%s: %s); answering offline", type(exc).__name__, exc)
                self.counters["llm_fallbacks"] += 1
                messages = self._run_graph("offline", [HumanMessage(message)], context, on_event, plan)
                text = str(messages[-1].content) + "\n\n" + Composer(language).note("offline_note")
                fallback = "llm_unavailable"
        else:
            messages = self._run_graph("offline", [HumanMessage(message)], context, on_event, plan)
            text = str(messages[-1].content)
            if self.spec.kind == "phrasing":
                text, grounded, fallback = self._phrase(text, messages, message, language)

        answer = self._answer(session, intent, messages, text, language, grounded, fallback)
        session.history.append(("user", message))
        session.history.append(("assistant", answer.text))
        del session.history[:-2 * HISTORY_TURNS]
        return answer

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
        check = self._guard_check(text, evidence)
        if check.grounded:
            return messages, text, True, None
        self.counters["guard_rejections"] += 1
        log.warning("grounding guard rejected an answer (%s); asking once for a rewrite", check.describe())
        retry = _with_deadline(lambda: model.invoke(
            [SystemMessage(system)] + [m for m in messages if not isinstance(m, SystemMessage)]
            + [HumanMessage("Your answer cited " + check.describe() + ". Rewrite it using only numbers "
                            "and item titles that appear in the tool results above.")]),
            self.settings.llm_timeout + 5.0)
        retry_text = _text_of(retry)
        if retry_text.strip() and self._guard_check(retry_text, evidence).grounded:
            return messages, retry_text, True, None
        self.counters["guard_replacements"] += 1
        log.warning("grounding guard replaced an answer with the template answer")
        results = turn_results(messages)
        text = composer.from_results(results, session.view.user_id) + "\n\n" + composer.note("guard_note")
        return messages, text, False, "guard"

    def _phrase(self, composed: str, messages: list[BaseMessage], message: str,
                language: str) -> tuple[str, bool, str | None]:
        """Let a small local model write a friendly lead sentence for the composed answer.

        A 135M-parameter model cannot be trusted with facts, so it gets no facts to state: its
        sentence is kept only if it is short, in the user's language, and holds no number and
        no item title at all (checked by the grounding guard with no evidence). Otherwise the
        composed answer goes out alone.
        """
        if self._phraser is None:
            self._phraser = LocalPhraser(self.spec, max_seconds=self.settings.llm_timeout)
        try:
            self._phraser.load()  # loading the weights is not the model's answer time
        except Exception as exc:
            log.warning("local model cannot load (%s); using the composed answer", exc)
            self.counters["llm_fallbacks"] += 1
            return composed + "\n\n" + Composer(language).note("offline_note"), True, "llm_unavailable"
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
                    and self._guard_check(lead, evidence=[]).grounded and not re.search(r"\d", lead):
                return f"{lead}\n\n{composed}", True, None
            self.counters["guard_rejections"] += 1
        self.counters["guard_replacements"] += 1
        return composed, False, "guard"

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
                        grounded=grounded, fallback=fallback)
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
        return answer


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
