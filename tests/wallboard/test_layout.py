"""The TV page on real floors, in headless Chromium: 1 to 12 queues, 20 to 200
agents, at 1920x1080 (and 1366x768 and 3840x2160), in English, Polish and
Arabic. Nothing may be cut off silently: every queue is inside the viewport,
every agent is on a page ("page 2/3"), and no value, label or name overflows
its box (``scrollWidth > clientWidth``). Screenshots are saved for review
(WALLBOARD_SHOTS=DIR keeps them; path printed)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from acd.core.agent_rules import Command
from acd.core.metrics import today_interval_starts
from acd.core.settings import AgentConfig, Config, QueueConfig, QueueDisplay, WallboardConfig
from acd.store.embedded import free_port
from tests.wallboard.conftest import RedisServer
from tests.wallboard.floor import CALL_STATES, Floor
from tests.wallboard.test_browser import ServerThread, chromium, run_in_thread  # noqa: F401

pytestmark = pytest.mark.browser

QUEUE_NAMES = (
    "support", "sales", "billing", "returns", "technical", "claims", "renewals",
    "payments", "onboarding", "retention", "vip_line", "complaints",
)  # fmt: skip
FIRST = ("Zoë", "Amara", "Lucas", "Søren", "Priya", "Mateo", "Chloé", "Jonas", "Aiko",
         "Bartholomew", "Ingrid", "Tomás", "Fatima", "Wei", "Łucja", "Kofi", "Maximilian")
LAST = ("Kowalczyk", "Okafor", "Ferreira", "Lindqvist", "Raghunathan", "Hernández",
        "Dubois", "Weiß", "Tanaka", "Wiśniewska-Szczepańska", "Halvorsen", "Ruiz")
STATES = ("available", "on_call", "on_call", "wrap_up", "ringing", "paused", "on_call")


def floor(queues: int, agents: int) -> Config:
    names = QUEUE_NAMES[:queues]
    return Config(
        source="<layout test>",
        wallboard=WallboardConfig(
            timezone="Europe/Warsaw",
            title="Contact centre",
            pause_alert_seconds=600,
            queue_display={"support": QueueDisplay(display_name="Customer support")},
        ),
        queues=tuple(
            QueueConfig(name=n, service_level_seconds=60 if i % 3 == 1 else 120)
            for i, n in enumerate(names)
        ),
        agents=tuple(
            AgentConfig(
                id=f"a{i:03d}",
                name=f"{FIRST[i % len(FIRST)]} {LAST[(i // 3) % len(LAST)]}",
                endpoint=f"PJSIP/{1000 + i}",
                queues={names[i % queues]: 50, names[(i * 5 + 1) % queues]: 20},
            )
            for i in range(agents)
        ),
    )


async def populate(floor: Floor, now: float) -> None:
    """A busy day with extreme values: an hour-long wait, 5-digit counts,
    4-digit abandons, pending pauses, busy phones, long pauses. The day's
    counts are added per interval (ADD_COUNTERS: far too many calls to dial
    one by one); callers and agents go through the ACD's scripts."""
    config = floor.config
    rng = random.Random(11)
    names = [q.name for q in config.queues]
    starts = today_interval_starts(now, config.wallboard.timezone)
    # 5-digit "today" counts at any hour: shortly after local midnight the day
    # has only a few intervals, so each carries more.
    per_interval = max(300, 36_000 // max(1, len(starts)))
    for qi, queue in enumerate(names):
        for start in starts:
            big = qi == 0
            offered = per_interval + rng.randint(0, 100) if big else rng.randint(0, 25)
            if offered == 0:
                continue
            answered = int(offered * rng.uniform(0.7, 0.95))
            abandoned = offered - answered
            await floor.history(
                queue, start, offered=offered, answered=answered,
                answered_within_target=int(answered * rng.uniform(0.5, 1.0)),
                abandoned=abandoned, timed_out=rng.randint(0, 2), lost=rng.randint(0, 1),
                handled=answered, handle_seconds=answered * 240.0,
                wait_seconds=answered * rng.uniform(10, 90),
            )  # fmt: skip
        for n in range(min(qi + 1, 6)):
            arrival = now - (3725 if (qi, n) == (0, 0) else 20 * (n + 1) + 7 * qi)
            await floor.caller(f"c{qi}-{n}", queue, arrival=arrival, priority=5 if n == 1 else 0,
                               name=f"Caller {qi}{n}")
    for i, agent in enumerate(config.agents):
        state = STATES[i % len(STATES)]
        # A pause asked for during a call waits for its end (only then).
        pending = Command.PAUSE if i % 11 == 1 and state in CALL_STATES else None
        await floor.agent(
            agent.id, state, at=now - (900 if state == "paused" and i % 2 else 13 * i + 5),
            reason="Team meeting" if state == "paused" else "",
            pending=pending, pending_reason="Lunch" if pending else "",
            phone_busy=i % 13 == 0 and state == "available",
            reachable=i % 17 != 3, caller_name=f"Caller of {agent.name}",
        )  # fmt: skip


def shots_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("WALLBOARD_SHOTS", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def board(clean_redis: RedisServer) -> Iterator[Any]:
    servers: list[ServerThread] = []

    def start(queues: int, agents: int) -> ServerThread:
        config = floor(queues, agents)

        async def setup() -> None:
            client = aioredis.Redis.from_url(clean_redis.url, decode_responses=True)
            try:
                await client.flushall()
                now = time.time()
                await populate(await Floor.open(client, config, now - 86400), now)
            finally:
                await client.aclose()

        run_in_thread(setup())
        server = ServerThread(config, clean_redis.url, free_port())
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


OVERFLOW_JS = """() => {
  const bad = [];
  const sel = '.cell .value, .cell .label, .qtable thead th, .tile-head h2, .chip, '
    + '.agent:not([hidden]) .since, .agent:not([hidden]) .state, .agent:not([hidden]) .pending, '
    + '.totals .cell, .clock, .date, .agents-page, .legend .lg, #variant';
  for (const e of document.querySelectorAll(sel)) {
    if (e.offsetParent === null) continue;
    if (e.scrollWidth > e.clientWidth + 1) bad.push(e.className + ': ' + e.textContent);
  }
  return bad;
}"""

INSIDE_JS = """() => {
  const W = innerWidth, H = innerHeight, out = [];
  const sel = '[data-queue], .agent:not([hidden]), #totals:not([hidden]), '
    + '.agents-page:not([hidden])';
  for (const e of document.querySelectorAll(sel)) {
    const r = e.getBoundingClientRect();
    if (r.left < -1 || r.top < -1 || r.right > W + 1 || r.bottom > H + 1)
      out.push((e.dataset.queue || e.dataset.agent || e.id || e.className) + ' ' +
               JSON.stringify([r.left, r.top, r.right, r.bottom]));
  }
  return out;
}"""


# Words of a label that the browser broke across lines ("Przewidywan" / "e").
BROKEN_WORDS_JS = """() => {
  const broken = [];
  for (const label of document.querySelectorAll('.cell .label')) {
    for (const node of label.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set(Array.from(range.getClientRects())
          .filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def check_page(page: Any, queues: int, agents: int) -> None:
    page.wait_for_selector('body[data-connected="yes"]', timeout=10_000)
    page.wait_for_function(f"() => document.querySelectorAll('.agent').length === {agents}")
    assert page.locator("[data-queue]").count() == queues
    assert page.evaluate(INSIDE_JS) == []
    assert page.evaluate(OVERFLOW_JS) == []
    pages = int(page.locator("#agents").get_attribute("data-pages") or "1")
    per_page = int(page.locator("#agents").get_attribute("data-per-page") or "0")
    visible = page.locator(".agent:not([hidden])").count()
    assert 0 < visible <= per_page
    if pages > 1:  # every agent is on some page, and the page says which
        assert page.locator(".agents-page").inner_text().strip().endswith(f"/{pages}")
        assert per_page * pages >= agents > per_page * (pages - 1)
    else:
        assert visible == agents


@pytest.mark.parametrize(
    ("queues", "agents"),
    [(1, 20), (3, 20), (3, 44), (3, 60), (4, 44), (8, 60), (8, 120), (12, 60), (12, 200)],
)
def test_layout_fits_at_1920x1080(
    chromium: Any, board: Any, tmp_path: Path, queues: int, agents: int  # noqa: F811
) -> None:
    server = board(queues, agents)
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    check_page(page, queues, agents)
    layout = page.locator("body").get_attribute("data-layout")
    assert layout == ("tiles" if queues <= 3 else "table")
    # An hour-long wait is shown whole, and 5-digit counts fit.
    first = page.locator('[data-queue="support"]')
    longest = first.locator('[data-metric="longest_wait_seconds"] .main').inner_text()
    assert longest.startswith("1:0")
    assert len(first.locator('[data-metric="offered"] .main').inner_text()) >= 5
    assert first.locator(".qname, .qtitle").first.inner_text() == "Customer support"
    shot = shots_dir(tmp_path) / f"board-{queues}q-{agents}a.png"
    page.screenshot(path=str(shot))
    print(f"\nscreenshot: {shot}")
    assert errors == []


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (3840, 2160)])
def test_layout_fits_other_screens(
    chromium: Any, board: Any, tmp_path: Path, width: int, height: int  # noqa: F811
) -> None:
    server = board(8, 100)
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(server.url)
    check_page(page, 8, 100)
    page.screenshot(path=str(shots_dir(tmp_path) / f"board-8q-100a-{width}x{height}.png"))


@pytest.mark.parametrize("lang", ["ar", "pl", "ru"])
def test_languages_fit_and_arabic_is_mirrored(
    chromium: Any, board: Any, tmp_path: Path, lang: str  # noqa: F811
) -> None:
    server = board(3, 44)
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(server.url + f"?lang={lang}")
    check_page(page, 3, 44)
    if lang == "ar":
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        # Mirrored: the first queue is on the right.
        boxes = [page.locator(f'[data-queue="{q}"]').bounding_box() for q in ("support", "sales")]
        assert boxes[0]["x"] > boxes[1]["x"]
        # A Latin name keeps its own direction: cut (if at all) at its end, on the right.
        name = page.locator(".agent .name").first
        assert name.get_attribute("dir") == "auto"
        assert page.evaluate("e => getComputedStyle(e).direction", name.element_handle()) == "ltr"
        assert "SL =" not in page.locator("#variant").inner_text()  # the formula is translated
    assert page.evaluate(BROKEN_WORDS_JS) == []  # labels wrap between words only
    # the outcome strip's figures keep their size however long the words beside them
    sizes = page.evaluate(
        "() => Array.from(document.querySelectorAll('.outcomes .cell .value'),"
        " (v) => parseFloat(getComputedStyle(v).fontSize))"
    )
    assert sizes and min(sizes) >= 0.9 * 0.015 * 1920, sizes
    # ...and their labels give way together: one size per strip, no single tiny word
    strips = page.evaluate(
        "() => Array.from(document.querySelectorAll('.outcomes'), (s) => Array.from("
        "s.querySelectorAll('.label'), (l) => parseFloat(getComputedStyle(l).fontSize)))"
    )
    assert strips and all(len(set(labels)) == 1 for labels in strips), strips
    page.screenshot(path=str(shots_dir(tmp_path) / f"board-3q-44a-{lang}.png"))


def test_agent_pages_rotate_and_cover_everyone(
    chromium: Any, board: Any  # noqa: F811
) -> None:
    server = board(12, 200)
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(server.url)
    check_page(page, 12, 200)
    pages = int(page.locator("#agents").get_attribute("data-pages") or "1")
    assert pages > 1
    seen: set[str] = set()
    for _ in range(pages):
        current = page.locator("#agents").get_attribute("data-page")
        seen.update(page.eval_on_selector_all(
            ".agent:not([hidden])", "els => els.map(e => e.dataset.agent)"
        ))
        page.wait_for_function(
            f"() => document.getElementById('agents').dataset.page !== '{current}'",
            timeout=20_000,
        )
    assert len(seen) == 200

