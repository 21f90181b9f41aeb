"""The chat UI: a Gradio Blocks page mounted at ``/`` on the FastAPI app of ``whyrec serve``.

Layout (element ids in brackets, used by the browser test):

* header: title and the status line [status-line] — the active LLM backend and workspace size;
* left: user search [user-search], picker [user-picker], language switch [language], the
  user's recent behaviours [user-history];
* middle: the chat [chat], input [chat-input], [send], "Recommend for me" [ask-recommend];
* right: recommendation cards [card-0..9], each with a Why? button [why-0..9];
* below, tabs [panels]: the explanation (contribution chart [contrib-chart], counterfactual
  [counterfactual], population effects [explain-effects]); what-if ([whatif-remove],
  [whatif-item], [whatif-behaviour], [whatif-run], [whatif-result], [whatif-table]); effects
  (causal graph [causal-graph], segment [effects-segment], table [effects-table]).

All behaviour lives in :mod:`whyrec.ui.callbacks`; this module only wires it to components.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr  # the package's __init__ has quieted it (no analytics, no look-ups)
from fastapi import FastAPI

from whyrec.agent.auth import KeyRing
from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService

from .callbacks import ADDABLE_BEHAVIOURS, MAX_CARDS, SEGMENTS, Callbacks, ChatStep, Panels, UIState, UserView
from .i18n import LANGUAGES, behaviour_name, label
from .i18n import SEGMENTS as SEGMENT_NAMES
from .views import CHART_COLOURS

log = logging.getLogger(__name__)

CARD_COLUMNS = 1
STREAM_PACE = 0.02  # seconds between streamed chunks of an answer

CSS = """
#status-line { font-size: 0.9em; opacity: 0.85; }
.rec-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px;
            margin-bottom: 6px; background: var(--background-fill-secondary); }
.rec-card p { margin: 2px 0; }
.why-button { min-width: 80px !important; max-width: 110px; align-self: center; }
#counterfactual { border-left: 4px solid #3182bd; padding-left: 10px; }
"""

SCROLL_TO_PANELS = """(...args) => {
  const el = document.getElementById('panels');
  if (el) { el.scrollIntoView({behavior: 'smooth', block: 'start'}); }
  return args;
}"""


def build_blocks(service: WhyrecService, agent: Agent, pace: float = STREAM_PACE) -> gr.Blocks:
    """The whole page for one service and agent (shared by every browser session)."""
    ui = Callbacks(service, agent, pace=pace)
    en = "en"

    with gr.Blocks(title="whyrec") as demo:
        state = gr.State(UIState())
        title = gr.Markdown(label("title", en) + "\n\n" + label("subtitle", en), elem_id="title")
        status = gr.Markdown("", elem_id="status-line")

        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                user_search = gr.Textbox(label=label("user_search", en),
                                         placeholder=label("user_search_placeholder", en), elem_id="user-search")
                user_picker = gr.Dropdown(choices=[], value=None, label=label("user_picker", en),
                                          allow_custom_value=True, filterable=True, elem_id="user-picker")
                language = gr.Radio(choices=list(LANGUAGES), value=en, label=label("language", en),
                                    elem_id="language")
                user_note = gr.Markdown("", elem_id="user-note")
                history = gr.Dataframe(label=label("history", en), interactive=False, wrap=True,
                                       max_height=420, column_widths=["34%", "22%", "44%"],
                                       elem_id="user-history")
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(label=label("chat", en), height=460, elem_id="chat",
                                     placeholder=label("chat_placeholder", en), feedback_options=None)
                with gr.Row():
                    chat_input = gr.Textbox(show_label=False, placeholder=label("input_placeholder", en),
                                            scale=5, elem_id="chat-input", submit_btn=False)
                    send = gr.Button(label("send", en), variant="primary", scale=1, elem_id="send")
                recommend = gr.Button(label("recommend", en), variant="secondary", elem_id="ask-recommend")
            with gr.Column(scale=2, min_width=300):
                cards_heading = gr.Markdown(label("cards", en) + "\n\n" + label("no_cards", en),
                                            elem_id="cards-heading")
                card_boxes, card_texts, why_buttons = [], [], []
                for i in range(MAX_CARDS):
                    with gr.Row(visible=False, elem_id=f"card-{i}", elem_classes="rec-card",
                                equal_height=True) as box:
                        text = gr.Markdown("", elem_id=f"card-text-{i}", scale=4)
                        why = gr.Button(label("why", en), size="sm", scale=1, elem_id=f"why-{i}",
                                        elem_classes="why-button")
                    card_boxes.append(box)
                    card_texts.append(text)
                    why_buttons.append(why)

        with gr.Tabs(elem_id="panels") as tabs:
            with gr.Tab(label("tab_explain", en), id="explain", elem_id="tab-explain") as tab_explain:
                explain_head = gr.Markdown(label("explain_empty", en), elem_id="explain-summary")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chart = gr.BarPlot(value=None, x="label", y="contribution", color="behaviour",
                                           color_map=CHART_COLOURS, x_title=" ", y_title=" ",
                                           color_title=" ", x_label_angle=-35, height=360, label=label("chart", en),
                                           elem_id="contrib-chart")
                        chart_note = gr.Markdown("", elem_id="chart-note")
                    with gr.Column(scale=2):
                        counterfactual = gr.Markdown("", elem_id="counterfactual")
                explain_effects = gr.Dataframe(label=label("effects_in_explanation", en), interactive=False,
                                               wrap=True, elem_id="explain-effects")
            with gr.Tab(label("tab_whatif", en), id="whatif", elem_id="tab-whatif") as tab_whatif:
                whatif_intro = gr.Markdown(label("whatif_intro", en))
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        whatif_remove = gr.CheckboxGroup(choices=[], label=label("whatif_remove", en),
                                                         elem_id="whatif-remove")
                    with gr.Column(scale=2):
                        whatif_item = gr.Dropdown(choices=[], value=None, label=label("whatif_item", en),
                                                  allow_custom_value=True, filterable=True,
                                                  elem_id="whatif-item")
                        whatif_behaviour = gr.Radio(
                            choices=[(behaviour_name(b, en), b) for b in ADDABLE_BEHAVIOURS],
                            value="cart", label=label("whatif_behaviour", en), elem_id="whatif-behaviour")
                        whatif_run = gr.Button(label("whatif_run", en), variant="primary", elem_id="whatif-run")
                whatif_text = gr.Markdown("", elem_id="whatif-result")
                whatif_table = gr.Dataframe(interactive=False, wrap=True, elem_id="whatif-table")
            with gr.Tab(label("tab_effects", en), id="effects", elem_id="tab-effects") as tab_effects:
                effects_intro = gr.Markdown(label("effects_intro", en))
                with gr.Row():
                    segment = gr.Dropdown(choices=[(SEGMENT_NAMES[en][s], s) for s in SEGMENTS], value="all",
                                          label=label("segment", en), elem_id="effects-segment", scale=3)
                    effects_refresh = gr.Button(label("effects_refresh", en), scale=1, elem_id="effects-refresh")
                effects_note = gr.Markdown("", elem_id="effects-note")
                effects_table = gr.Dataframe(interactive=False, wrap=True, elem_id="effects-table")
                graph = gr.Image(label=label("graph", en), type="filepath", interactive=False,
                                 elem_id="causal-graph")

        # -- wiring ----------------------------------------------------------------------------
        panel_outputs = [*card_boxes, *card_texts, cards_heading, explain_head, chart, chart_note,
                         counterfactual, explain_effects, whatif_text, whatif_table, tabs]
        user_outputs = [state, history, user_note, whatif_remove, whatif_item, chatbot, status]
        chat_outputs = [chatbot, chat_input, state, status]
        label_outputs = [title, user_note, user_search, user_picker, language, history, chatbot, chat_input, send,
                         recommend, *why_buttons, tab_explain, tab_whatif, tab_effects, chart,
                         explain_effects, whatif_intro, whatif_remove, whatif_item, whatif_behaviour,
                         whatif_run, effects_intro, segment, effects_refresh, graph]

        def panel_values(panels: Panels, language: str, select: bool = True) -> list[Any]:
            heading = label("cards", language) + ("" if any(v for v, _ in panels.cards)
                                                  else "\n\n" + label("no_cards", language))
            order = list(panels.chart["label"]) if not panels.chart.empty else None
            return [*[gr.Row(visible=v) for v, _ in panels.cards], *[t for _, t in panels.cards], heading,
                    panels.heading, gr.BarPlot(value=panels.chart if not panels.chart.empty else None, sort=order),
                    panels.chart_note, panels.counterfactual, panels.effects, panels.whatif_text,
                    panels.whatif_table,
                    gr.Tabs(selected=panels.focus) if select and panels.focus else gr.skip()]

        def user_values(view: UserView) -> list[Any]:
            if view.error:
                gr.Warning(view.error)
            keys = [key for _, key in view.whatif_choices]
            return [view.state, view.history, view.note,
                    gr.CheckboxGroup(choices=view.whatif_choices, value=keys),
                    gr.Dropdown(choices=view.item_choices, value=None),
                    view.state.messages, ui.status(view.state)]

        def on_load(current: UIState, request: gr.Request) -> list[Any]:
            allowed = bound_user(request)
            try:
                choices = ui.user_choices(allowed=allowed)
            except Exception as exc:  # e.g. an empty or unreadable workspace
                log.exception("listing users failed")
                message = label("failed", current.language, error=exc)
                return [gr.Dropdown(choices=[], value=None), current, gr.skip(), f"⚠️ {message}",
                        gr.skip(), gr.skip(), gr.skip(), ui.status(current)] + \
                    panel_values(ui.panels(current), current.language)
            first = choices[0] if choices else None
            view = ui.pick_user(first, current, allowed)
            return [gr.Dropdown(choices=choices, value=first), *user_values(view)] + \
                panel_values(ui.panels(view.state), view.state.language)

        demo.load(on_load, [state], [user_picker, *user_outputs, *panel_outputs], api_visibility="private")

        def on_pick(user_id: str | None, current: UIState, request: gr.Request) -> list[Any]:
            view = ui.pick_user(user_id, current, bound_user(request))
            return user_values(view) + panel_values(ui.panels(view.state), view.state.language)

        user_picker.input(on_pick, [user_picker, state], [*user_outputs, *panel_outputs],
                          api_visibility="private")

        def on_search(query: str, current: UIState, request: gr.Request) -> list[Any]:
            allowed = bound_user(request)
            choices, exact, note = ui.search_users(query, current, allowed)
            if exact is None:
                return [gr.Dropdown(choices=choices), gr.skip(), gr.skip(), note,
                        *[gr.skip()] * (len(user_outputs) - 3 + len(panel_outputs))]
            view = ui.pick_user(exact, current, allowed)
            return [gr.Dropdown(choices=choices, value=exact), *user_values(view)] + \
                panel_values(ui.panels(view.state), view.state.language)

        user_search.submit(on_search, [user_search, state], [user_picker, *user_outputs, *panel_outputs],
                           api_visibility="private")

        def on_language(language_code: str, current: UIState) -> list[Any]:
            current = ui.set_language(language_code, current)
            lang = current.language
            view = ui.refresh_user(current)
            keys = [key for _, key in view.whatif_choices]
            labels = [
                label("title", lang) + "\n\n" + label("subtitle", lang),
                view.note,
                gr.Textbox(label=label("user_search", lang), placeholder=label("user_search_placeholder", lang)),
                gr.Dropdown(label=label("user_picker", lang)),
                gr.Radio(label=label("language", lang)),
                gr.Dataframe(value=view.history, label=label("history", lang)),
                gr.Chatbot(label=label("chat", lang), placeholder=label("chat_placeholder", lang)),
                gr.Textbox(placeholder=label("input_placeholder", lang)),
                gr.Button(label("send", lang)),
                gr.Button(label("recommend", lang)),
                *[gr.Button(label("why", lang)) for _ in why_buttons],
                gr.Tab(label=label("tab_explain", lang)),
                gr.Tab(label=label("tab_whatif", lang)),
                gr.Tab(label=label("tab_effects", lang)),
                gr.BarPlot(label=label("chart", lang)),
                gr.Dataframe(label=label("effects_in_explanation", lang)),
                label("whatif_intro", lang),
                gr.CheckboxGroup(choices=view.whatif_choices, value=keys, label=label("whatif_remove", lang)),
                gr.Dropdown(label=label("whatif_item", lang)),
                gr.Radio(choices=[(behaviour_name(b, lang), b) for b in ADDABLE_BEHAVIOURS],
                         label=label("whatif_behaviour", lang)),
                gr.Button(label("whatif_run", lang)),
                label("effects_intro", lang),
                gr.Dropdown(choices=[(SEGMENT_NAMES[lang][s], s) for s in SEGMENTS], label=label("segment", lang)),
                gr.Button(label("effects_refresh", lang)),
                gr.Image(label=label("graph", lang)),
            ]
            return [view.state, ui.status(view.state), *labels] + \
                panel_values(ui.panels(view.state), lang, select=False)

        language.input(on_language, [language, state], [state, status, *label_outputs, *panel_outputs],
                       api_visibility="private")

        def stream(steps: Iterator[ChatStep]) -> Iterator[list[Any]]:
            for step in steps:
                if step.error:
                    gr.Warning(step.error)
                yield [step.state.messages, "", step.state, step.status]

        def on_chat(message: str, current: UIState) -> Iterator[list[Any]]:
            yield from stream(ui.chat(message, current))

        def on_recommend(current: UIState) -> Iterator[list[Any]]:
            yield from stream(ui.recommend(current))

        def on_panels(current: UIState) -> list[Any]:
            return panel_values(ui.panels(current), current.language)

        for trigger in (chat_input.submit, send.click):
            trigger(on_chat, [chat_input, state], chat_outputs, api_visibility="private").then(
                on_panels, [state], panel_outputs, api_visibility="private")
        recommend.click(on_recommend, [state], chat_outputs, api_visibility="private").then(
            on_panels, [state], panel_outputs, api_visibility="private")

        for index, button in enumerate(why_buttons):
            def on_why(current: UIState, index: int = index) -> Iterator[list[Any]]:
                yield from stream(ui.why(index, current))

            button.click(on_why, [state], chat_outputs, api_visibility="private").then(
                on_panels, [state], panel_outputs, js=SCROLL_TO_PANELS, api_visibility="private")

        def on_whatif(ticked: list[str], item: str | None, behaviour: str | None,
                      current: UIState) -> list[Any]:
            view = ui.run_what_if(ticked, item, behaviour, current)
            if view.error:
                gr.Warning(view.error)
            return [view.state, view.text, view.table]

        whatif_run.click(on_whatif, [whatif_remove, whatif_item, whatif_behaviour, state],
                         [state, whatif_text, whatif_table], api_visibility="private")

        def on_effects(segment_name: str, current: UIState) -> list[Any]:
            view = ui.effects(segment_name, current.language)
            if view.error:
                gr.Warning(view.error)
            return [view.graph, view.table, view.note]

        effects_outputs = [graph, effects_table, effects_note]
        tab_effects.select(on_effects, [segment, state], effects_outputs, api_visibility="private")
        segment.input(on_effects, [segment, state], effects_outputs, api_visibility="private")
        effects_refresh.click(on_effects, [segment, state], effects_outputs, api_visibility="private")

    return demo


ADMIN_LOGIN = "admin"


def bound_user(request: gr.Request | None) -> str | None:
    """The one user a logged-in session may see (None: any user — an admin, or no keys set)."""
    name = getattr(request, "username", None) if request is not None else None
    return None if name in (None, "", ADMIN_LOGIN) else str(name)


def login_check(ring: KeyRing) -> Callable[[str, str], bool]:
    """Gradio's auth callable when ``WHYREC_API_KEYS`` is set: the password is an API key.

    A key bound to a user (``key:user_id``) logs in as that user id and sees only that user;
    an admin key logs in as ``admin`` (sees everyone) or as any user id (sees only that one).
    """

    def check(username: str, password: str) -> bool:
        principal = ring.principal(password)
        if principal is None:
            return False
        if principal.admin:
            return bool(username)
        return username == principal.user_id

    return check


def mount_ui(app: FastAPI, service: WhyrecService, agent: Agent, keys: KeyRing | None = None) -> FastAPI:
    """Mount the chat UI at ``/`` on ``app`` (mount it last: the API's routes come first).

    With API keys configured the page asks for a login (see :func:`login_check`), so it never
    shows more than the HTTP API would to the same key.
    """
    demo = build_blocks(service, agent)
    keys = keys if keys is not None else KeyRing.parse(service.settings.api_keys)
    return gr.mount_gradio_app(app, demo, path="/", css=CSS, footer_links=[], show_error=False,
                               theme=gr.themes.Soft(), ssr_mode=False,
                               auth=login_check(keys) if keys.enabled else None,
                               auth_message="Log in with your whyrec API key as the password: as "
                                            f"'{ADMIN_LOGIN}' with an admin key, or as your user id "
                                            "with a key bound to you." if keys.enabled else None)
