"""The chat UI: a Gradio Blocks page mounted at ``/`` on the FastAPI app of ``whyrec serve``.

Layout (element ids in brackets, used by the browser test). Desktop: three columns under a top
bar; a phone (≤ 480 px) stacks them in this order, cards first:

* top bar: title [title], status line [status-line], shopper picker [user-picker], language
  switch [language], and the primary action "Recommend for me" [ask-recommend];
* cards [cards]: heading [cards-heading], recommendation cards [card-0..9] ([card-text-i]), each
  with its Why? button [why-0..9];
* panels [panels], tabs: the explanation [tab-explain] ([explanation]: headline, chart
  [.wr-chart], verified set, causal statements, Details); what-if [tab-whatif] ([whatif-remove],
  [whatif-item], [whatif-behaviour], [whatif-run], [whatif-result]); effects [tab-effects]
  ([effects-segment], [effects]: effects in words, Details, and the causal graph [causal-graph]);
* chat [chat-col]: the chat [chat], follow-up chips [chip-0..2], input [chat-input] with its
  character counter [char-count] and notice line [notice], [send], and the user's recent
  behaviours [history] in an accordion [history-box].

The state lives in the browser ([store], ``gr.BrowserState``), per user, so a reload keeps the
chat and the cards. All behaviour lives in :mod:`whyrec.ui.callbacks`; this module only wires it
to components; words come from the catalogue (:mod:`whyrec.ui.text`).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import typing
from collections.abc import Iterator
from typing import Any, cast

import gradio as gr  # the package's __init__ has quieted it (no analytics, no look-ups)
from fastapi import FastAPI

from whyrec.agent.auth import FailureBrake, KeyRing
from whyrec.agent.core import Agent
from whyrec.agent.render import behaviour_name
from whyrec.tools.service import WhyrecService

from . import views
from .access import ADMIN_LOGIN, LoginBrake, NoUploads, bound_user, login_check, session_state
from .assets import CSS, HEAD
from .callbacks import ADDABLE_BEHAVIOURS, MAX_CARDS, SEGMENTS, Callbacks, ChatStep, Panels, UserView
from .state import UIState
from .text import LANGUAGE_CHOICES, t

log = logging.getLogger(__name__)

CHIPS = 3
KEEP_USER = "__whyrec_keep__"   # the picker's script sends this when a switch was not confirmed
STORE_KEY = "whyrec-ui"
CONCURRENCY = 8
LOADING_AFTER = 0.3   # seconds before a panel shows its loading state

# Client-side steps (no server round trip): mark a reply in flight, keep the counter current,
# show the start of a new answer, bring the explanation into view on a narrow screen.
JS_START = "(...args) => { window.whyrec && whyrec.start(); return args; }"
# typed text while a reply is on its way is not sent (it stays in the input)
JS_SEND = ("(text, store) => { if (window.whyrec && whyrec.busy) { return ['', store]; } "
           "window.whyrec && whyrec.start(); return [text, store]; }")
JS_DONE = "() => { if (window.whyrec) { whyrec.stop(); whyrec.scrollAnswer(); whyrec.count(); } }"
JS_WHY_DONE = "() => { if (window.whyrec) { whyrec.stop(); whyrec.scrollAnswer(); whyrec.count(); whyrec.toPanel(); } }"
JS_COUNT = "() => { window.whyrec && whyrec.count(); }"
JS_COUNT_TEXT = "(text) => { window.whyrec && whyrec.count(text); }"
JS_COUNT_ON_DRAW = "if (window.whyrec) { whyrec.count(); }"   # each time the counter is drawn again
JS_CONFIRM = f"(user, store) => [window.whyrec ? whyrec.confirmSwitch(user, {KEEP_USER!r}) : user, store]"


def _store_secret(service: WhyrecService) -> str:
    """A stable key for the browser state of this workspace (so it survives a server restart).
    Gradio encrypts BrowserState in the browser, so this is no secret: the state is checked again
    on every load."""
    return hashlib.sha256(f"whyrec-ui|{service.settings.workspace}".encode()).hexdigest()[:32]


def build_blocks(service: WhyrecService, agent: Agent, login_required: bool = False) -> gr.Blocks:
    """The whole page for one service and agent (shared by every browser session).

    Every event that reads the browser's state takes the ``gr.Request`` and turns the state into
    the one its login may act on with ``session`` first (:func:`whyrec.ui.access.session_state`);
    the page refuses to build if one does not take the request.
    """
    ui = Callbacks(service, agent)

    def allowed(request: gr.Request) -> str | None:
        return bound_user(request, login_required)

    def session(raw: Any, request: gr.Request) -> UIState:
        return session_state(raw, request, login_required)

    workers = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="whyrec-ui")
    en = "en"
    limit = ui.max_chars

    with gr.Blocks(title="whyrec", fill_width=True) as demo:
        store = gr.BrowserState(UIState().to_json(), storage_key=STORE_KEY, secret=_store_secret(service))

        # -- top bar ---------------------------------------------------------------------------
        with gr.Row(elem_id="topbar", equal_height=False):
            with gr.Column(scale=3, min_width=260, elem_id="brand"):
                title = gr.HTML(_title_html(en), elem_id="title")
                status = gr.HTML("", elem_id="status-line")
            with gr.Column(scale=4, min_width=260, elem_id="controls"):
                with gr.Row(equal_height=True, elem_id="controls-row"):
                    user_picker = gr.Dropdown(choices=[], value=None, label=t("controls.user", en),
                                              allow_custom_value=True, filterable=True, scale=3, min_width=150,
                                              elem_id="user-picker")
                    language = gr.Radio(choices=list(LANGUAGE_CHOICES), value=en, label=t("controls.language", en),
                                        scale=2, min_width=150, elem_id="language")
                recommend = gr.Button(t("controls.recommend", en), variant="primary", size="lg",
                                      elem_id="ask-recommend")
        confirm = gr.HTML(_confirm_html(en), elem_id="switch-confirm", elem_classes="wr-hidden")
        drop_reply = gr.Button("", elem_id="switch-go", elem_classes="wr-hidden")

        # -- cards, panels, chat ---------------------------------------------------------------
        with gr.Row(elem_id="main", equal_height=False):
            with gr.Column(scale=4, min_width=300, elem_id="cards"):
                cards_heading = gr.HTML(views.cards_heading_html(0, en), elem_id="cards-heading")
                card_boxes, card_texts, why_buttons = [], [], []
                for i in range(MAX_CARDS):
                    with gr.Column(visible=False, elem_id=f"card-{i}", elem_classes="wr-card") as box:
                        text = gr.HTML("", elem_id=f"card-text-{i}")
                        why = gr.Button(t("cards.why", en), size="sm", elem_id=f"why-{i}", elem_classes="wr-why")
                    card_boxes.append(box)
                    card_texts.append(text)
                    why_buttons.append(why)
            with gr.Column(scale=6, min_width=340, elem_id="panels-col"):
                with gr.Tabs(elem_id="panels") as tabs:
                    with gr.Tab(t("tabs.explain", en), id="explain", elem_id="tab-explain") as tab_explain:
                        explanation = gr.HTML(views.explanation_html(None, en), elem_id="explanation")
                    with gr.Tab(t("tabs.whatif", en), id="whatif", elem_id="tab-whatif") as tab_whatif:
                        whatif_intro = gr.HTML(_intro_html("whatif.intro", en), elem_id="whatif-intro")
                        whatif_remove = gr.CheckboxGroup(choices=[], label=t("whatif.remove", en),
                                                         elem_id="whatif-remove")
                        whatif_item = gr.Dropdown(choices=[], value=None, label=t("whatif.item", en),
                                                  allow_custom_value=True, filterable=True, elem_id="whatif-item")
                        whatif_behaviour = gr.Radio(choices=_behaviour_choices(en), value="cart",
                                                    label=t("whatif.behaviour", en), elem_id="whatif-behaviour")
                        whatif_run = gr.Button(t("whatif.run", en), variant="primary", elem_id="whatif-run")
                        whatif_result = gr.HTML(views.whatif_html(None, en), elem_id="whatif-result")
                    with gr.Tab(t("tabs.effects", en), id="effects", elem_id="tab-effects") as tab_effects:
                        segment = gr.Dropdown(choices=_segment_choices(en), value="all",
                                              label=t("effects.segment", en), elem_id="effects-segment")
                        effects = gr.HTML("", elem_id="effects")
            with gr.Column(scale=5, min_width=300, elem_id="chat-col"):
                chatbot = gr.Chatbot(value=[], show_label=False, height=480, elem_id="chat", render_markdown=False,
                                     autoscroll=False, feedback_options=None, buttons=["copy"], layout="bubble",
                                     placeholder=t("chat.placeholder", en))
                with gr.Row(elem_id="chips", equal_height=True):
                    chips = [gr.Button("", size="sm", elem_id=f"chip-{i}", elem_classes="wr-chip", visible=False)
                             for i in range(CHIPS)]
                chat_input = gr.Textbox(label=t("chat.input_label", en), show_label=False, lines=1, max_lines=8,
                                        placeholder=t("chat.input_placeholder", en), elem_id="chat-input")
                with gr.Row(elem_id="input-row", equal_height=True):
                    counter = gr.HTML(views.counter_html(0, limit, en), elem_id="char-count",
                                      js_on_load=JS_COUNT_ON_DRAW)
                    send = gr.Button(t("chat.send", en), variant="primary", scale=0, min_width=100, elem_id="send")
                notice = gr.HTML("", elem_id="notice")
                with gr.Accordion(t("user.history_title", en, n=0), open=False, elem_id="history-box") as history_box:
                    history = gr.HTML(views.history_html([], 0, en), elem_id="history")

        # -- outputs ---------------------------------------------------------------------------
        panel_outputs: list[Any] = [*card_boxes, *card_texts, cards_heading, explanation, whatif_result,
                                    *chips, tabs]
        chat_outputs: list[Any] = [store, chatbot, chat_input, notice, counter, status, *panel_outputs]
        label_outputs: list[Any] = [title, confirm, user_picker, language, recommend, *why_buttons, tab_explain,
                                    tab_whatif, tab_effects, whatif_intro, whatif_remove, whatif_item,
                                    whatif_behaviour, whatif_run, segment, chatbot, chat_input, send,
                                    history_box, history, counter]
        page_outputs: list[Any] = [store, status, notice, *label_outputs, *panel_outputs, effects]

        def panel_values(panels: Panels) -> list[Any]:
            return [*[gr.Column(visible=v) for v, _ in panels.cards], *[h for _, h in panels.cards],
                    panels.cards_heading, panels.explanation, panels.whatif,
                    *[gr.Button(value=c, visible=True) for c in panels.chips],
                    *[gr.Button(visible=False) for _ in range(CHIPS - len(panels.chips))],
                    gr.Tabs(selected=panels.focus) if panels.focus else gr.skip()]

        def page_values(view: UserView, choices: list[str] | None) -> list[Any]:
            state, lang = view.state, view.state.language
            picker = (gr.Dropdown(label=t("controls.user", lang), value=state.user_id) if choices is None
                      else gr.Dropdown(label=t("controls.user", lang), value=state.user_id, choices=choices))
            keys = [key for _, key in view.whatif_choices]
            labels = [
                _title_html(lang), _confirm_html(lang), picker,
                gr.Radio(value=lang, label=t("controls.language", lang)),
                gr.Button(t("controls.recommend", lang)),
                *[gr.Button(t("cards.why", lang)) for _ in why_buttons],
                gr.Tab(label=t("tabs.explain", lang)), gr.Tab(label=t("tabs.whatif", lang)),
                gr.Tab(label=t("tabs.effects", lang)), _intro_html("whatif.intro", lang),
                gr.CheckboxGroup(choices=view.whatif_choices, value=keys, label=views.whatif_label(
                    len(keys), view.history_total, lang)),
                gr.Dropdown(choices=view.item_choices, value=None, label=t("whatif.item", lang)),
                gr.Radio(choices=_behaviour_choices(lang), label=t("whatif.behaviour", lang)),
                gr.Button(t("whatif.run", lang)),
                gr.Dropdown(choices=_segment_choices(lang), label=t("effects.segment", lang)),
                gr.Chatbot(value=cast(Any, state.messages), placeholder=t("chat.placeholder", lang)),
                gr.Textbox(label=t("chat.input_label", lang), placeholder=t("chat.input_placeholder", lang)),
                gr.Button(t("chat.send", lang)),
                gr.Accordion(label=t("user.history_title", lang, n=f"{view.history_total:,}")),
                view.history, views.counter_html(0, limit, lang),
            ]
            return [state.to_json(), ui.status(state), views.notice_html(view.error), *labels,
                    *panel_values(ui.panels(state)), gr.skip()]

        def chat_values(step: ChatStep, text: str | None = None) -> list[Any]:
            lang = step.state.language
            if not step.done:  # while the turn runs: the chat and the panel it fills; the rest waits
                loading = step.loading == "explain"
                return [gr.skip(), step.state.messages, gr.skip(), views.notice_html(None), gr.skip(), gr.skip(),
                        *[gr.skip()] * (2 * MAX_CARDS + 1),
                        views.explanation_html(None, lang, loading=True) if loading else gr.skip(),
                        *[gr.skip()] * (1 + CHIPS), gr.Tabs(selected="explain") if loading else gr.skip()]
            keep = step.keep_input
            count = len(text or "") if keep else 0
            return [step.state.to_json(), step.state.messages, gr.skip() if keep else "",
                    views.notice_html(step.error), views.counter_html(count, limit, lang), step.status,
                    *panel_values(ui.panels(step.state))]

        # -- the page ----------------------------------------------------------------------------
        def on_load(raw: Any, request: gr.Request) -> list[Any]:
            only = allowed(request)
            ui.prefetch_effects()
            view = ui.restore(session(raw, request), only)
            try:
                choices = ui.user_choices(allowed=only)
            except Exception:
                log.exception("listing users failed")
                choices = []
            if view.state.user_id and view.state.user_id not in choices:
                choices = [view.state.user_id, *choices]
            return page_values(view, choices)

        demo.load(on_load, [store], page_outputs, api_visibility="private", show_progress="hidden").then(
            None, None, None, js=JS_COUNT)

        def on_pick(user_id: str | None, raw: Any, request: gr.Request) -> list[Any]:
            state = session(raw, request)
            if user_id == KEEP_USER:  # the switch was not confirmed: stay, and show the current user again
                return page_values(ui.restore(state, allowed(request)), None)
            return page_values(ui.pick_user(user_id, state, allowed(request)), None)

        pick = user_picker.input(on_pick, [user_picker, store], page_outputs, js=JS_CONFIRM,
                                 api_visibility="private", show_progress="hidden")

        def on_key(data: gr.KeyUpData, request: gr.Request) -> Any:
            try:
                return gr.Dropdown(choices=ui.user_choices(str(data.input_value or ""), allowed(request)))
            except Exception:
                log.warning("searching users failed", exc_info=True)
                return gr.skip()

        user_picker.key_up(on_key, None, [user_picker], api_visibility="private", show_progress="hidden",
                           trigger_mode="always_last")

        def on_language(code: str, raw: Any, request: gr.Request) -> list[Any]:
            return page_values(ui.set_language(code, session(raw, request), allowed(request)), None)

        switch_language = language.input(on_language, [language, store], page_outputs, api_visibility="private",
                                         show_progress="hidden")

        # -- the chat ----------------------------------------------------------------------------
        def stream(steps: Iterator[ChatStep], text: str | None = None) -> Iterator[list[Any]]:
            for step in steps:
                yield chat_values(step, text)

        def on_chat(text: str, raw: Any, request: gr.Request) -> Iterator[list[Any]]:
            yield from stream(ui.chat(text, session(raw, request)), text)

        def on_recommend(raw: Any, request: gr.Request) -> Iterator[list[Any]]:
            yield from stream(ui.recommend(session(raw, request)))

        chat_events = []
        for trigger in (chat_input.submit, send.click):
            event = trigger(on_chat, [chat_input, store], chat_outputs, js=JS_SEND, api_visibility="private",
                            show_progress="hidden")
            event.then(None, None, None, js=JS_DONE)
            chat_events.append(event)
        event = recommend.click(on_recommend, [store], chat_outputs, js=JS_START, api_visibility="private",
                                show_progress="hidden")
        event.then(None, None, None, js=JS_DONE)
        chat_events.append(event)
        for chip in chips:
            event = chip.click(on_chat, [chip, store], chat_outputs, js=JS_START, api_visibility="private",
                               show_progress="hidden")
            event.then(None, None, None, js=JS_DONE)
            chat_events.append(event)
        for index, button in enumerate(why_buttons):
            def on_why(raw: Any, request: gr.Request, index: int = index) -> Iterator[list[Any]]:
                yield from stream(ui.why(index, session(raw, request)))

            event = button.click(on_why, [store], chat_outputs, js=JS_START, api_visibility="private",
                                 show_progress="hidden")
            event.then(None, None, None, js=JS_WHY_DONE)
            chat_events.append(event)
        # A confirmed switch drops the reply in flight (the page's script presses this hidden
        # button only then); the chat it belonged to is kept under its user.
        drop_reply.click(None, None, None, cancels=chat_events)  # type: ignore[arg-type]  # Gradio accepts events
        pick.then(None, None, None, js=JS_COUNT)

        chat_input.input(None, [chat_input], None, js=JS_COUNT_TEXT)

        def on_clear(raw: Any, request: gr.Request) -> list[Any]:  # the chat's own "clear" button: a new conversation
            state = ui.clear_chat(session(raw, request))
            return [state.to_json(), *panel_values(ui.panels(state))]

        chatbot.clear(on_clear, [store], [store, *panel_outputs], api_visibility="private", show_progress="hidden")

        # -- what-if and effects -------------------------------------------------------------------
        def on_whatif(ticked: list[str], item: str | None, behaviour: str | None, raw: Any,
                      request: gr.Request) -> list[Any]:
            view = ui.run_what_if(ticked, item, behaviour, session(raw, request))
            return [view.state.to_json(), view.html]

        whatif_run.click(on_whatif, [whatif_remove, whatif_item, whatif_behaviour, store], [store, whatif_result],
                         api_visibility="private", show_progress="hidden")

        def on_effects(segment_name: str, raw: Any, request: gr.Request) -> Iterator[str]:
            lang = session(raw, request).language
            answer = workers.submit(ui.effects, segment_name, lang)
            try:  # estimated already (the usual case after the prefetch): one update, no flicker
                yield answer.result(timeout=LOADING_AFTER).html
                return
            except concurrent.futures.TimeoutError:
                yield views.effects_html([], segment_name, lang, None, loading=True)
            yield answer.result().html

        tab_effects.select(on_effects, [segment, store], [effects], api_visibility="private", show_progress="hidden")
        segment.input(on_effects, [segment, store], [effects], api_visibility="private", show_progress="hidden")
        switch_language.then(on_effects, [segment, store], [effects], api_visibility="private",
                             show_progress="hidden")
        switch_language.then(None, None, None, js=JS_COUNT)

    demo.queue(default_concurrency_limit=CONCURRENCY)
    _require_request(demo, store)
    return demo


def _require_request(demo: gr.Blocks, store: gr.BrowserState) -> None:
    """Refuse to build a page where an event reads the browser's state without its request: the
    state is whatever the browser sent, and only the request says whose it may be."""
    for block_fn in demo.fns.values():
        if block_fn.fn is not None and any(c is store for c in block_fn.inputs):
            if gr.Request not in typing.get_type_hints(block_fn.fn).values():
                raise TypeError(f"{block_fn.fn.__name__} reads the page's state but takes no gr.Request; "
                                "take it and pass the state through session() first")


def _title_html(language: str) -> str:
    return (f'<h1 class="wr-h1">whyrec</h1><p class="wr-tagline">{views.esc(t("page.tagline", language))}</p>')


def _confirm_html(language: str) -> str:
    return f'<span class="wr-confirm" data-text="{views.esc(t("controls.switch_confirm", language))}"></span>'


def _intro_html(key: str, language: str) -> str:
    return f'<p class="wr-intro">{views.esc(t(key, language))}</p>'


def _behaviour_choices(language: str) -> list[tuple[str, str]]:
    return [(behaviour_name(b, language), b) for b in ADDABLE_BEHAVIOURS]


def _segment_choices(language: str) -> list[tuple[str, str]]:
    return [(t(f"effects.segment_{s}", language), s) for s in SEGMENTS]


def mount_ui(app: FastAPI, service: WhyrecService, agent: Agent, keys: KeyRing | None = None,
             brake: FailureBrake | None = None) -> FastAPI:
    """Mount the chat UI at ``/`` on ``app`` (mount it last: the API's routes come first).

    With API keys configured the page asks for a login (see :func:`login_check`), so it never
    shows more than the HTTP API would to the same key, and wrong keys at the login meet
    ``brake`` (pass the API's own to count both doors together; a fresh one by default).
    """
    keys = keys if keys is not None else KeyRing.parse(service.settings.api_keys)
    demo = build_blocks(service, agent, login_required=keys.enabled)
    app.add_middleware(NoUploads)
    if keys.enabled:
        app.add_middleware(LoginBrake, brake=brake or FailureBrake())
    return gr.mount_gradio_app(app, demo, path="/", css=CSS, head=HEAD, footer_links=[], show_error=False,
                               theme=gr.themes.Soft(), ssr_mode=False, max_file_size="1mb",
                               auth=login_check(keys) if keys.enabled else None,
                               auth_message="Log in with your whyrec API key as the password: as "
                                            f"'{ADMIN_LOGIN}' with an admin key, or as your user id "
                                            "with a key bound to you." if keys.enabled else None)
