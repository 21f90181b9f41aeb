"""The page's stylesheet and script (kept here, as text, so the installed package carries them).

The script has four small jobs, all on the client: mark a reply in flight (so a user switch asks
first), keep the character counter current, show a new answer from its start, and bring the
explanation into view on a narrow screen. It never builds markup from data.
"""

from __future__ import annotations

from .views import COLOURS

_SWATCHES = "\n".join(f".wr-c-{name} {{ background: {colour}; }}" for name, colour in COLOURS.items())

#: Page-level rules, outside the app's own scope (Gradio prefixes the ``css`` with its container).
PAGE_CSS = """
.gradio-container .main.fillable { max-width: 1680px; margin: 0 auto; }
@media (max-width: 480px) {
  .gradio-container .main.fillable { padding-left: 8px !important; padding-right: 8px !important; }
}
/* While a reply is on its way, the controls that would start another (or change the language under
   it) wait: two turns at once would each write the browser's state. */
body.wr-busy #ask-recommend, body.wr-busy button.wr-why, body.wr-busy button.wr-chip, body.wr-busy #send,
body.wr-busy #language, body.wr-busy #whatif-run { pointer-events: none; opacity: .55; }
"""

CSS = """
.wr-hidden { display: none !important; }
/* Gradio's own progress text ("processing | 0.5s", queue positions) is for developers: the page
   shows its own loading states (the chat's working bubble, the explanation and effects panels). */
[data-testid="status-tracker"] { display: none !important; }

/* top bar */
#topbar { align-items: flex-end; gap: 12px; }
#brand { gap: 2px !important; }
.wr-h1 { font-size: 1.45rem; font-weight: 700; margin: 0; line-height: 1.2; }
.wr-tagline { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: .92rem; }
.wr-status { font-size: .82rem; color: var(--body-text-color-subdued); }
.wr-status-warn { display: block; font-size: .85rem; color: #92400e; margin-top: 2px; }
#controls { gap: 8px !important; }
#ask-recommend { font-size: 1.1rem !important; font-weight: 700 !important; min-height: 48px; }

/* headings inside HTML blocks */
.wr-h2 { font-size: 1.15rem !important; font-weight: 700; margin: 0 0 4px !important; line-height: 1.3; }
.wr-h3 { font-size: 1rem !important; font-weight: 700; margin: 10px 0 4px !important; }
.wr-h4 { font-size: .92rem !important; font-weight: 700; margin: 8px 0 4px !important; }
.wr-muted { color: var(--body-text-color-subdued); }
.wr-note { font-size: .82rem; color: var(--body-text-color-subdued); margin: 4px 0 !important; }
.wr-intro { margin: 0 0 8px !important; }
.wr-date { color: var(--body-text-color-subdued); white-space: nowrap; font-size: .85em; }

/* cards */
#cards { gap: 10px !important; }
.wr-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px !important;
           background: var(--background-fill-primary); gap: 8px !important; box-shadow: 0 1px 2px rgba(0,0,0,.05); }
.wr-card-title { font-weight: 700; display: flex; gap: 8px; align-items: baseline; line-height: 1.3;
                 overflow-wrap: anywhere; }
.wr-rank { display: inline-flex; flex: none; width: 1.7em; height: 1.7em; border-radius: 50%; background: #1e40af;
           color: #fff; font-size: .8rem; justify-content: center; align-items: center; }
.wr-card-meta { color: var(--body-text-color-subdued); font-size: .85rem; margin-top: 2px; }
.wr-card-reason { font-size: .92rem; margin-top: 4px; overflow-wrap: anywhere; }
button.wr-why { align-self: flex-start; width: auto !important; min-width: 96px; flex: none !important;
                background: #ffffff !important; color: #1e40af !important; border: 2px solid #1e40af !important;
                font-weight: 700 !important; }
button.wr-why:hover, button.wr-why:focus-visible { background: #1e40af !important; color: #ffffff !important; }

/* the explanation */
.wr-explain { display: flex; flex-direction: column; gap: 6px; }
.wr-rankline { margin: 0 !important; color: var(--body-text-color-subdued); font-size: .9rem; }
.wr-headline { font-size: 1.02rem; line-height: 1.5; margin: 4px 0 !important; padding: 10px 12px;
               border-left: 4px solid #1e40af; background: var(--background-fill-secondary); border-radius: 4px; }
.wr-loading { padding: 14px; color: var(--body-text-color-subdued); }
.wr-loading::before { content: ""; display: inline-block; width: .9em; height: .9em; margin-right: .5em;
                      border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%;
                      animation: wr-spin .8s linear infinite; vertical-align: -2px; }
@keyframes wr-spin { to { transform: rotate(360deg); } }
.wr-cf { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 4px 12px 8px; }
.wr-cf ul, .wr-causal ul { margin: 4px 0 !important; padding-left: 1.2em !important; }
.wr-cf-result { margin: 6px 0 2px !important; font-weight: 600; }
.wr-check { margin: 2px 0 !important; color: #166534; font-size: .88rem; }

/* the chart: a horizontal bar chart in HTML (full labels, legend and axis always visible) */
.wr-chart { margin: 8px 0 0 !important; min-width: 0; }
.wr-chart-title { font-weight: 700; margin-bottom: 2px; }
ul.wr-legend { display: flex; flex-wrap: wrap; gap: 2px 14px; list-style: none !important; padding: 0 !important;
               margin: 2px 0 8px !important; font-size: .84rem; }
ul.wr-legend li { margin: 0 !important; padding: 0 !important; white-space: nowrap; }
.wr-swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
             vertical-align: -1px; }
ol.wr-bars { list-style: none !important; padding: 0 !important; margin: 0 !important; }
ol.wr-bars li.wr-bar-row { margin: 0 0 7px !important; padding: 0 !important; }
.wr-bar-label { font-size: .88rem; line-height: 1.3; overflow-wrap: anywhere; }
.wr-lowers { color: #991b1b; font-size: .85em; }
.wr-bar-line, .wr-axis-line { display: grid; grid-template-columns: minmax(0, 1fr) 3.4em; align-items: center;
                              gap: 6px; }
.wr-bar-track { background: var(--background-fill-secondary); height: 14px; border-radius: 3px; overflow: hidden; }
.wr-bar { height: 100%; border-radius: 3px; min-width: 2px; }
.wr-bar-value { font-variant-numeric: tabular-nums; font-size: .84rem; text-align: right; white-space: nowrap; }
.wr-axis { position: relative; height: 1.3em; border-top: 1px solid var(--body-text-color-subdued);
           font-size: .75rem; color: var(--body-text-color-subdued); }
.wr-tick { position: absolute; top: 1px; transform: translateX(-50%); white-space: nowrap; }
.wr-tick:first-child { transform: none; }
.wr-tick:last-child { transform: translateX(-100%); }
.wr-axis-title { font-size: .8rem; margin: 0 !important; color: var(--body-text-color-subdued); }
""" + _SWATCHES + """

/* verdicts */
.wr-badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: .8rem; font-weight: 600;
            background: #e5e7eb; color: #1f2937; }
.wr-badge.wr-v-supported { background: #dcfce7; color: #14532d; }
.wr-badge.wr-v-refuted, .wr-badge.wr-v-no_effect_excluded,
.wr-badge.wr-v-inconclusive { background: #fef3c7; color: #78350f; }

/* details toggles */
details.wr-details { margin-top: 10px; border-top: 1px solid var(--border-color-primary); padding-top: 6px; }
details.wr-details > summary { cursor: pointer; font-weight: 600; color: #1e40af; }
details.wr-details > div { font-size: .85rem; overflow-wrap: anywhere; }
details.wr-details ol, details.wr-details ul { padding-left: 1.2em !important; }

/* tables: short headers that never break inside a word */
table.wr-table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: .88rem; margin: 6px 0; }
table.wr-table th { text-align: left; white-space: normal; word-break: keep-all; overflow-wrap: normal;
                    hyphens: none; padding: 4px 6px; border-bottom: 2px solid var(--border-color-primary);
                    vertical-align: bottom; }
table.wr-table td, table.wr-table tbody th { padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary);
                    overflow-wrap: anywhere; vertical-align: top; font-weight: normal; }
table.wr-table .wr-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wr-whatif-table th:nth-child(2), .wr-whatif-table th:nth-child(3) { width: 4.8em; text-align: right; }
.wr-whatif-table th:nth-child(4) { width: 6.8em; }
td.wr-v-supported { color: #14532d; }
td.wr-v-refuted, td.wr-v-no_effect_excluded { color: #78350f; }
td.wr-v-cannot_estimate { color: var(--body-text-color-subdued); }

/* effects */
#effects { container-type: inline-size; }
.wr-effect-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
.wr-effect { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 4px 12px 10px; }
.wr-effect p { margin: 4px 0 !important; }
.wr-effect-value { font-size: 1.3rem; font-weight: 700; }
.wr-notice-info { color: #1e3a8a; }

/* the causal graph, as layers of named nodes */
.wr-graph { margin: 14px 0 0 !important; }
.wr-layers { display: grid; grid-template-columns: minmax(0, 1.3fr) 1.5em minmax(0, 1fr) 1.5em minmax(0, .8fr);
             align-items: center; gap: 4px; }
.wr-layer { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 2px 10px 8px;
            background: var(--background-fill-secondary); }
.wr-layer ul { list-style: none !important; padding: 0 !important; margin: 0 !important; }
.wr-layer li.wr-node { margin: 3px 0 !important; padding: 2px 8px !important; border-radius: 6px; font-size: .85rem;
                       background: var(--background-fill-primary); border: 1px solid var(--border-color-primary); }
.wr-layer-outcome li.wr-node { border-color: #166534; font-weight: 600; }
.wr-layer li.wr-funnel { margin: 0 !important; padding: 0 !important; text-align: center; line-height: 1;
                         color: var(--body-text-color-subdued); }
.wr-arrow { text-align: center; font-size: 1.3rem; color: var(--body-text-color-subdued); }
.wr-arrow::before { content: "→"; }
@container (max-width: 560px) {
  .wr-layers { grid-template-columns: minmax(0, 1fr); }
  .wr-arrow::before { content: "↓"; }
}

/* chat */
#chat-col { gap: 8px !important; }
#chips { flex-wrap: wrap !important; gap: 6px !important; }
button.wr-chip { flex: 0 1 auto !important; width: auto !important; min-width: 0 !important; max-width: 100%;
                 white-space: normal !important; text-align: left; border-radius: 999px !important;
                 background: var(--background-fill-secondary) !important; color: var(--body-text-color) !important;
                 border: 1px solid var(--border-color-primary) !important; font-weight: 500 !important; }
#input-row { align-items: center; flex-wrap: nowrap !important; }
#char-count { flex: 1 1 auto; }
.wr-counter { font-size: .8rem; color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; }
.wr-counter.wr-over { color: #b91c1c; font-weight: 700; }
.wr-notice { margin: 0 !important; font-size: .9rem; }
.wr-notice-error { color: #b91c1c; }
ol.wr-history { list-style: none !important; padding: 0 !important; margin: 0 !important; font-size: .88rem; }
ol.wr-history li { margin: 0 0 4px !important; overflow-wrap: anywhere; }
#chat .message-content, #chat .md { overflow-wrap: anywhere; }

/* phones */
@media (max-width: 480px) {
  .html-container { padding-left: 4px !important; padding-right: 4px !important; }
  .wr-h1 { font-size: 1.25rem; }
  .wr-tagline { font-size: .85rem; }
  #chat { height: 420px !important; }
  .wr-headline { font-size: .98rem; padding: 8px 10px; }
  table.wr-table { font-size: .82rem; }
  table.wr-table th, table.wr-table td, table.wr-table tbody th { padding: 3px 4px; }
}
"""

HEAD = "<style>" + PAGE_CSS + """</style>
<script>
window.whyrec = (function () {
  var api = { busy: false };
  api.start = function () { api.busy = true; document.body.classList.add('wr-busy'); };
  api.stop = function () { api.busy = false; document.body.classList.remove('wr-busy'); };
  api.count = function (text) {
    var el = document.querySelector('#char-count .wr-counter');
    if (!el) { return; }
    if (text === undefined) {
      var box = document.querySelector('#chat-input textarea');
      text = box ? box.value : '';
    }
    var n = (text || '').length, limit = parseInt(el.dataset.limit || '0', 10);
    el.textContent = (el.dataset.template || '{n} / {limit}')
      .replace('{n}', n.toLocaleString('en-US')).replace('{limit}', limit.toLocaleString('en-US'));
    el.classList.toggle('wr-over', n > limit);
  };
  api.confirmSwitch = function (user, keep) {
    if (!api.busy) { return user; }
    var box = document.querySelector('#switch-confirm .wr-confirm');
    if (box && !window.confirm(box.dataset.text || '')) { return keep; }
    var go = document.querySelector('#switch-go');
    if (go) { go.click(); }
    api.stop();
    return user;
  };
  function scroller(node, stop) {
    while (node && node !== stop) {
      var style = getComputedStyle(node);
      if (/(auto|scroll)/.test(style.overflowY) && node.scrollHeight > node.clientHeight) { return node; }
      node = node.parentElement;
    }
    return null;
  }
  api.scrollAnswer = function () {
    setTimeout(function () {
      var chat = document.getElementById('chat');
      if (!chat) { return; }
      var asked = chat.querySelectorAll('[data-testid="user"]');
      var last = asked[asked.length - 1];
      if (!last) { return; }
      var box = scroller(last.parentElement, chat) || scroller(chat.querySelector('[role="log"]'), chat);
      if (!box) { return; }
      // the question at the top (below the chat's own buttons), the answer's start under it
      box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 40;
    }, 60);
  };
  document.addEventListener('input', function (event) {
    if (event.target && event.target.closest && event.target.closest('#chat-input')) { api.count(event.target.value); }
  }, true);
  api.toPanel = function () {
    if (window.innerWidth > 900) { return; }
    var el = document.getElementById('panels');
    if (el) { el.scrollIntoView({ behavior: 'smooth', block: 'start' }); }
  };
  return api;
})();
</script>
"""
