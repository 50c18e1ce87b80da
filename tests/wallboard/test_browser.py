"""The TV page in headless Chromium (Debian's package, driven by Playwright).

Serves the app on a real port, checks the numbers on screen against
/api/snapshot, proves hostile names stay inert, stops and restarts the server
on the same port and watches the page recover by itself, and saves a
1920x1080 screenshot (path printed; WALLBOARD_SCREENSHOT overrides it).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from acd.config.model import AgentConfig, Config, QueueConfig, WallboardConfig
from acd.core.metrics import today_interval_starts
from acd.store.embedded import free_port
from acd.store.keys import INTERVAL_SECONDS
from tests.wallboard.acd_writer import AcdWriter
from tests.wallboard.conftest import RedisServer
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


async def populate(w: AcdWriter, config: Config, now: float) -> None:
    """A busy day so far: counters for every interval since midnight, callers
    waiting, agents in every state."""
    rng = random.Random(7)
    for qi, queue in enumerate(("support", "sales", "billing")):
        for start in today_interval_starts(now, config.wallboard.timezone):
            busy = 8 <= time.gmtime(start).tm_hour <= 18
            offered = rng.randint(6, 20) if busy else rng.randint(0, 2)
            for _ in range(offered):
                at = start + rng.uniform(0, min(INTERVAL_SECONDS, now - start) - 1)
                wait = rng.expovariate(1 / (35 + 30 * qi))
                await w.count(queue, at, offered=1, publish=False)
                if rng.random() < 0.07 + 0.05 * qi:
                    await w.abandoned(queue, at, wait=wait, publish=False)
                else:
                    await w.answered(queue, at, wait=wait, publish=False)
                    await w.handled(queue, at, talk=rng.uniform(90, 400), wrap=10.0, publish=False)
        for n in range(qi * 3 + 1):
            name = HOSTILE_CALLER if (queue, n) == ("support", 0) else f"Caller {qi}{n}"
            await w.enqueue(
                f"c{qi}{n}",
                queue,
                arrival=now - 40 * (qi + 1) - 7 * n,
                caller_name=name,
                publish=False,
            )
    states = ["available", "on_call", "on_call", "wrap_up", "ringing", "paused", "on_call"]
    for i in range(len(NAMES) - 2):
        state = states[i % len(states)]
        queue = ("support", "sales", "billing")[i % 3]
        await w.set_agent(
            f"a{i}",
            state,
            at=now - 13 * i - 5,
            pause_reason=HOSTILE_REASON if state == "paused" else "",
            queue=queue if state in ("on_call", "ringing", "wrap_up") else "",
            call_id="c00" if state == "on_call" else "",
            reachable=i != 3,
            publish=False,
        )


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


def check_numbers_match(page: Any, base_url: str) -> None:
    """Every tile's numbers on screen equal /api/snapshot's (formatted)."""
    snapshot = fetch_snapshot(base_url)
    for q in snapshot["queues"]:
        tile = page.locator(f'[data-queue="{q["name"]}"]')

        def shown(metric: str, tile: Any = tile) -> str:
            return str(tile.locator(f'[data-metric="{metric}"] .main').inner_text()).strip()

        assert shown("waiting") == format_count(q["waiting"])
        assert shown("service_level") == format_percent(q["service_level"])
        # The last 60 min is a rolling window: it drifts between the page's
        # snapshot (up to 10 s old) and this one, by a point at most.
        hour = q["service_level_hour"]
        assert shown("service_level_hour") in (
            {format_percent(hour + d) for d in (-0.01, 0, 0.01)} if hour is not None else {"—"}
        )
        assert shown("offered") == format_count(q["offered"])
        assert shown("answered") == format_count(q["answered"])
        assert shown("abandoned") == format_count(q["abandoned"])
        sub = tile.locator('[data-metric="abandoned"] .sub').inner_text().strip()
        assert sub == format_percent(q["abandon_rate"])
        assert shown("asa_seconds") == format_duration(q["asa_seconds"])
        assert shown("aht_seconds") == format_duration(q["aht_seconds"])
        assert shown("median_wait_seconds") == format_duration(q["median_wait_seconds"])
        longest = q["longest_wait_seconds"]
        if longest is None:
            assert shown("longest_wait_seconds") == "—"
        else:  # it ticks: the page may be a second or two ahead
            candidates = {format_duration(longest + d) for d in (-1, 0, 1, 2, 3)}
            assert shown("longest_wait_seconds") in candidates
        for state, n in q["agents"].items():
            chip = tile.locator(f'.chip[data-state="{state}"] b')
            if chip.count():
                assert chip.inner_text().strip() == str(n), (q["name"], state)
    shown_agents = page.locator(".agent").count()
    assert shown_agents == sum(1 for a in snapshot["agents"] if a["state"] != "logged_out")


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
            await populate(AcdWriter(client), config, now)
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
        async def change() -> None:
            client = aioredis.Redis.from_url(clean_redis.url, decode_responses=True)
            try:
                await AcdWriter(client).set_agent("a12", "available", at=time.time())
            finally:
                await client.aclose()

        run_in_thread(change())
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
