"""The TV page in headless Chromium (Debian's package, driven by Playwright).

Serves the app on a real port, checks the numbers on screen against
/api/snapshot, proves hostile names stay inert, stops and restarts the server
on the same port and watches the page recover by itself, and saves a
1920x1080 screenshot (path printed; WALLBOARD_SCREENSHOT overrides it).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import threading
import time
import urllib.request
from collections.abc import Collection, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from acd.core.intervals import INTERVAL_SECONDS
from acd.core.metrics import today_interval_starts
from acd.core.settings import AgentConfig, Config, QueueConfig, WallboardConfig
from acd.store.embedded import free_port
from acd.store.store import Store
from tests.wallboard.conftest import RedisServer
from tests.wallboard.floor import Floor
from wallboard.app import create_app
from wallboard.tail import format_count, format_duration, format_percent

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE_CALLER = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
HOSTILE_REASON = "<script>window.__pwned=3</script>"

NAMES = [
    "Alicja Nowak", "Bartosz Wiśniewski", "Chen Wei", "Dana Kowalczyk", "Emil Zając",
    "Fatima Haddad", "Grzegorz Lewandowski", "Hanna Wójcik", "Igor Kamiński", "Julia Dąbrowska",
    "Karim Mansour", "Lena Szymańska", "Marek Woźniak", "Nina Kozłowska",
]  # fmt: skip


def browser_config(timezone: str = "Europe/Warsaw") -> Config:
    queues = ("support", "sales", "billing")
    agents = tuple(
        AgentConfig(
            id=f"a{i}",
            name=name,
            endpoint=f"PJSIP/10{i:02d}",
            queues={queues[i % 3]: 50, queues[(i + 1) % 3]: 20},
        )
        for i, name in enumerate(NAMES)
    )
    return Config(
        source="<browser test>",
        wallboard=WallboardConfig(timezone=timezone),
        queues=tuple(QueueConfig(name=q) for q in queues),
        agents=agents,
    )


QUEUES = ("support", "sales", "billing")
STATES = ("available", "on_call", "on_call", "wrap_up", "ringing", "paused", "on_call")


async def populate(
    floor: Floor, now: float, agents: Sequence[tuple[str, dict[str, Any]]] | None = None
) -> None:
    """A busy day so far, every call through the ACD's scripts: calls in every
    interval since midnight (answered by a0, a1, a2 for their first queues, or
    abandoned), callers waiting, agents in every state (``agents``: the state
    and Floor.agent keywords of a0, a1, ... instead)."""
    rng = random.Random(7)
    for qi, queue in enumerate(QUEUES):
        for start in today_interval_starts(now, floor.config.wallboard.timezone):
            busy = 8 <= time.gmtime(start).tm_hour <= 18
            offered = rng.randint(6, 20) if busy else rng.randint(0, 2)
            arrivals = sorted(
                start + rng.uniform(0, min(INTERVAL_SECONDS, now - start) - 1)
                for _ in range(offered)
            )
            for at in arrivals:
                wait = rng.expovariate(1 / (35 + 30 * qi))
                if rng.random() < 0.07 + 0.05 * qi:
                    await floor.abandoned(queue, arrival=at, wait=wait)
                else:
                    await floor.answered_call(queue, agent=f"a{qi}", arrival=at, wait=wait,
                                              talk=rng.uniform(90, 400), wrap=10.0)
        for n in range(qi * 3 + 1):
            name = HOSTILE_CALLER if (queue, n) == ("support", 0) else f"Caller {qi}{n}"
            await floor.caller(f"c{qi}{n}", queue, arrival=now - 40 * (qi + 1) - 7 * n, name=name)
    if agents is None:
        agents = []
        for i in range(len(NAMES) - 2):
            state = STATES[i % len(STATES)]
            agents.append((state, {
                "at": now - 13 * i - 5,
                "reason": HOSTILE_REASON if state == "paused" else "",
                "caller_name": HOSTILE_CALLER if state == "on_call" else f"Caller a{i}",
                "reachable": i != 3,
            }))  # fmt: skip
    for i, (state, kwargs) in enumerate(agents):
        await floor.agent(f"a{i}", state, **{"at": now - 30, **kwargs})


class ServerThread:
    """The app on a fixed loopback port in its own thread and event loop, so it
    can be stopped and started again on the same port."""

    def __init__(self, config: Config, redis_url: str, port: int) -> None:
        self.config = config
        self.redis_url = redis_url
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._redis: aioredis.Redis | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._redis = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
            self._runner = web.AppRunner(create_app(self.config, self._redis))
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10), "server did not start"

    def stop(self) -> None:
        if self._loop is None or self._thread is None or not self._thread.is_alive():
            return

        async def shutdown() -> None:
            assert self._runner is not None and self._redis is not None
            await self._runner.cleanup()
            await self._redis.aclose()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def run_in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion: Playwright's sync API owns this thread's loop."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]


def fetch_snapshot(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "api/snapshot", timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


# Everything check_numbers_match compares, read in one step of the page's own
# thread: a live page cannot re-render half-way through the reading.
READ_BOARD_JS = """(names) => {
  const text = (node) => (node ? node.innerText.trim() : null);
  const queues = {};
  for (const name of names) {
    const tile = document.querySelector('[data-queue="' + CSS.escape(name) + '"]');
    if (!tile) continue;
    const metrics = {};
    for (const cell of tile.querySelectorAll("[data-metric]")) {
      metrics[cell.dataset.metric] = {
        main: text(cell.querySelector(".main")), sub: text(cell.querySelector(".sub")),
      };
    }
    const chips = {};
    for (const chip of tile.querySelectorAll(".chip[data-state]")) {
      chips[chip.dataset.state] = text(chip.querySelector("b"));
    }
    queues[name] = { metrics, chips };
  }
  return {
    version: document.body.dataset.version || null,
    agents: document.querySelectorAll(".agent").length,
    queues,
  };
}"""


def read_board(page: Any, names: Sequence[str]) -> dict[str, Any]:
    """What the page shows for ``names``' tiles, its version and agent count."""
    shown: dict[str, Any] = page.evaluate(READ_BOARD_JS, list(names))
    return shown


def board_mismatches(shown: Mapping[str, Any], snapshot: Mapping[str, Any]) -> list[str]:
    """Where the page (read by :func:`read_board`) differs from the snapshot,
    formatted as the page formats it; empty when they agree."""
    wrong: list[str] = []

    def expect(what: str, got: object, allowed: Collection[object]) -> None:
        if got not in allowed:
            wrong.append(f"{what}: page shows {got!r}, snapshot says {sorted(map(str, allowed))}")

    for q in snapshot["queues"]:
        tile = shown["queues"].get(q["name"])
        if tile is None:
            wrong.append(f"{q['name']}: no tile")
            continue
        metrics = tile["metrics"]

        def main(metric: str, metrics: Mapping[str, Any] = metrics) -> object:
            return (metrics.get(metric) or {}).get("main")

        name = q["name"]
        expect(f"{name} waiting", main("waiting"), {format_count(q["waiting"])})
        expect(f"{name} service level", main("service_level"),
               {format_percent(q["service_level"])})
        # The last 60 min is a rolling window: it drifts between the page's
        # snapshot (up to 10 s old) and this one, by a point at most.
        hour = q["service_level_hour"]
        expect(f"{name} service level, last hour", main("service_level_hour"),
               {format_percent(hour + d) for d in (-0.01, 0, 0.01)} if hour is not None
               else {"—"})
        for metric in ("offered", "answered", "abandoned"):
            expect(f"{name} {metric}", main(metric), {format_count(q[metric])})
        expect(f"{name} abandon rate", (metrics.get("abandoned") or {}).get("sub"),
               {format_percent(q["abandon_rate"])})
        for metric in ("asa_seconds", "aht_seconds", "median_wait_seconds"):
            expect(f"{name} {metric}", main(metric), {format_duration(q[metric])})
        longest = q["longest_wait_seconds"]
        # it ticks: the page may be a second or two ahead
        expect(f"{name} longest wait", main("longest_wait_seconds"),
               {"—"} if longest is None
               else {format_duration(longest + d) for d in (-1, 0, 1, 2, 3)})
        for state, n in q["agents"].items():
            if state in tile["chips"]:
                expect(f"{name} {state} chip", tile["chips"][state], {str(n)})
    logged_in = sum(1 for a in snapshot["agents"] if a["state"] != "logged_out")
    expect("agents on the board", shown["agents"], {logged_in})
    return wrong


def check_numbers_match(page: Any, base_url: str) -> None:
    """Every tile's numbers on screen equal /api/snapshot's (formatted): for a
    board that is not changing."""
    snapshot = fetch_snapshot(base_url)
    shown = read_board(page, [q["name"] for q in snapshot["queues"]])
    assert board_mismatches(shown, snapshot) == []


def numbers_match_live(page: Any, base_url: str, attempts: int = 40) -> None:
    """check_numbers_match for a board that keeps changing (the demo): the
    page is read right after each snapshot, and a comparison counts only if
    the page's version did not move meanwhile. On a mismatch the next attempt
    waits for the page to move: a page that is behind catches up (and one
    stuck on wrong numbers fails here, with what differs)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wrong: list[str] = []
    for _ in range(attempts):
        before = page.evaluate("document.body.dataset.version || null")
        snapshot = fetch_snapshot(base_url)
        shown = read_board(page, [q["name"] for q in snapshot["queues"]])
        if shown["version"] != before:
            continue  # the page moved while the snapshot was read: read both again
        wrong = board_mismatches(shown, snapshot)
        if not wrong:
            return
        try:
            page.wait_for_function(
                "(v) => (document.body.dataset.version || null) !== v", arg=before,
                timeout=25_000,  # the live hub rebuilds at least every 10 s
            )
        except PlaywrightTimeout as exc:
            raise AssertionError(f"the page stays at version {before}: {wrong}") from exc
    raise AssertionError(f"the page never agreed with /api/snapshot: {wrong}")


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} missing (make browser-deps installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_tv_page_shows_the_snapshot_and_recovers_from_a_restart(
    chromium: Any, clean_redis: RedisServer, tmp_path: Path
) -> None:
    config = browser_config()
    now = time.time()

    async def setup() -> None:
        client = aioredis.Redis.from_url(clean_redis.url, decode_responses=True)
        try:
            await populate(await Floor.open(client, config, now - 86400), now)
        finally:
            await client.aclose()

    run_in_thread(setup())
    server = ServerThread(config, clean_redis.url, free_port())
    server.start()
    try:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url)
        page.wait_for_selector('body[data-connected="yes"]', timeout=10_000)
        page.wait_for_selector(".agent", state="attached", timeout=5_000)
        check_numbers_match(page, server.url)

        # Hostile strings are shown as text and never run.
        support = page.locator('[data-queue="support"] .next bdi')
        assert support.inner_text() == HOSTILE_CALLER
        paused = page.locator(".agent.state-paused .detail").first
        assert paused.inner_text() == HOSTILE_REASON
        assert page.evaluate("window.__pwned") is None
        assert page.locator("article img, article script, .agents script").count() == 0

        screenshot = Path(os.environ.get("WALLBOARD_SCREENSHOT", tmp_path / "wallboard.png"))
        page.screenshot(path=str(screenshot))
        print(f"\nscreenshot: {screenshot}")

        # Server goes away: the banner says so and how old the data is.
        server.stop()
        page.wait_for_selector("#banner:not([hidden])", timeout=10_000)
        page.wait_for_function(
            "document.getElementById('banner').textContent.includes('s old')", timeout=5_000
        )
        assert page.locator('body[data-connected="no"]').count() == 1

        # Back on the same port: the page reconnects by itself.
        server.start()
        page.wait_for_selector("#banner[hidden]", state="attached", timeout=20_000)
        assert page.locator('body[data-connected="yes"]').count() == 1

        # And it is live again: a change shows up without a reload.
        write(clean_redis.url, ("a12", "available", {}))
        page.wait_for_selector('.agent[data-agent="a12"]', state="attached", timeout=5_000)
        check_numbers_match(page, server.url)
        assert errors == []
    finally:
        server.stop()


def test_arabic_board_is_right_to_left(chromium: Any, clean_redis: RedisServer) -> None:
    server = ServerThread(browser_config(), clean_redis.url, free_port())
    server.start()
    try:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(server.url + "?lang=ar&queues=support")
        page.wait_for_selector('body[data-connected="yes"]', timeout=10_000)
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        label = page.locator('[data-metric="service_level"] .label').inner_text()
        assert label == "مستوى الخدمة اليوم"
        assert page.locator("[data-queue]").count() == 1
    finally:
        server.stop()


def write(redis_url: str, *changes: tuple[str, str, dict[str, Any]], start: bool = False) -> None:
    """Agent changes (id, state, Floor.agent keywords) through the store, each
    announced by its script as the ACD does; ``start``: the ACD starts first
    (every agent of browser_config() in the store, logged out)."""
    config = browser_config()

    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            if start:
                floor = await Floor.open(client, config, time.time())
            else:
                floor = Floor(Store(client, config.redis), config)
            for agent_id, state, kwargs in changes:
                await floor.agent(agent_id, state, **{"at": time.time(), **kwargs})
        finally:
            await client.aclose()

    run_in_thread(run())


def wait_until(page: Any, condition: Any, what: str, seconds: float = 10.0) -> None:
    """Let Playwright deliver events (websocket routes run then) until ``condition()``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(20)


def test_deltas_change_the_page_and_a_missed_one_brings_a_full_resync(
    chromium: Any, clean_redis: RedisServer
) -> None:
    config = browser_config()
    write(clean_redis.url, *((f"a{i}", "available", {}) for i in range(4)), start=True)
    server = ServerThread(config, clean_redis.url, free_port())
    server.start()
    seen: list[dict[str, Any]] = []  # every data message the server sent, in order
    drop = {"next_delta": False}
    dropped: list[dict[str, Any]] = []
    asked: list[str] = []

    def route(ws: Any) -> None:
        # Between the page and the real server: forwards everything, except
        # one delta when told to (a frame lost as on a flaky network).
        upstream = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            data = json.loads(message)
            if data.get("type") in ("snapshot", "delta"):
                seen.append(data)
                if data["type"] == "delta" and drop["next_delta"]:
                    drop["next_delta"] = False
                    dropped.append(data)
                    return
            ws.send(message)

        def from_page(message: str | bytes) -> None:
            asked.append(str(message))
            upstream.send(message)

        upstream.on_message(from_server)
        ws.on_message(from_page)

    try:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.route_web_socket(lambda url: "/ws" in url, route)
        page.goto(server.url)
        page.wait_for_selector('body[data-connected="yes"]', timeout=10_000)
        page.wait_for_selector('.agent[data-agent="a3"]', state="attached")
        assert seen[0]["type"] == "snapshot"

        # A delta changes the page.
        write(clean_redis.url, ("a2", "paused", {"reason": "Coffee"}))
        card = page.locator('.agent[data-agent="a2"]')
        page.wait_for_function(
            "() => document.querySelector('.agent[data-agent=\"a2\"]').dataset.state === 'paused'"
        )
        assert card.locator(".detail").inner_text() == "Coffee"
        assert card.locator(".state").inner_text() == "Paused"
        assert {m["type"] for m in seen[1:]} == {"delta"}
        assert page.locator("body").get_attribute("data-resyncs") is None
        version = int(page.locator("body").get_attribute("data-version") or "0")
        assert version == seen[-1]["version"] > seen[0]["version"]

        # A delta lost on the way: the next one does not follow the version
        # on screen, so the page asks for the whole board and shows both changes.
        drop["next_delta"] = True
        write(clean_redis.url, ("a0", "wrap_up", {"queue": "support"}))
        wait_until(page, lambda: bool(dropped), "the lost delta")
        write(clean_redis.url, ("a1", "ringing", {"queue": "sales"}))
        page.wait_for_function("() => document.body.dataset.resyncs === '1'")
        assert [json.loads(m)["type"] for m in asked] == ["resync"]
        page.wait_for_function(
            "() => document.querySelector('.agent[data-agent=\"a1\"]').dataset.state === 'ringing'"
        )
        assert page.locator('.agent[data-agent="a0"]').get_attribute("data-state") == "wrap_up"
        assert seen[-1]["type"] == "snapshot"  # the resync was the full board
        assert int(page.locator("body").get_attribute("data-version") or "0") >= seen[-1]["version"]
        check_numbers_match(page, server.url)
        assert errors == []
    finally:
        server.stop()


# --- colour: never colour alone, distinguishable with deuteranopia, contrast ---

# Machado, Oliveira & Fernandes 2009, deuteranopia at severity 1.0 (linear RGB).
DEUTERANOPIA = (
    (0.367322, 0.860646, -0.227968),
    (0.280085, 0.672501, 0.047413),
    (-0.011820, 0.042940, 0.968881),
)
MIN_STATE_DELTA_E = 10.0  # CIEDE2000 between any two state colours
MIN_CONTRAST = 4.5


def _linear(channel: float) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _lab(linear_rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = linear_rgb
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def lab(rgb: tuple[int, int, int], deuteranopia: bool = False) -> tuple[float, float, float]:
    linear = [_linear(c) for c in rgb]
    if deuteranopia:
        linear = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, linear, strict=True))))
                  for row in DEUTERANOPIA]
    return _lab((linear[0], linear[1], linear[2]))


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    d_hp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_bar - 30))
        + 0.24 * math.cos(math.radians(2 * h_bar))
        + 0.32 * math.cos(math.radians(3 * h_bar + 6))
        - 0.20 * math.cos(math.radians(4 * h_bar - 63))
    )
    r_c = 2 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(60 * math.exp(-(((h_bar - 275) / 25) ** 2)))) * r_c
    dl, dc, dhh = (l2 - l1) / s_l, (c2p - c1p) / s_c, d_hp / s_h
    return math.sqrt(dl**2 + dc**2 + dhh**2 + r_t * dc * dhh)


def contrast(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio."""

    def luminance(c: tuple[int, int, int]) -> float:
        r, g, b = (_linear(x) for x in c)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_colour_science_matches_published_values() -> None:
    # Sharma et al.'s test data, pairs 1 and 17; WCAG's black on white is 21:1.
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    # Under deuteranopia pure red and green are near neighbours; blue stays apart.
    assert ciede2000(lab((200, 60, 0), True), lab((60, 140, 0), True)) < 12
    assert ciede2000(lab((200, 60, 0), True), lab((0, 90, 255), True)) > 40


STATE_CARDS_JS = """() => [...document.querySelectorAll('.agent')].map(card => {
  const state = card.querySelector('.state');
  const box = getComputedStyle(card);
  return {id: card.dataset.agent, shown: card.dataset.state,
          glyph: card.querySelector('.glyph').textContent, text: state.textContent,
          colour: getComputedStyle(state).color, borderStyle: box.borderInlineStartStyle};
})"""

# Every element with its own text: its colour and the backgrounds it can be
# seen on (gradient stops, and each frame of a background animation), with
# translucent layers composited over what is beneath.
TEXT_PAIRS_JS = """() => {
  const parse = (s) => {
    const m = s.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) =>
    [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const probe = (parent, value) => {
    const d = document.createElement('div');
    d.style.background = value;
    parent.append(d);
    const c = getComputedStyle(d).backgroundColor;
    d.remove();
    return parse(c);
  };
  const keyframes = {};
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if (rule.type !== CSSRule.KEYFRAMES_RULE) continue;
      keyframes[rule.name] = [...rule.cssRules]
        .map(k => k.style.background || k.style.backgroundColor).filter(Boolean);
    }
  }
  function layers(el) {
    const cs = getComputedStyle(el);
    const out = [];
    const base = parse(cs.backgroundColor);
    if (base && base[3] > 0) out.push(base);
    for (const m of cs.backgroundImage.matchAll(/rgba?\\([^)]+\\)/g)) out.push(parse(m[0]));
    for (const v of keyframes[cs.animationName] || []) {
      const c = probe(el.parentElement, v);
      if (c) out.push(c);
    }
    return out;
  }
  function backgrounds(el) {
    if (!el) return [[0, 0, 0, 1]];
    const own = layers(el);
    const solid = own.filter(c => c[3] >= 1);
    const clear = own.filter(c => c[3] < 1);
    const beneath = () => backgrounds(el.parentElement);
    if (solid.length) return solid.concat(clear.flatMap(c => beneath().map(u => over(c, u))));
    return clear.length ? clear.flatMap(c => beneath().map(u => over(c, u))) : beneath();
  }
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (['SCRIPT', 'STYLE'].includes(el.tagName)) continue;
    const text = [...el.childNodes].filter(n => n.nodeType === 3)
      .map(n => n.textContent).join('').trim();
    if (!text || !el.getClientRects().length) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || Number(cs.opacity) === 0) continue;
    const fg = parse(cs.color);
    const card = el.closest('[data-state]');
    const where = (el.className || el.tagName) + (card ? ' ' + card.dataset.state : '');
    for (const bg of backgrounds(el)) {
      out.push({where: where, text: text.slice(0, 30),
                fg: over(fg, bg).slice(0, 3).map(Math.round), bg: bg.slice(0, 3).map(Math.round)});
    }
  }
  return out;
}"""


def _rgb(css: str) -> tuple[int, int, int]:
    parts = [float(p) for p in css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()]
    return round(parts[0]), round(parts[1]), round(parts[2])


def test_states_are_not_told_by_colour_alone_and_every_text_has_contrast(
    chromium: Any, clean_redis: RedisServer, tmp_path: Path
) -> None:
    config = browser_config()
    now = time.time()

    async def setup() -> None:
        client = aioredis.Redis.from_url(clean_redis.url, decode_responses=True)
        try:
            # Figures in every level, a hostile caller; seven agents logged in
            # (the rest stay logged out): one page of cards, never rotating.
            shown: list[tuple[str, dict[str, Any]]] = [
                     ("available", {}), ("ringing", {"queue": "sales"}),
                     ("on_call", {"queue": "support"}), ("wrap_up", {}),
                     ("paused", {"reason": "Lunch"}),
                     ("available", {"phone_busy": True}),
                     ("available", {"reachable": False})]  # fmt: skip
            await populate(await Floor.open(client, config, now - 86400), now, shown)
        finally:
            await client.aclose()

    run_in_thread(setup())
    server = ServerThread(config, clean_redis.url, free_port())
    server.start()
    try:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(server.url + "?queues=support,sales,billing")
        page.wait_for_selector('body[data-connected="yes"]', timeout=10_000)
        page.wait_for_selector('.agent[data-agent="a6"]', state="attached")
        assert page.locator("#agents").get_attribute("data-pages") == "1"
        page.screenshot(path=str(tmp_path / "states.png"))

        # (a) Every state has its own glyph and its own words, not just a colour.
        cards = {c["id"]: c for c in page.evaluate(STATE_CARDS_JS)}
        by_state = {cards[f"a{i}"]["shown"]: cards[f"a{i}"] for i in range(7)}
        assert set(by_state) == {"available", "ringing", "on_call", "wrap_up", "paused",
                                 "phone_busy", "unreachable"}  # fmt: skip
        for state, card in by_state.items():
            assert card["glyph"].strip() and card["text"].strip(), state
        assert len({c["glyph"] for c in by_state.values()}) == len(by_state)
        assert len({c["text"] for c in by_state.values()}) == len(by_state)
        core = ("available", "ringing", "on_call", "wrap_up", "paused")
        assert len({by_state[s]["borderStyle"] for s in core}) >= 4  # a pattern too

        # (b) The state colours stay apart with deuteranopia (and without).
        colours = {s: _rgb(c["colour"]) for s, c in by_state.items()}
        close = []
        for i, s1 in enumerate(colours):
            for s2 in list(colours)[i + 1 :]:
                for simulated in (False, True):
                    de = ciede2000(lab(colours[s1], simulated), lab(colours[s2], simulated))
                    if de < MIN_STATE_DELTA_E:
                        vision = "deuteranopia" if simulated else "normal"
                        close.append((s1, s2, vision, round(de, 1)))
        assert close == []

        # (c) Every text on the page against every background it sits on.
        pairs = page.evaluate(TEXT_PAIRS_JS)
        assert len(pairs) > 100
        low = sorted(
            {(p["where"], p["text"], tuple(p["fg"]), tuple(p["bg"]),
              round(contrast(tuple(p["fg"]), tuple(p["bg"])), 2))
             for p in pairs
             if contrast(tuple(p["fg"]), tuple(p["bg"])) < MIN_CONTRAST}
        )  # fmt: skip
        assert low == []
    finally:
        server.stop()
