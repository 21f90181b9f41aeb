"""The page in a real browser: ``whyrec serve`` in a subprocess, driven by headless Chromium at
desktop (1440×900) and phone (390×844) sizes, in English and Chinese.

The assertions are layout facts a person would notice: the legend is visible and not clipped,
no element is wider than a phone's viewport, no table header breaks inside a word, the Chinese
page holds no Latin word outside data (titles, brands, categories and ids as stored), a markdown
image in an item title is shown as text and fetches nothing, the chat and cards survive a reload,
a user switch with a reply in flight asks first, and a refused message stays in the input.

Needs Debian's Chromium at /usr/bin/chromium and the playwright Python package (never
``playwright install``). Without them the test skips, unless CI=true, where it fails.
Screenshots and the measured timings go to test-artifacts/ui/ (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from whyrec.prompts.catalogue import message

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WAIT_MS = 120_000          # generous: the machine is shared and small
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
EVIL = "evil.invalid"
TRAP_ID = "trap-lamp.1"  # ids cannot carry markup (tools.schema.id_problem); titles can
TRAP_TITLE = f"![t](http://{EVIL}/t.png) <img src=http://{EVIL}/i.png> Trap lamp"
#: Latin words allowed on the Chinese page: the product's name.
LATIN_ALLOWED = {"whyrec"}
#: Loose bound for "page load to an explanation" under test load; the measured number is written
#: to test-artifacts/ui/timings.json (the target on an idle machine is < 3 s).
EXPLAIN_SECONDS = 20.0


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " — and CI=true, so the browser test must run")
    pytest.skip(reason)


def _whyrec() -> str:
    found = Path(sys.executable).parent / "whyrec"
    return str(found) if found.exists() else (shutil.which("whyrec") or "whyrec")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WHYREC_API_KEYS", "WHYREC_WORKSPACE")}
    env.update(WHYREC_LLM="offline", GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", WHYREC_LOG_LEVEL="WARNING")
    return env


@dataclass
class Shop:
    url: str
    workspace: Path
    user: str                 # the busiest user but one; holds the trap item
    other: str                # another user
    totals: dict[str, int]    # behaviours per user
    data: list[str]           # every data string (titles, brands, categories, ids), longest first
    limit: int                # the chat's character limit
    timings: dict[str, float] = field(default_factory=dict)


def _plant_trap(workspace: Path, user: str, env: dict[str, str]) -> None:
    """The user views and buys an item whose id and title are a markdown image and an HTML tag."""
    import pandas as pd

    from whyrec.tools.workspace import Workspace

    last = pd.Timestamp(Workspace.open(workspace).events()["timestamp"].max())
    folder = workspace.parent
    rows = pd.DataFrame({"user_id": [user, user], "item_id": [TRAP_ID, TRAP_ID], "behaviour": ["view", "purchase"],
                         "timestamp": [(last + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S") for h in (1, 2)],
                         "title": [TRAP_TITLE, TRAP_TITLE], "category": ["home.lighting", "home.lighting"]})
    rows.to_csv(folder / "trap.csv", index=False)
    (folder / "trap.toml").write_text(
        '[columns]\nuser_id = "user_id"\nitem_id = "item_id"\nbehaviour = "behaviour"\ntimestamp = "timestamp"\n'
        'title = "title"\ncategory = "category"\n[options]\nheader = true\ntimestamp_format = "%Y-%m-%dT%H:%M:%S"\n')
    subprocess.run([_whyrec(), "ingest", str(folder / "trap.csv"), "--mapping", str(folder / "trap.toml"),
                    "--workspace", str(workspace)], check=True, env=env, timeout=600, capture_output=True)


def _data_strings(workspace: Path) -> list[str]:
    """Everything on the page that is data, not words: titles, brands, categories (and the parts a
    card shows), item and user ids."""
    from whyrec.tools.workspace import Workspace

    ws = Workspace.open(workspace)
    items, events = ws.items(), ws.events()
    data: set[str] = {str(v) for column in ("title", "brand", "item_id") if column in items
                      for v in items[column].dropna()}
    for category in items["category"].dropna().astype(str):
        data.add(category)
        for part in re.split(r"[.,]", category):
            data |= {part.strip(), part.strip().replace("_", " ")}
    data |= {str(u) for u in events["user_id"].unique()}
    return sorted((d for d in data if d.strip()), key=len, reverse=True)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A running ``whyrec serve`` over a small demo shop (with one trap item), warmed up."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright Python package is not installed")
    from whyrec.tools.settings import Settings
    from whyrec.tools.workspace import Workspace

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    workspace = tmp_path_factory.mktemp("browser") / "ws"
    env = _environment()
    subprocess.run([_whyrec(), "demo", "--workspace", str(workspace), "--users", "120", "--items", "150"],
                   check=True, env=env, timeout=600, capture_output=True)
    counts = Workspace.open(workspace).events()["user_id"].value_counts()
    user, other = str(counts.index[1]), str(counts.index[2])
    _plant_trap(workspace, user, env)
    totals = {str(k): int(v) for k, v in Workspace.open(workspace).events()["user_id"].value_counts().items()}
    port = _free_port()
    log = (ARTIFACTS / "server.log").open("w")
    server = subprocess.Popen([_whyrec(), "serve", "--workspace", str(workspace), "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    shop = Shop(url, workspace, user, other, totals, _data_strings(workspace),
                Settings(workspace=workspace).max_message_chars)
    try:
        deadline = time.monotonic() + 600
        while True:  # until the server is warm: the timings below are "warm" timings
            if server.poll() is not None:
                pytest.fail(f"whyrec serve exited with {server.returncode}; see {ARTIFACTS / 'server.log'}")
            try:
                with urllib.request.urlopen(url + "health", timeout=5) as reply:
                    if reply.status == 200 and json.loads(reply.read()).get("warm"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"whyrec serve did not warm up on {url} within 600 s")
            time.sleep(0.5)
        for segment in ("category", "brand", "price_band", "activity"):  # as the page's prefetch would
            with urllib.request.urlopen(f"{url}v1/effects?segment={segment}", timeout=600) as reply:
                assert reply.status == 200
        yield shop
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()
        (ARTIFACTS / "timings.json").write_text(json.dumps(shop.timings, indent=2))


@pytest.fixture(scope="module")
def browser(shop: Shop) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """One browser tab on the shop, with the requests it made."""

    def __init__(self, browser: Any, shop: Shop, viewport: dict[str, int], name: str) -> None:
        self.shop, self.name = shop, name
        self.context = browser.new_context(viewport=viewport, locale="en-US")
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.dialogs: list[str] = []

    def open(self) -> float:
        started = time.monotonic()
        self.page.goto(self.shop.url)
        self.page.wait_for_function("document.querySelector('#status-line')?.innerText.length > 10 "
                                    "&& document.querySelector('#user-picker input')?.value")
        return started

    def shot(self, label: str) -> None:
        time.sleep(0.3)  # let the last update paint
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{label}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()

    # -- actions -----------------------------------------------------------------------------
    def pick(self, user: str, language: str = "en") -> None:
        field = self.page.locator("#user-picker input")
        field.click()
        field.fill(user)
        field.press("Enter")
        total = f"{self.shop.totals[user]:,}"
        self.page.wait_for_function(f"document.querySelector('#history-box')?.innerText.includes('({total})') || "
                                    f"document.querySelector('#history-box')?.innerText.includes('（{total}）')")

    def chinese(self) -> None:
        self.page.locator("#language").get_by_text("中文").click()
        recommend = message("ui.controls.recommend", "zh")
        self.page.wait_for_function(f"document.querySelector('#ask-recommend')?.innerText.includes('{recommend}')")

    def recommend(self) -> None:
        before = self.bot_count()
        self.page.click("#ask-recommend")
        self.page.wait_for_selector("#card-0", state="visible")
        self.wait_answer(before)

    def why(self, index: int = 0) -> None:
        before = self.bot_count()
        self.page.click(f"#why-{index}")
        self.page.wait_for_selector("#explanation .wr-headline")
        self.wait_answer(before)

    def ask(self, text: str) -> None:
        before = self.bot_count()
        self.page.fill("#chat-input textarea", text)
        self.page.press("#chat-input textarea", "Enter")
        self.wait_answer(before)

    def bot_count(self) -> int:
        return int(self.page.locator("#chat [data-testid='bot']").count())

    def wait_answer(self, before: int) -> None:
        self.page.wait_for_function(
            f"""() => {{ const bots = document.querySelectorAll('#chat [data-testid="bot"]');
                return bots.length > {before} && !document.querySelector('#chat .pending, #chat [aria-busy="true"]')
                    && !(window.whyrec && whyrec.busy); }}""")

    def tab(self, index: int) -> None:
        self.page.locator("#panels button[role=tab]").nth(index).click()

    def effects(self, segment_index: int = 0) -> float:
        self.tab(2)
        self.page.wait_for_selector("#effects .wr-effect-cards .wr-effect")
        if not segment_index:
            return 0.0
        self.page.locator("#effects-segment input").click()
        started = time.monotonic()
        self.page.locator("ul[role=listbox] li").nth(segment_index).click()
        self.page.wait_for_selector("#effects .wr-segment-table")
        return time.monotonic() - started

    def what_if(self) -> None:
        self.tab(1)
        boxes = self.page.locator("#whatif-remove input[type=checkbox]")
        boxes.nth(0).uncheck()
        boxes.nth(1).uncheck()
        self.page.click("#whatif-run")
        self.page.wait_for_selector("#whatif-result table tbody tr")

    # -- layout facts ------------------------------------------------------------------------
    def overflow(self) -> list[str]:
        """Visible elements that stick out of the viewport sideways (none may, at any width)."""
        return list(self.page.evaluate("""() => {
            const width = document.documentElement.clientWidth, out = [];
            const page = document.documentElement.scrollWidth;
            if (page > width + 1) out.push('page scrollWidth ' + page);
            for (const el of document.querySelectorAll('body *')) {
                const r = el.getBoundingClientRect(), s = getComputedStyle(el);
                if (!r.width || !r.height || s.visibility === 'hidden' || s.display === 'none') continue;
                if (r.right > width + 1 || r.left < -1) {
                    out.push((el.id ? '#' + el.id : el.tagName.toLowerCase() + '.' + el.className) + ' ' +
                             Math.round(r.left) + '..' + Math.round(r.right));
                }
            }
            return out.slice(0, 20); }"""))

    def broken_headers(self) -> list[str]:
        """Table header words split over two lines ("behav / iour")."""
        return list(self.page.evaluate("""() => {
            const out = [];
            for (const th of document.querySelectorAll('th')) {
                if (!th.getClientRects().length) continue;
                const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    for (const m of node.data.matchAll(/\\S+/g)) {
                        const range = document.createRange();
                        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
                        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                        if (tops.size > 1) out.push(m[0]);
                    }
                }
            }
            return out; }"""))

    def legend_problems(self) -> list[str]:
        """Legend entries that are clipped, covered or outside the chart (each must be seen whole)."""
        self.page.locator("#explanation .wr-legend").scroll_into_view_if_needed()
        return list(self.page.evaluate("""() => {
            const out = [], legend = document.querySelector('#explanation .wr-legend');
            if (!legend) return ['no legend'];
            const chart = legend.closest('.wr-chart').getBoundingClientRect();
            if (legend.scrollWidth > legend.clientWidth + 1 || legend.scrollHeight > legend.clientHeight + 1)
                out.push('legend overflows its box');
            const items = legend.querySelectorAll('li');
            if (!items.length) out.push('legend is empty');
            for (const li of items) {
                const r = li.getBoundingClientRect();
                if (r.width < 10 || r.left < chart.left - 1 || r.right > chart.right + 1)
                    out.push('outside: ' + li.innerText);
                let node = li.parentElement;
                while (node && node !== document.body) {
                    const s = getComputedStyle(node), box = node.getBoundingClientRect();
                    if (s.overflow !== 'visible' && (r.right > box.right + 1 || r.bottom > box.bottom + 1 ||
                                                     r.left < box.left - 1 || r.top < box.top - 1))
                        out.push('clipped by ' + (node.id || node.className) + ': ' + li.innerText);
                    node = node.parentElement;
                }
                const hit = document.elementFromPoint(r.left + Math.min(6, r.width / 2), r.top + r.height / 2);
                if (!hit || !li.contains(hit)) out.push('covered: ' + li.innerText);
            }
            return out; }"""))

    def contrast(self, selector: str) -> float:
        """WCAG contrast ratio of an element's text against its background."""
        return float(self.page.evaluate("""(selector) => {
            const el = document.querySelector(selector), s = getComputedStyle(el);
            const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
            let node = el, bg = s.backgroundColor;
            const clear = n => /rgba\\(.*, 0\\)|transparent/.test(getComputedStyle(n).backgroundColor);
            while (node && clear(node)) node = node.parentElement;
            bg = node ? getComputedStyle(node).backgroundColor : 'rgb(255,255,255)';
            const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
            const lum = c => { const [r, g, b] = rgb(c).map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
            const [a, b] = [lum(s.color), lum(bg)].sort((x, y) => y - x);
            return (a + 0.05) / (b + 0.05); }""", selector))

    def latin_outside_data(self) -> list[str]:
        """Latin words the reader sees that are not data (every Details toggle opened first). The
        language switch names each language in itself, so its options are left out."""
        self.page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        text = self.page.evaluate("""() => {
            const parts = [document.body.innerText];
            document.querySelectorAll('input[placeholder], textarea[placeholder]').forEach(
                e => { if (e.offsetParent && !e.value) parts.push(e.placeholder); });
            return parts.join('\\n'); }""")
        text = text.replace(self.page.inner_text("#language"), " ")
        for data in self.shop.data:
            text = text.replace(data, " ")
        return sorted({w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in LATIN_ALLOWED})

    def top(self, selector: str) -> float:
        return float(self.page.locator(selector).bounding_box()["y"])


@pytest.fixture
def page_factory(browser: Any, shop: Shop) -> Iterator[Any]:
    pages: list[Page] = []

    def make(viewport: dict[str, int], name: str) -> Page:
        pages.append(Page(browser, shop, viewport, name))
        return pages[-1]

    yield make
    for page in pages:
        if page.page.is_closed():
            continue
        page.page.screenshot(path=str(ARTIFACTS / f"{page.name}-last.png"), full_page=True)
        page.close()


def _assert_explanation_reads_in_five_seconds(p: Page, language: str) -> None:
    page = p.page
    assert page.inner_text("#explanation .wr-headline").strip()
    assert p.legend_problems() == []
    labels = page.locator("#explanation .wr-bar-what").all_inner_texts()
    assert labels and not any(label.rstrip().endswith("…") for label in labels)  # full labels
    assert len(labels) == len(set(labels))  # repeated events are grouped, not drawn as twins
    assert page.locator("#explanation .wr-axis-title").is_visible()
    assert page.inner_text("#explanation .wr-axis-title") == message("ui.explain.axis", language)
    if page.locator("#explanation .wr-bar.wr-c-other").count():  # "other" is explained in words
        assert page.locator("#explanation .wr-other-note").is_visible()
    cf = page.locator("#explanation .wr-cf-list li")
    assert 1 <= cf.count() <= 5  # a short list; the whole set is under Details
    # every technical number (4-decimal scores, priors) waits behind Details
    visible = page.inner_text("#explanation")
    assert not re.search(r"\d\.\d{4}", visible), visible
    page.locator("#explanation details.wr-details > summary").click()
    assert re.search(r"\d\.\d{4}", page.inner_text("#explanation details.wr-details"))
    page.locator("#explanation details.wr-details > summary").click()


def test_desktop_english_from_load_to_explanation(page_factory: Any, shop: Shop) -> None:
    p = page_factory(DESKTOP, "desktop-en")
    page = p.page
    started = p.open()
    shop.timings["page_ready_s"] = round(time.monotonic() - started, 2)
    p.pick(shop.user)
    clicked = time.monotonic()
    p.recommend()
    shop.timings["recommend_click_to_cards_s"] = round(time.monotonic() - clicked, 2)
    clicked = time.monotonic()
    p.why(0)
    shop.timings["why_click_to_explanation_s"] = round(time.monotonic() - clicked, 2)
    shop.timings["load_to_explanation_s"] = round(time.monotonic() - started, 2)
    shop.timings["load_average_1min"] = round(os.getloadavg()[0], 1)
    assert shop.timings["load_to_explanation_s"] < EXPLAIN_SECONDS

    # "Recommend for me" is the primary action, at the top; the cards come first, left of the panel
    assert p.top("#ask-recommend") < 250 and "primary" in (page.get_attribute("#ask-recommend", "class") or "")
    assert page.locator("#cards").bounding_box()["x"] < page.locator("#panels").bounding_box()["x"]
    # a card: title, a one-line verified reason worded as in the chat, a clear Why? button
    card_title = page.inner_text("#card-text-0 .wr-title-text")
    reason = page.inner_text("#card-text-0 .wr-card-reason")
    answers = page.locator("#chat [data-testid='bot']").all_inner_texts()
    assert any(f"{card_title} — {reason}" in answer for answer in answers)
    assert p.contrast("#why-1") >= 4.5
    # the Why? question names the title, not the internal id
    asked = page.locator("#chat [data-testid='user']").all_inner_texts()[-1]
    item_ids = [d for d in shop.data if re.fullmatch(r"i\d{3}", d)]
    assert f"“{card_title}”" in asked and not any(re.search(rf"\b{i}\b", asked) for i in item_ids)
    assert page.inner_text("#explanation h2").startswith(message("ui.explain.title", "en", title="")[:4])
    _assert_explanation_reads_in_five_seconds(p, "en")
    # a long answer is shown from its start: the question and the answer's first line are in view
    assert page.evaluate("""() => {
        const chat = document.querySelector('#chat'), asked = [...chat.querySelectorAll('[data-testid="user"]')].pop();
        const answer = [...chat.querySelectorAll('[data-testid="bot"]')].pop();
        let box = asked.parentElement;
        while (box && box !== chat && !(box.scrollHeight > box.clientHeight
               && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
        const view = box.getBoundingClientRect(), a = asked.getBoundingClientRect(), b = answer.getBoundingClientRect();
        return box.scrollHeight > box.clientHeight && a.top >= view.top && b.top < view.bottom - 40
               && b.bottom > view.bottom; }""")
    chips = [c for c in page.locator("#chips button").all_inner_texts() if c.strip()]
    assert len(chips) == 3 and any(c.startswith("Why the") for c in chips)
    assert p.overflow() == []
    p.shot("01-explanation")

    # a reload keeps the shopper, the chat, the cards and the explanation
    headline = page.inner_text("#explanation .wr-headline")
    started = time.monotonic()
    page.reload()
    page.wait_for_function("document.querySelector('#explanation .wr-headline')")
    shop.timings["reload_to_explanation_s"] = round(time.monotonic() - started, 2)
    assert page.inner_text("#explanation .wr-headline") == headline
    assert page.locator("#user-picker input").input_value() == shop.user
    assert page.locator("#card-0").is_visible() and p.bot_count() >= 2

    # what if: untick the two most recent behaviours and rank again
    p.what_if()
    assert page.inner_text("#whatif-result").startswith("If you hadn't")
    p.shot("02-what-if")

    # effects: in words with verdicts, the graph with named nodes; a segment answers at once
    p.effects()
    assert page.locator("#effects .wr-badge").count() >= 1
    nodes = page.locator("#effects .wr-node").all_inner_texts()
    assert message("ui.graph.node.cart", "en") in nodes and message("ui.graph.node.log_price", "en") in nodes
    p.shot("03-effects")
    shop.timings["segment_effects_s"] = round(p.effects(1), 2)
    assert p.broken_headers() == []
    assert p.overflow() == []


@pytest.mark.parametrize(("viewport", "language"), [(PHONE, "zh"), (PHONE, "en"), (DESKTOP, "zh")],
                         ids=["phone-zh", "phone-en", "desktop-zh"])
def test_phone_and_chinese_layouts(page_factory: Any, shop: Shop, viewport: dict[str, int], language: str) -> None:
    name = f"{'phone' if viewport is PHONE else 'desktop'}-{language}"
    p = page_factory(viewport, name)
    page = p.page
    p.open()
    p.pick(shop.other)
    if language == "zh":
        p.chinese()
    p.recommend()
    p.why(0)
    _assert_explanation_reads_in_five_seconds(p, language)
    assert p.overflow() == []
    if viewport is PHONE:
        # cards first: the primary action near the top, then the cards, the explanation, the chat
        assert p.top("#ask-recommend") < 450
        assert p.top("#card-0") < p.top("#panels") < p.top("#chat")
        width = page.locator("#explanation .wr-chart").bounding_box()["width"]
        size = page.evaluate("parseFloat(getComputedStyle("
                             "document.querySelector('#explanation .wr-bar-label')).fontSize)")
        assert width >= 320 and size >= 12  # the chart is readable on a phone
    if language == "zh":
        assert re.search(r"[\u4e00-\u9fff]", page.inner_text("#explanation .wr-headline"))
        assert p.latin_outside_data() == []
    p.shot("01-explanation")

    p.what_if()
    assert p.overflow() == [] and p.broken_headers() == []
    if language == "zh":
        assert p.latin_outside_data() == []
    p.effects()
    if language == "zh":
        nodes = page.locator("#effects .wr-node").all_inner_texts()
        assert message("ui.graph.node.cart", "zh") in nodes
        assert p.latin_outside_data() == []
    p.shot("02-effects")
    p.effects(1)
    assert p.overflow() == [] and p.broken_headers() == []
    if language == "zh":
        assert p.latin_outside_data() == []
    p.shot("03-segments")


def test_data_is_text_and_fetches_nothing(page_factory: Any, shop: Shop) -> None:
    p = page_factory(DESKTOP, "trap")
    page = p.page
    p.open()
    p.pick(shop.user)
    page.locator("#history-box").get_by_text(message("ui.user.history_title", "en", n="")[:10]).click()
    page.wait_for_selector("#history li")
    assert TRAP_TITLE in page.inner_text("#history")  # the title exactly as stored, as text
    p.ask("Why not “Trap lamp”?")
    answer = page.locator("#chat [data-testid='bot']").all_inner_texts()[-1]
    assert TRAP_TITLE in answer
    assert TRAP_TITLE in page.inner_text("#explanation")
    p.ask(f"hello ![x](http://{EVIL}/typed.png) <img src=http://{EVIL}/typed2.png> **bold**")
    assert f"![x](http://{EVIL}/typed.png)" in page.locator("#chat [data-testid='user']").all_inner_texts()[-1]
    p.shot("01-data-as-text")
    p.tab(1)  # the what-if control lists the same behaviours
    assert TRAP_TITLE in page.inner_text("#whatif-remove")
    page.locator("#whatif-item input").click()
    page.locator("#whatif-item input").fill("Trap")
    page.wait_for_selector("ul[role=listbox] li")
    assert TRAP_TITLE in page.locator("ul[role=listbox]").inner_text()
    page.keyboard.press("Escape")
    assert page.locator(f"img[src*='{EVIL}']").count() == 0
    assert page.locator("#chat strong, #chat img, #explanation img, #history img").count() == 0
    assert [url for url in p.requests if EVIL in url] == []


def test_state_per_user_switch_asks_first_and_refused_text_stays(page_factory: Any, shop: Shop) -> None:
    p = page_factory(DESKTOP, "state")
    page = p.page
    page.on("dialog", lambda dialog: (p.dialogs.append(dialog.message), dialog.dismiss() if len(p.dialogs) == 1
                                      else dialog.accept()))
    p.open()
    p.pick(shop.user)
    p.recommend()
    def said() -> list[str]:  # the messages' own text (a steps box may come back open or folded)
        texts = page.locator("#chat [data-testid='bot'], #chat [data-testid='user']").all_inner_texts()
        return [t for t in texts if "•" not in t and "How I got this answer" not in t]

    chat_before = said()

    # another shopper has their own (empty) chat; coming back brings the first one back
    p.pick(shop.other)
    assert not page.locator("#card-0").is_visible() and p.bot_count() == 0
    p.pick(shop.user)
    assert page.locator("#card-0").is_visible() and said() == chat_before and chat_before

    # with a reply in flight, a switch asks first; "cancel" stays, "OK" switches
    page.evaluate("window.whyrec.start()")
    field = page.locator("#user-picker input")
    field.click()
    field.fill(shop.other)
    field.press("Enter")
    page.wait_for_function("document.querySelector('#user-picker input').value === " + json.dumps(shop.user))
    assert p.dialogs == [message("ui.controls.switch_confirm", "en")]
    assert said() == chat_before
    page.evaluate("window.whyrec.start()")
    p.pick(shop.other)
    assert len(p.dialogs) == 2 and p.bot_count() == 0

    # a message over the limit is refused with its length named, and stays in the input
    long_text = "x" * (shop.limit + 1)
    page.fill("#chat-input textarea", long_text[:-1])
    page.type("#chat-input textarea", long_text[-1])  # typed: the counter follows the keyboard
    page.wait_for_function(f"document.querySelector('#char-count .wr-counter.wr-over')?.innerText"
                           f".includes('{shop.limit + 1:,}')")
    page.click("#send")
    expected = message("ui.chat.too_long", "en", n=f"{shop.limit + 1:,}", limit=f"{shop.limit:,}")
    page.wait_for_function(f"document.querySelector('#notice')?.innerText.includes({json.dumps(expected[:30])})")
    assert page.inner_text("#notice").strip() == expected
    assert page.input_value("#chat-input textarea") == long_text
    assert p.bot_count() == 0
