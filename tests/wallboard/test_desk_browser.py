"""The agent panel and the supervisor view in headless Chromium (Debian's
package, driven by Playwright), against the real ACD service, a real Redis
and the fake Asterisk: sign in, an offer arrives, the call is answered and
hung up, a disposition is picked in wrap-up, the same caller calls again and
the panel shows the first contact; state buttons; a supervisor logs an agent
out; the panel in Arabic (right to left, names intact, nothing cut off) and
in Polish on a laptop; signing out in one tab sends the other to the sign-in
page. Screenshots go to ``$DESK_SCREENSHOTS`` (the docs use docs/img) or the
test's temporary directory."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from acd.store.embedded import free_port
from tests.wallboard.conftest import RedisServer
from tests.wallboard.desk_runtime import PASSWORDS, DeskBed, desk_bed, eventually
from tests.wallboard.test_browser import chromium  # noqa: F401  (fixture)
from wallboard.app import create_app
from wallboard.auth import DeskSettings

pytestmark = pytest.mark.browser

T = TypeVar("T")
HOSTILE = '<img src=x onerror="window.__pwned=1">Ann<script>window.__pwned=2</script>'
NUMBER = "+48600700800"


class BedThread:
    """The ACD, the fake Asterisk and the wallboard on their own event loop
    (Playwright's sync API owns the test's thread)."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.bed: DeskBed | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:
            self._failure.append(exc)
            self._ready.set()
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with desk_bed(self.redis_url) as bed:
            self.bed = bed
            wb = bed.rt.config.wallboard
            # No periodic rebuild of the desks: what a page shows comes from
            # the pushes its agent's changes cause, and from the page itself.
            settings = DeskSettings(
                idle_seconds=wb.session_idle_minutes * 60,
                max_seconds=wb.session_max_hours * 3600,
                max_failures=wb.signin_max_failures,
                failure_window_seconds=wb.signin_window_seconds,
                refresh_seconds=3600,
            )
            app = create_app(bed.rt.config, bed.rt.redis, agent_commands=bed.rt.service.commands,
                             desk_settings=settings)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(30), "the desk did not start"
        if self._failure:
            raise self._failure[0]

    def call(self, make: Callable[[DeskBed], Coroutine[Any, Any, T]]) -> T:
        assert self.bed is not None
        return asyncio.run_coroutine_threadsafe(make(self.bed), self.loop).result(60)

    def stop(self) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(40)


@pytest.fixture
def desk(clean_redis: RedisServer) -> Iterator[BedThread]:
    server = BedThread(clean_redis.url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shots(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("DESK_SCREENSHOTS", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def state_is(agent_id: str, wanted: str) -> Callable[[DeskBed], Coroutine[Any, Any, None]]:
    async def wait(bed: DeskBed) -> None:
        async def check() -> bool:
            return await bed.agent_state(agent_id) == wanted

        await eventually(bed, check)

    return wait


def sign_in(page: Any, base: str, user: str, password: str) -> None:
    page.goto(base + "agent")
    page.wait_for_url("**/signin")
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("button[type=submit]")


def shown_state(page: Any, label: str) -> None:
    page.wait_for_function(
        "(label) => document.getElementById('state').textContent === label", arg=label
    )


def test_agent_panel_offer_history_disposition_and_state_buttons(
    chromium: Any, desk: BedThread, tmp_path: Path  # noqa: F811
) -> None:
    out = shots(tmp_path)
    base = desk.url
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # A wrong password: refused, with a message; then the right one.
    sign_in(page, base, "1001", "wrong")
    assert "wrong id or password" in page.inner_text("#signin-error")
    page.screenshot(path=str(out / "agent-desk-signin.png"))
    page.fill("#password", PASSWORDS["1001"])
    page.click("button[type=submit]")
    page.wait_for_url("**/agent")
    page.wait_for_selector('body[data-connected="yes"]')
    assert page.inner_text("#me") == "Ann <b>Lee</b>"  # escaped, shown as text
    shown_state(page, "Logged out")

    page.click("#btn-login")
    shown_state(page, "Available")
    # The day's table counts the running state up on the page, second by
    # second, between pushes (the server pushes a desk only on its changes).
    available = "#today-states tr.st-available td.num"
    page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).textContent !== before",
        arg=[available, page.inner_text(available)], timeout=10_000,
    )

    async def reachable(bed: DeskBed) -> None:
        async def check() -> bool:
            view = await bed.store.agent("1001")
            return view is not None and view.reachable

        await eventually(bed, check)

    desk.call(reachable)

    # An offer: the ring notice, the caller (hostile name stays text), the queue.
    async def ring(bed: DeskBed, name: str = HOSTILE) -> asyncio.Event:
        gate = bed.fake.hold_ring("1001")
        await bed.fake.place_call(caller_id=NUMBER, caller_name=name)
        await bed.fake.ringing["1001"].wait()
        return gate

    gate = desk.call(ring)
    page.wait_for_selector("#ring", state="visible")
    shown_state(page, "Ringing")
    assert page.inner_text("#caller-name") == HOSTILE
    assert page.inner_text("#caller-number") == NUMBER
    assert page.inner_text("#call-queue") == "Support"
    assert "Incoming call" in page.inner_text("#ring")
    page.screenshot(path=str(out / "agent-desk-offer.png"))

    async def answer(bed: DeskBed, gate: asyncio.Event = gate) -> None:
        gate.set()
        await state_is("1001", "on_call")(bed)

    desk.call(answer)
    shown_state(page, "On call")
    assert page.locator("#ring").is_hidden()

    async def hang_up(bed: DeskBed) -> None:
        await bed.fake.agent_hangup("1001")
        await state_is("1001", "wrap_up")(bed)

    desk.call(hang_up)
    shown_state(page, "Wrap-up")
    page.wait_for_selector("#dispo", state="visible")
    codes = page.locator("#dispo-codes .code")
    assert [c.get_attribute("data-code") for c in codes.all()] == [
        "resolved", "follow_up", "escalated"]
    page.click('#dispo-codes .code[data-code="follow_up"]')
    page.fill("#dispo-note", "Parcel lost <b>twice</b>; promised a call back Friday")
    page.screenshot(path=str(out / "agent-desk-wrap-up.png"))
    page.click("#dispo-save")
    # The queue ends wrap-up on save: available again, the form gone.
    shown_state(page, "Available")
    page.wait_for_selector("#dispo", state="hidden")
    page.wait_for_function("() => document.getElementById('today-calls').textContent === '1'")

    # The same caller again: the first contact, with its disposition and note.
    gate = desk.call(lambda bed: ring(bed, "Ann Again"))
    page.wait_for_selector("#ring", state="visible")
    page.wait_for_selector("#history tbody tr")
    row = page.locator("#history tbody tr").first.inner_text()
    assert "follow_up" in row and "Parcel lost <b>twice</b>" in row and "Ann <b>Lee</b>" in row
    page.screenshot(path=str(out / "agent-desk-history.png"))
    laptop = chromium.new_page(viewport={"width": 1366, "height": 768})
    laptop.context.add_cookies(page.context.cookies())
    laptop.goto(base + "agent")
    laptop.wait_for_selector("#history tbody tr")
    laptop.wait_for_selector("#ring", state="visible")
    laptop.screenshot(path=str(out / "agent-desk-laptop.png"), full_page=True)
    laptop.close()

    # A pause asked for while the phone rings is pending until the call is over.
    page.select_option("#pause-reason", "Lunch")
    page.click("#btn-pause")
    page.wait_for_selector("#pending", state="visible")
    assert "Pause pending (Lunch)" in page.inner_text("#pending")

    async def finish(bed: DeskBed, gate: asyncio.Event = gate) -> None:
        gate.set()
        await state_is("1001", "on_call")(bed)
        await bed.fake.agent_hangup("1001")
        await state_is("1001", "wrap_up")(bed)

    desk.call(finish)
    page.wait_for_selector("#dispo", state="visible")
    page.click('#dispo-codes .code[data-code="resolved"]')
    page.click("#dispo-save")
    shown_state(page, "Paused")  # the pending pause applied when the wrap-up ended
    assert page.inner_text("#state-detail") == "Lunch"
    page.click("#btn-unpause")
    shown_state(page, "Available")
    page.click("#btn-logout")
    shown_state(page, "Logged out")
    assert page.evaluate("() => window.__pwned") is None
    assert errors == []

    # Signing out ends the session: the panel sends you to sign in.
    page.click(".signout button")
    page.wait_for_url("**/signin")
    page.goto(base + "agent")
    page.wait_for_url("**/signin")
    page.close()


def test_supervisor_view_logs_an_agent_out(
    chromium: Any, desk: BedThread, tmp_path: Path  # noqa: F811
) -> None:
    out = shots(tmp_path)
    base = desk.url

    async def floor(bed: DeskBed) -> None:
        commands = bed.rt.service.commands
        await commands.login("1001")
        await commands.login("1002")
        await commands.pause("1002", "Coaching")

    desk.call(floor)
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    sign_in(page, base, "sup", PASSWORDS["sup"])
    page.wait_for_url("**/supervisor")
    page.wait_for_selector('#agents tr[data-agent="1002"][data-state="paused"]')
    assert "Coaching" in page.inner_text('#agents tr[data-agent="1002"]')
    assert page.locator("#queues tbody tr").count() == 1
    page.screenshot(path=str(out / "agent-desk-supervisor.png"))
    page.click('#agents tr[data-agent="1001"] button[data-action="logout"]')
    page.wait_for_selector('#agents tr[data-agent="1001"][data-state="logged_out"]')
    page.click('#agents tr[data-agent="1002"] button[data-action="unpause"]')
    page.wait_for_selector('#agents tr[data-agent="1002"][data-state="available"]')

    async def recorded(bed: DeskBed) -> list[tuple[str, str, str]]:
        rows: Any = await bed.rt.redis.xrange(bed.store.keys.events)
        out = []
        for _, fields in rows:
            f = {_s(k): _s(v) for k, v in fields.items()}
            if f["type"] == "agent_command":
                out.append((f["agent"], f["action"], f["by"]))
        return out

    assert desk.call(recorded) == [("1001", "logout", "sup"), ("1002", "unpause", "sup")]
    page.close()


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)



# Every visible label, button, heading and cell whose text does not fit its
# box (scrollWidth > clientWidth), and the page itself scrolling sideways.
OVERFLOWING = """() => {
  const bad = [];
  const sel = "button, label, select, h1, h2, h3, dt, dd, th, td, p, .state, .since, "
    + ".ring-text, .ring-caller, .status, .badge, .card";
  document.querySelectorAll(sel).forEach((el) => {
    if (el.offsetParent === null || el.classList.contains("visually-hidden")) return;
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      bad.push((el.id || el.className || el.tagName) + ": " + el.textContent.trim().slice(0, 40));
    }
  });
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) bad.push("page: " + root.scrollWidth);
  return bad;
}"""

LATIN_NAME = "Zoë Kowalczyk-Brzęczyszczykiewicz"


def _panel_through_a_call(
    page: Any, desk: BedThread, lang: str, labels: dict[str, str], shot: Path | None,
    calls: int = 1,
) -> None:
    """Sign in in ``lang``, log in, take an offer (a Latin caller name) and go
    to wrap-up, checking at each step that the page is in ``lang`` and that
    nothing overflows."""
    base = desk.url
    page.goto(base + f"signin?lang={lang}")
    assert page.inner_text("label[for=user]") == labels["signin_user"]
    page.fill("#user", "1001")
    page.fill("#password", PASSWORDS["1001"])
    page.click("button[type=submit]")
    page.wait_for_url("**/agent")
    page.wait_for_selector('body[data-connected="yes"]')
    assert page.evaluate("() => document.documentElement.lang") == lang
    assert page.inner_text("#me") == "Ann <b>Lee</b>"
    shown_state(page, labels["state_logged_out"])
    assert page.inner_text("#btn-login") == labels["btn_login"]
    assert page.evaluate(OVERFLOWING) == []
    page.click("#btn-login")
    shown_state(page, labels["state_available"])
    assert page.inner_text("#btn-pause") == labels["btn_pause"]
    # Pause reasons are shown translated, sent as the ACD's own.
    assert page.inner_text("#pause-reason option >> nth=1") == labels["reason_lunch"]
    assert page.evaluate("() => document.querySelector('#pause-reason').options[1].value") == (
        "Lunch")
    assert page.evaluate(OVERFLOWING) == []

    async def ring(bed: DeskBed) -> asyncio.Event:
        async def reachable() -> bool:
            view = await bed.store.agent("1001")
            return view is not None and view.reachable

        await eventually(bed, reachable)
        gate = bed.fake.hold_ring("1001")
        await bed.fake.place_call(caller_id=NUMBER, caller_name=LATIN_NAME)
        await bed.fake.ringing["1001"].wait()
        return gate

    gate = desk.call(ring)
    page.wait_for_selector("#ring", state="visible")
    shown_state(page, labels["state_ringing"])
    assert page.inner_text(".ring-text") == labels["ring_text"]
    assert page.inner_text("#caller-name") == LATIN_NAME
    assert page.inner_text("#caller-number") == NUMBER
    # The number reads left to right whatever the page's direction.
    assert page.evaluate(
        "() => getComputedStyle(document.getElementById('caller-number')).direction") == "ltr"
    assert page.text_content("#call-title") == labels["offer"]
    assert page.evaluate(OVERFLOWING) == []
    if shot is not None:
        page.screenshot(path=str(shot))

    async def to_wrap_up(bed: DeskBed, gate: asyncio.Event = gate) -> None:
        gate.set()
        await state_is("1001", "on_call")(bed)
        await bed.fake.agent_hangup("1001")
        await state_is("1001", "wrap_up")(bed)

    desk.call(to_wrap_up)
    shown_state(page, labels["state_wrap_up"])
    page.wait_for_selector("#dispo", state="visible")
    assert page.inner_text("#dispo-save") == labels["save_disposition"]
    page.click('#dispo-codes .code[data-code="follow_up"]')
    page.fill("#dispo-note", "Oddzwonić w piątek — طلب معاودة الاتصال")
    assert page.evaluate(OVERFLOWING) == []
    page.click("#dispo-save")
    shown_state(page, labels["state_available"])
    page.wait_for_function(
        "(n) => document.getElementById('today-calls').textContent === String(n)", arg=calls)
    assert page.evaluate(OVERFLOWING) == []


def test_agent_panel_in_arabic_is_right_to_left_and_nothing_overflows(
    chromium: Any, desk: BedThread, tmp_path: Path  # noqa: F811
) -> None:
    from wallboard import i18n

    labels = i18n.desk_translations("ar")
    out = shots(tmp_path)
    sizes = ((1920, 1080, out / "agent-desk-ar.png"), (1366, 768, None))
    for calls, (width, height, shot) in enumerate(sizes, start=1):
        page = chromium.new_page(viewport={"width": width, "height": height})
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(desk.url + "signin?lang=ar")
        assert page.evaluate("() => document.documentElement.dir") == "rtl"
        _panel_through_a_call(page, desk, "ar", labels, shot, calls)
        assert page.evaluate("() => document.documentElement.dir") == "rtl"
        # Right to left: the state card is on the right, the day on the left.
        state_box = page.locator(".state-card").bounding_box()
        today_box = page.locator(".today-card").bounding_box()
        if width >= 1920:
            assert state_box["x"] > today_box["x"]
        assert errors == []
        page.click("#btn-logout")
        shown_state(page, labels["state_logged_out"])
        page.close()


def test_agent_panel_in_polish_fits_a_laptop(
    chromium: Any, desk: BedThread, tmp_path: Path  # noqa: F811
) -> None:
    from wallboard import i18n

    labels = i18n.desk_translations("pl")
    page = chromium.new_page(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _panel_through_a_call(page, desk, "pl", labels, shots(tmp_path) / "agent-desk-pl.png")
    assert page.evaluate("() => document.documentElement.dir") == "ltr"
    assert page.text_content("#history-title") == labels["history_title"]
    assert errors == []
    page.close()


def test_signing_out_in_one_tab_sends_the_other_to_sign_in(
    chromium: Any, desk: BedThread  # noqa: F811
) -> None:
    base = desk.url
    first = chromium.new_page()
    sign_in(first, base, "1001", PASSWORDS["1001"])
    first.wait_for_url("**/agent")
    first.wait_for_selector('body[data-connected="yes"]')
    # A second tab of the same browser: the same session cookie.
    second = chromium.new_page()
    second.context.add_cookies(first.context.cookies())
    second.goto(base + "agent")
    second.wait_for_selector('body[data-connected="yes"]')

    first.click(".signout button")
    first.wait_for_url("**/signin")
    # The other tab's socket is closed by the server: it says so and goes to sign in.
    second.wait_for_url("**/signin?ended=signed_out")
    assert second.inner_text("#signin-notice") == "You were signed out."
    second.goto(base + "agent")
    second.wait_for_url("**/signin")
    first.close()
    second.close()


def test_supervisor_records_a_disposition_for_an_agent_in_wrap_up(
    chromium: Any, desk: BedThread, tmp_path: Path  # noqa: F811
) -> None:
    async def wrap_up(bed: DeskBed) -> None:
        await bed.rt.service.commands.login("1001")

        async def reachable() -> bool:
            view = await bed.store.agent("1001")
            return view is not None and view.reachable

        await eventually(bed, reachable)
        await bed.fake.place_call(caller_id=NUMBER, caller_name="Wanda")
        await state_is("1001", "on_call")(bed)
        await bed.fake.agent_hangup("1001")
        await state_is("1001", "wrap_up")(bed)

    desk.call(wrap_up)
    page = chromium.new_page(viewport={"width": 1920, "height": 1080})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, desk.url, "sup", PASSWORDS["sup"])
    page.wait_for_url("**/supervisor")
    row = '#agents tr[data-agent="1001"]'
    page.wait_for_selector(f'{row}[data-state="wrap_up"] button[data-action="disposition"]')
    page.select_option(f"{row} select.dispo-codes", "escalated")
    page.click(f'{row} button[data-action="disposition"]')
    page.wait_for_selector(f'{row}[data-state="available"]')  # the wrap-up ended on save

    async def recorded(bed: DeskBed) -> list[tuple[str, str]]:
        contacts = await bed.store.caller_history(NUMBER)
        return [(c["disposition"], c["disposition_by"]) for c in contacts]

    assert desk.call(recorded) == [("escalated", "sup")]
    assert errors == []
    page.close()
