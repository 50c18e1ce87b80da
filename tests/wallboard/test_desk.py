"""The agent desk over real HTTP: sign-in, sessions, CSRF, rate limit, roles,
dispositions, the pages' languages and desk sockets closing with their
session, driving the real ACD service over a real Redis and the fake
Asterisk (real AMI and FastAGI sockets)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient

from acd.core.credentials import hash_password
from acd.store.client import close as close_redis
from acd.store.client import connect as connect_redis
from acd.store.keys import Keys
from tests.redis_reads import stream_entries
from tests.wallboard.conftest import RedisServer
from tests.wallboard.desk_runtime import PASSWORDS, DeskBed, desk_bed, desk_config, eventually
from wallboard import i18n
from wallboard.app import create_app
from wallboard.auth import COOKIE_NAME, CSRF_HEADER, DeskSettings
from wallboard.desk import DESK_HUB_KEY, LANG_COOKIE
from wallboard.desk_hub import SESSION_ENDED_CLOSE

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[], Awaitable[Client]]
# No periodic rebuild of the desks here: what a desk shows must come from the
# change messages that name its agent.
SETTINGS = DeskSettings(idle_seconds=600, max_seconds=3600, max_failures=5,
                        failure_window_seconds=300, session_check_seconds=0.1,
                        refresh_seconds=3600)
WALLBOARD = Path(__file__).parents[2] / "wallboard"
HOSTILE = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
async def bed(redis_server: RedisServer) -> AsyncIterator[DeskBed]:
    async with desk_bed(redis_server.url) as bed:
        yield bed


@pytest.fixture
async def make_client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], bed: DeskBed
) -> AsyncIterator[MakeClient]:
    """A browser of its own (cookie jar) on the one app."""
    app = create_app(bed.rt.config, bed.rt.redis, agent_commands=bed.rt.service.commands,
                     clock=bed.clock, desk_settings=SETTINGS)
    clients: list[Client] = []

    async def make() -> Client:
        if not clients:
            clients.append(await aiohttp_client(app))
            return clients[0]
        # the same server (so the same app), with a cookie jar of its own
        other = cast(Client, TestClient(clients[0].server))
        await other.start_server()
        clients.append(other)
        return other

    yield make
    for other in clients[1:]:
        await other.session.close()  # not other.close(): that stops the shared server


async def sign_in(client: Client, user: str, password: str | None = None) -> str:
    """Sign in with the form; returns the session's CSRF token."""
    resp = await client.post("/signin", data={"user": user, "password": password or
                                              PASSWORDS[user]}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    desk = await (await client.get("/api/desk")).json()
    assert desk["type"] in ("desk", "supervisor")
    page = await (await client.get(resp.headers["Location"])).text()
    marker = '<script id="desk-config" type="application/json">'
    config = page.split(marker)[1].split("</script>")[0]
    return str(json.loads(config)["csrf"])


async def act(client: Client, agent: str, action: str, csrf: str | None,
              body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    headers = {CSRF_HEADER: csrf} if csrf is not None else {}
    resp = await client.post(f"/api/agents/{agent}/{action}", json=body or {}, headers=headers)
    return resp.status, await resp.json()


async def test_sign_in_gives_a_strict_http_only_session_and_sign_out_ends_it(
    make_client: MakeClient, bed: DeskBed
) -> None:
    client = await make_client()
    resp = await client.get("/agent", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    page = await (await client.get("/signin")).text()
    assert 'name="password"' in page and 'type="password"' in page

    resp = await client.post("/signin", data={"user": "1001", "password": PASSWORDS["1001"]},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/agent"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure when the request is HTTPS
    session_id = resp.cookies[COOKIE_NAME].value
    assert len(session_id) >= 40
    keys = bed.store.keys
    assert await bed.rt.redis.exists(keys.session(session_id)) == 1
    assert 0 < await bed.rt.redis.ttl(keys.session(session_id)) <= SETTINGS.idle_seconds + 60

    page = await (await client.get("/agent")).text()
    assert "Ann &lt;b&gt;Lee&lt;/b&gt;" in page and "<b>Lee</b>" not in page
    csrf = page.split('"csrf": "')[1].split('"')[0]
    desk = await (await client.get("/api/desk")).json()
    assert desk["agent"]["id"] == "1001" and desk["agent"]["state"] == "logged_out"
    assert "Lunch" in desk["pause_reasons"]  # the ACD's pause codes

    # Sign-out needs the CSRF token too.
    resp = await client.post("/signout", data={"csrf": "wrong"}, allow_redirects=False)
    assert resp.status == 403
    resp = await client.post("/signout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    assert await bed.rt.redis.exists(keys.session(session_id)) == 0
    assert (await client.get("/api/desk")).status == 401


async def test_wrong_password_and_unknown_user_are_refused_alike(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    resp = await client.post("/signin", data={"user": "1001", "password": "nope"},
                             allow_redirects=False)
    assert resp.status == 401
    page = await resp.text()
    assert "wrong id or password" in page and COOKIE_NAME not in resp.headers.get("Set-Cookie", "")
    resp = await client.post("/signin", json={"user": "nobody", "password": "x"})
    assert resp.status == 401 and (await resp.json())["error"] == "wrong_credentials"
    # A hostile user id is shown back as text, never markup.
    resp = await client.post("/signin", data={"user": HOSTILE, "password": "x"})
    assert resp.status == 401 and HOSTILE not in await resp.text()
    # Bad input: a 4xx JSON error, never a 500.
    bodies: list[object] = [[], {"user": 5, "password": "x"}, {"user": "a\nb", "password": "x"},
                            {"user": "1001", "password": "x" * 300}]
    for body in bodies:
        resp = await client.post("/signin", json=body)
        assert resp.status == 400, body
        assert (await resp.json())["error"] == "bad_request"
    resp = await client.post("/signin", data=b"user=" + b"a" * 5000,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 413
    resp = await client.post("/signin", json={"user": "1001", "password": PASSWORDS["1001"]},
                             headers={"Origin": "http://evil.example"})
    assert resp.status == 403


async def test_sign_in_is_rate_limited_per_user_and_address(
    make_client: MakeClient, bed: DeskBed
) -> None:
    client = await make_client()
    for _ in range(SETTINGS.max_failures):
        resp = await client.post("/signin", json={"user": "1001", "password": "guess"})
        assert resp.status == 401
    # Now even the right password waits for the window to pass.
    resp = await client.post("/signin", json={"user": "1001", "password": PASSWORDS["1001"]})
    assert resp.status == 429
    assert 0 < int(resp.headers["Retry-After"]) <= SETTINGS.failure_window_seconds
    assert (await resp.json())["error"] == "too_many_attempts"
    resp = await client.post("/signin", data={"user": "1001", "password": PASSWORDS["1001"]})
    assert resp.status == 429 and "Retry-After" in resp.headers
    # Another user from the same address is not locked out.
    other = await make_client()
    await sign_in(other, "1002")
    # The window ends (Redis TTL): sign-in works again and resets the count.
    await bed.rt.redis.delete(bed.store.keys.signin_failures("1001", "127.0.0.1"))
    await sign_in(client, "1001")


async def test_an_expired_session_is_refused_and_use_slides_the_expiry(
    make_client: MakeClient, bed: DeskBed
) -> None:
    client = await make_client()
    csrf = await sign_in(client, "1001")
    bed.skew[0] += SETTINGS.idle_seconds - 60
    assert (await client.get("/api/desk")).status == 200  # used: the expiry slides
    bed.skew[0] += SETTINGS.idle_seconds - 60
    assert (await client.get("/api/desk")).status == 200
    bed.skew[0] += SETTINGS.idle_seconds + 1  # idle too long
    resp = await client.get("/api/desk")
    assert resp.status == 401 and (await resp.json())["error"] == "session_expired"
    status, _ = await act(client, "1001", "login", csrf)
    assert status == 401 and await bed.agent_state("1001") == "logged_out"
    resp = await client.get("/agent", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/signin"
    # However busy, a session ends after max_seconds.
    await sign_in(client, "1001")
    for _ in range(int(SETTINGS.max_seconds // (SETTINGS.idle_seconds / 2)) + 1):
        bed.skew[0] += SETTINGS.idle_seconds / 2
        last = (await client.get("/api/desk")).status
    assert last == 401


async def test_csrf_token_is_required_for_every_state_change(
    make_client: MakeClient, bed: DeskBed
) -> None:
    client = await make_client()
    csrf = await sign_in(client, "1001")
    for token in (None, "", "forged-token"):
        status, body = await act(client, "1001", "login", token)
        assert status == 403 and body["error"] == "csrf_failed", token
    assert await bed.agent_state("1001") == "logged_out"
    status, body = await act(client, "1001", "login", csrf)
    assert status == 200 and await bed.agent_state("1001") == "available"
    status, body = await act(client, "1001", "pause", csrf, {"reason": "Lunch"})
    assert status == 200 and await bed.agent_state("1001") == "paused"
    status, body = await act(client, "1001", "pause", csrf, {"reason": "x\u202ey"})
    assert status == 400
    status, body = await act(client, "1001", "unpause", csrf)
    assert status == 200 and await bed.agent_state("1001") == "available"
    status, body = await act(client, "1001", "unpause", csrf)
    assert status == 200
    status, body = await act(client, "1001", "logout", csrf)
    assert status == 200 and await bed.agent_state("1001") == "logged_out"
    status, body = await act(client, "1001", "pause", csrf, {"reason": "Lunch"})
    assert status == 409 and body["error"] == "invalid_transition"
    # The machine clients' Bearer token still works, without a session.
    machine = await make_client()
    resp = await machine.post("/api/agents/1001/login",
                              headers={"Authorization": "Bearer machine-token"})
    assert resp.status == 200 and await bed.agent_state("1001") == "available"


async def test_an_agent_cannot_change_a_colleague(make_client: MakeClient, bed: DeskBed) -> None:
    client = await make_client()
    csrf = await sign_in(client, "1001")
    for action in ("login", "logout", "pause", "unpause", "disposition"):
        status, body = await act(client, "1002", action, csrf,
                                 {"reason": "x", "call_id": "c", "code": "resolved"})
        assert status == 403 and body["error"] == "forbidden", action
    assert await bed.agent_state("1002") == "logged_out"
    resp = await client.get("/supervisor")
    assert resp.status == 403


async def test_a_supervisor_forces_a_logout_and_the_stream_records_who(
    make_client: MakeClient, bed: DeskBed
) -> None:
    agent = await make_client()
    agent_csrf = await sign_in(agent, "1001")
    assert (await act(agent, "1001", "login", agent_csrf))[0] == 200

    boss = await make_client()
    resp = await boss.post("/signin", data={"user": "sup", "password": PASSWORDS["sup"]},
                           allow_redirects=False)
    assert resp.headers["Location"] == "/supervisor"
    page = await (await boss.get("/supervisor")).text()
    assert "Sue Visor" in page
    csrf = page.split('"csrf": "')[1].split('"')[0]
    view = await (await boss.get("/api/desk")).json()
    assert view["type"] == "supervisor"
    assert {a["id"]: a["state"] for a in view["agents"]} == {"1001": "available",
                                                             "1002": "logged_out"}
    status, _ = await act(boss, "1001", "pause", csrf, {"reason": "Coaching"})
    assert status == 200 and await bed.agent_state("1001") == "paused"
    status, _ = await act(boss, "1001", "logout", csrf)
    assert status == 200 and await bed.agent_state("1001") == "logged_out"
    # A supervisor's disposition still needs a call of that agent's.
    status, body = await act(boss, "1001", "disposition", csrf,
                             {"call_id": "c1", "code": "resolved"})
    assert status == 404 and body["error"] == "unknown_call"

    commands = [
        e for e in await stream_entries(bed.rt.redis, bed.store.keys.events)
        if e.get("type") == "agent_command"
    ]
    assert [(c["action"], c["agent"], c["by"]) for c in commands] == [
        ("pause", "1001", "sup"), ("logout", "1001", "sup")
    ]
    # The agent's own login was not recorded as a supervisor's.
    assert all(c["by"] == "sup" for c in commands)
    # The agent's panel shows it live.
    desk = await (await agent.get("/api/desk")).json()
    assert desk["agent"]["state"] == "logged_out"


async def test_offer_call_disposition_and_the_next_contacts_history(
    make_client: MakeClient, bed: DeskBed
) -> None:
    client = await make_client()
    csrf = await sign_in(client, "1001")
    assert (await act(client, "1001", "login", csrf))[0] == 200
    fake, store = bed.fake, bed.store

    async def desk() -> dict[str, Any]:
        return dict(await (await client.get("/api/desk")).json())

    async def reachable() -> bool:
        view = await store.agent("1001")
        return view is not None and view.reachable

    await eventually(bed, reachable)
    gate = fake.hold_ring("1001")
    ws = await client.ws_connect("/desk/ws")
    first = json.loads((await ws.receive()).data)
    assert first["type"] == "desk" and first["agent"]["state"] == "available"

    call = await fake.place_call(caller_id="+48500100200", caller_name=HOSTILE)
    await fake.ringing["1001"].wait()
    # The offer arrives on the socket: the caller's number and name, the queue.
    while True:
        msg = json.loads((await ws.receive()).data)
        if msg.get("type") == "desk" and msg["agent"]["state"] == "ringing":
            break
    offer = msg["call"]
    assert offer["caller_id"] == "+48500100200" and offer["caller_name"] == HOSTILE
    assert offer["queue"] == "support" and offer["queue_name"] == "Support"
    assert offer["answered"] is None and offer["wait_seconds"] >= 0
    assert offer["callback"] is False and msg["history"] == []
    gate.set()

    async def state_is(wanted: str) -> bool:
        return await bed.agent_state("1001") == wanted

    await eventually(bed, lambda: state_is("on_call"))
    # A pause asked for during the call is pending, then applies after it.
    status, body = await act(client, "1001", "pause", csrf, {"reason": "Lunch"})
    assert status == 202 and body["pending"] == "pause"
    status, body = await act(client, "1001", "unpause", csrf)  # changed my mind
    assert status == 200
    assert (await desk())["agent"]["pending"] == ""
    await fake.agent_hangup("1001")
    await eventually(bed, lambda: state_is("wrap_up"))
    view = await desk()
    current = view["call"]
    assert current["can_disposition"] and current["dispositions"] == [
        "resolved", "follow_up", "escalated"]
    call_id = current["id"]
    # Bad input: 4xx JSON, and nothing recorded.
    for body, want in (
        ({"call_id": call_id, "code": "bogus"}, 422),
        ({"call_id": call_id, "code": "resolved", "note": "x" * 1001}, 400),
        ({"call_id": call_id}, 400),
        ({"call_id": "no-such-call", "code": "resolved"}, 404),
        ({"call_id": call_id, "code": "resolved", "note": 7}, 400),
    ):
        status, reply = await act(client, "1001", "disposition", csrf, body)
        assert status == want, (body, reply)
        assert "error" in reply
    note = "Refund sent.\nCall back if it has not arrived by Friday <script>"
    status, reply = await act(client, "1001", "disposition", csrf,
                              {"call_id": call_id, "code": "resolved", "note": note})
    assert status == 200 and reply["state"] == "wrap_up_ended"
    assert await bed.agent_state("1001") == "available"  # the wrap-up ended on save
    await call.wait_done(10)

    view = await desk()
    assert view["call"] is None and view["last_call"] is None  # nothing left to do
    today = view["today"]
    assert today["calls"] == 1 and today["handled"] == 1 and today["aht_seconds"] is not None
    assert set(today["seconds"]) == {"available", "ringing", "on_call", "wrap_up", "paused"}

    # The same caller again: the panel shows the first contact with its outcome.
    gate = fake.hold_ring("1001")
    second = await fake.place_call(caller_id="+48500100200", caller_name="Again")
    await fake.ringing["1001"].wait()
    await eventually(bed, lambda: state_is("ringing"))
    view = await desk()
    assert view["call"]["caller_name"] == "Again"
    [earlier] = view["history"]
    assert earlier["id"] == call_id and earlier["disposition"] == "resolved"
    assert earlier["note"] == note and earlier["agent"] == "1001"
    assert earlier["outcome"] == "answered" and earlier["agent_name"] == "Ann <b>Lee</b>"

    # The snapshot counts it: resolved / handled.
    snap = await (await client.get("/api/snapshot")).json()
    support = next(q for q in snap["queues"] if q["name"] == "support")
    assert support["handled"] == 1 and support["resolved"] == 1
    assert support["resolution_rate"] == 1.0
    gate.set()
    await second.hangup()
    await ws.close()


async def test_snapshot_has_csat_and_waiting_callbacks(make_client: MakeClient,
                                                       bed: DeskBed) -> None:
    client = await make_client()
    store, now = bed.store, bed.clock()
    # Nobody logged in: these wait. One is a callback keeping its place.
    for i, kind in enumerate(("", "callback", "callback", "")):
        fields = {"caller_id": f"+4850000000{i}", "caller_name": f"Caller {i}"}
        if kind:
            fields["kind"] = kind
        await store.enqueue(f"w{i}", "support", arrival=now - 10 * i, priority=0, max_length=0,
                            now=now, fields=fields)
    # Surveys on answered calls (the real Lua): 5, 4 and 2 -> 2 of 3 good.
    for i, score in enumerate((5, 4, 2)):
        await bed.rt.redis.hset(store.keys.call(f"s{i}"), mapping={
            "queue": "support", "answered": repr(now), "queue_arrival": repr(now)})
        assert await store.survey(f"s{i}", score, now)
    snap = await (await client.get("/api/snapshot")).json()
    support = next(q for q in snap["queues"] if q["name"] == "support")
    assert support["waiting"] == 4 and support["callbacks_waiting"] == 2
    assert support["csat"] == pytest.approx(2 / 3, abs=1e-4) and support["csat_answers"] == 3
    assert support["resolution_rate"] is None  # nothing handled yet: unknown, not 0 %
    assert snap["totals"]["callbacks_waiting"] == 2
    assert snap["totals"]["csat"] == pytest.approx(2 / 3, abs=1e-4)


def _s(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- languages -----------------------------------------------------------------


def _used_label_keys() -> set[str]:
    """Every desk label the templates and scripts ask for."""
    used: set[str] = set()
    for name in ("signin.html", "agent.html", "supervisor.html"):
        used |= set(re.findall(r"labels\.(\w+)", (WALLBOARD / "templates" / name).read_text()))
    for name in ("desk.js", "agent.js", "supervisor.js"):
        js = (WALLBOARD / "static" / name).read_text()
        used |= set(re.findall(r"\bL\.(\w+)", js))
        used |= set(re.findall(r"\b(?:fill\([^,]+|text)\(?,?\s*\"(\w+)\"", js))
        used |= set(re.findall(r"D\.(?:fill|text)\([^\"]*\"(\w+)\"", js))
    return used


def test_every_desk_label_exists_in_every_language() -> None:
    english = i18n.DESK_ENGLISH
    used = _used_label_keys()
    assert {"ring_text", "btn_pause", "pending_pause_reason", "callback_to"} <= used
    assert used <= set(english), used - set(english)
    # The sign-in page's messages and notices, looked up by code.
    assert {f"signin_{c}" for c in ("wrong_credentials", "bad_request",
                                     "too_many_attempts")} <= set(english)
    assert {"ended_signed_out", "ended_session_expired", "ended_password_changed"} <= set(english)
    # Every pause reason the ACD offers has a label.
    from acd.agents import PAUSE_CODES
    for reason in PAUSE_CODES.values():
        assert "reason_" + re.sub(r"[^a-z0-9]+", "_", reason.lower()) in english, reason
    assert set(i18n.DESK_CATALOGS) == {"en", "pl", "ar", "ru"}
    for code, catalogue in i18n.DESK_CATALOGS.items():
        assert set(catalogue) == set(english), (code, set(english) ^ set(catalogue))
        for key, text in catalogue.items():
            assert text.strip(), (code, key)
            wanted = set(re.findall(r"\{(\w+)\}", english[key]))
            assert set(re.findall(r"\{(\w+)\}", text)) == wanted, (code, key)
            if code != "en":
                assert text != english[key], f"{code}.{key} is still English: {text!r}"


async def test_desk_pages_speak_the_chosen_language_and_remember_it(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    page = await (await client.get("/signin")).text()  # wallboard.language: en
    assert '<html lang="en" dir="ltr">' in page and "Agent or supervisor id" in page
    resp = await client.get("/signin?lang=pl-PL")
    page = await resp.text()
    assert '<html lang="pl" dir="ltr">' in page
    assert "Identyfikator konsultanta lub kierownika" in page and "Password" not in page
    assert resp.cookies[LANG_COOKIE].value == "pl"
    # The sign-in form's answer keeps the language (the cookie, not the query).
    resp = await client.post("/signin", data={"user": "1001", "password": "nope"})
    assert resp.status == 401 and "błędny identyfikator lub hasło" in await resp.text()
    await sign_in(client, "1001")
    page = await (await client.get("/agent")).text()
    assert '<html lang="pl" dir="ltr">' in page
    for text in ("Mój stan", "Zaloguj", "Koniec przerwy", "Wcześniejsze kontakty rozmówcy",
                 "Połączenie przychodzące — odbierz na telefonie", "Wyloguj się"):
        assert text in page, text
    marker = '<script id="desk-config" type="application/json">'
    config = json.loads(page.split(marker)[1].split("</script>")[0])
    assert config["lang"] == "pl" and config["labels"] == i18n.desk_translations("pl")
    # Arabic is right to left; the agent's name stays escaped and isolated.
    page = await (await client.get("/agent?lang=ar")).text()
    assert '<html lang="ar" dir="rtl">' in page and "حالتي" in page
    assert '<bdi id="me">Ann &lt;b&gt;Lee&lt;/b&gt;</bdi>' in page
    # A language without a catalogue falls back to the configured one.
    page = await (await client.get("/agent?lang=xx")).text()
    assert '<html lang="en" dir="ltr">' in page
    boss = await make_client()
    await sign_in(boss, "sup")
    page = await (await boss.get("/supervisor?lang=ru")).text()
    assert '<html lang="ru" dir="ltr">' in page and "Очереди сегодня" in page


# --- sockets end with their session ----------------------------------------------


async def _until_closed(ws: ClientWebSocketResponse) -> tuple[int | None, str]:
    """Read past updates until the server's close frame: (code, reason)."""
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.CLOSE:
            return int(msg.data), str(msg.extra)
        assert msg.type == WSMsgType.TEXT, msg


async def _until_state(ws: ClientWebSocketResponse, state: str) -> None:
    while True:
        msg = await ws.receive()
        assert msg.type == WSMsgType.TEXT, (msg, ws.close_code)
        data = json.loads(msg.data)
        if data.get("type") == "desk" and data["agent"]["state"] == state:
            return


async def _tab(make_client: MakeClient, session_id: str) -> tuple[Client, dict[str, str]]:
    """Another tab of the same browser: the same session cookie."""
    return await make_client(), {"Cookie": f"{COOKIE_NAME}={session_id}"}


async def test_signing_out_in_one_tab_closes_the_other_tabs_socket(
    make_client: MakeClient, bed: DeskBed
) -> None:
    first = await make_client()
    csrf = await sign_in(first, "1001")
    session_id = first.session.cookie_jar.filter_cookies(first.make_url("/"))[COOKIE_NAME].value
    second, cookie = await _tab(make_client, session_id)
    tab_ws = await second.ws_connect("/desk/ws", headers=cookie)
    assert json.loads((await tab_ws.receive()).data)["type"] == "desk"
    # The same agent in another browser: a session of its own, left alone.
    other = await make_client()
    other_csrf = await sign_in(other, "1001")
    other_ws = await other.ws_connect("/desk/ws")
    assert json.loads((await other_ws.receive()).data)["type"] == "desk"

    resp = await first.post("/signout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303
    assert await _until_closed(tab_ws) == (SESSION_ENDED_CLOSE, "signed_out")
    # The other session still works, and its socket still gets updates.
    assert (await act(other, "1001", "login", other_csrf))[0] == 200
    await _until_state(other_ws, "available")
    assert (await second.get("/api/desk", headers=cookie)).status == 401
    await other_ws.close()


async def test_a_supervisor_forcing_logout_leaves_the_agent_signed_in(
    make_client: MakeClient, bed: DeskBed
) -> None:
    agent = await make_client()
    csrf = await sign_in(agent, "1001")
    assert (await act(agent, "1001", "login", csrf))[0] == 200
    ws = await agent.ws_connect("/desk/ws")
    await _until_state(ws, "available")
    boss = await make_client()
    boss_csrf = await sign_in(boss, "sup")
    assert (await act(boss, "1001", "logout", boss_csrf))[0] == 200
    # Logged out of the queues, not of the desk: the same socket goes on.
    await _until_state(ws, "logged_out")
    assert (await act(agent, "1001", "login", csrf))[0] == 200
    await _until_state(ws, "available")
    await ws.close()


async def test_an_expired_or_revoked_session_closes_its_socket(
    make_client: MakeClient, bed: DeskBed
) -> None:
    client = await make_client()
    await sign_in(client, "1001")
    ws = await client.ws_connect("/desk/ws")
    bed.skew[0] += SETTINGS.idle_seconds + 1  # the page was open, nobody used it
    assert await _until_closed(ws) == (SESSION_ENDED_CLOSE, "session_expired")
    resp = await client.get("/api/desk")
    assert resp.status == 401 and (await resp.json())["error"] == "session_expired"

    # Revoked by an administrator straight in Redis (no sign-out through us).
    await sign_in(client, "1001")
    session_id = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value
    ws = await client.ws_connect("/desk/ws")
    assert json.loads((await ws.receive()).data)["type"] == "desk"
    await bed.rt.redis.delete(bed.store.keys.session(session_id))
    assert await _until_closed(ws) == (SESSION_ENDED_CLOSE, "signed_out")
    body = await (await client.get("/api/desk")).json()
    assert body["reason"] == "signed_out"

    # Signing in again replaces the session: the old one's sockets close.
    await sign_in(client, "1001")
    ws = await client.ws_connect("/desk/ws")
    assert json.loads((await ws.receive()).data)["type"] == "desk"
    await sign_in(client, "1001")
    assert await _until_closed(ws) == (SESSION_ENDED_CLOSE, "signed_out")
    app = client.app
    assert app is not None
    hub = app[DESK_HUB_KEY]
    assert hub.closed_for_session == 3


async def test_a_changed_password_ends_the_old_sessions(
    make_client: MakeClient, bed: DeskBed,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    client = await make_client()
    await sign_in(client, "1001")
    session_id = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value
    # The configuration now has a new hash for 1001 (the wallboard restarted
    # with it, or another process already runs it), on the same Redis.
    config = bed.rt.config
    agents = tuple(
        dataclasses.replace(a, password_hash=hash_password("ann-new-secret", n=2**10))
        if a.id == "1001" else a
        for a in config.agents
    )
    restarted = await aiohttp_client(create_app(
        dataclasses.replace(config, agents=agents), bed.rt.redis,
        agent_commands=bed.rt.service.commands, clock=bed.clock, desk_settings=SETTINGS))
    cookie = {"Cookie": f"{COOKIE_NAME}={session_id}"}
    resp = await restarted.get("/api/desk", headers=cookie)
    assert resp.status == 401 and (await resp.json())["reason"] == "password_changed"
    resp = await restarted.get("/desk/ws", headers=cookie)
    assert resp.status == 401
    page = await (await restarted.get("/signin?ended=password_changed")).text()
    assert "Your password was changed" in page
    # Ben's password did not change: his session is good on both.
    ben = await make_client()
    await sign_in(ben, "1002")
    ben_id = ben.session.cookie_jar.filter_cookies(ben.make_url("/"))[COOKIE_NAME].value
    resp = await restarted.get("/api/desk", headers={"Cookie": f"{COOKIE_NAME}={ben_id}"})
    assert resp.status == 200


async def test_a_supervisor_records_the_disposition_of_an_agents_wrap_up(
    make_client: MakeClient, bed: DeskBed
) -> None:
    agent = await make_client()
    agent_csrf = await sign_in(agent, "1001")
    assert (await act(agent, "1001", "login", agent_csrf))[0] == 200

    async def reachable() -> bool:
        view = await bed.store.agent("1001")
        return view is not None and view.reachable

    async def state_is(wanted: str) -> bool:
        return await bed.agent_state("1001") == wanted

    await eventually(bed, reachable)
    call = await bed.fake.place_call(caller_id="+48500100300", caller_name="Wanda")
    await eventually(bed, lambda: state_is("on_call"))
    await bed.fake.agent_hangup("1001")
    await eventually(bed, lambda: state_is("wrap_up"))

    boss = await make_client()
    csrf = await sign_in(boss, "sup")
    view = await (await boss.get("/api/desk")).json()
    row = next(a for a in view["agents"] if a["id"] == "1001")
    wrapping = row["wrap_up_call"]
    assert wrapping["caller_name"] == "Wanda" and wrapping["disposition"] == ""
    assert wrapping["dispositions"] == ["resolved", "follow_up", "escalated"]
    assert next(a for a in view["agents"] if a["id"] == "1002")["wrap_up_call"] is None
    # Only the agent's own call, with one of its queue's codes.
    status, body = await act(boss, "1001", "disposition", csrf,
                             {"call_id": wrapping["id"], "code": "bogus"})
    assert status == 422
    status, body = await act(boss, "1002", "disposition", csrf,
                             {"call_id": wrapping["id"], "code": "resolved"})
    assert status >= 400 and await bed.agent_state("1001") == "wrap_up"
    status, body = await act(boss, "1001", "disposition", csrf,
                             {"call_id": wrapping["id"], "code": "escalated", "note": "handed on"})
    assert status == 200 and body["state"] == "wrap_up_ended", body
    assert await bed.agent_state("1001") == "available"  # the queue ends wrap-up on save
    await call.wait_done(10)

    # Recorded with who did it: the contact, the event stream, the next caller's history.
    [contact] = await bed.store.caller_history("+48500100300")
    assert (contact["disposition"], contact["disposition_by"]) == ("escalated", "sup")
    recorded = await stream_entries(bed.rt.redis, bed.store.keys.events)
    assert [(e["agent"], e["code"], e.get("by")) for e in recorded
            if e["type"] == "disposition"] == [("1001", "escalated", "sup")]
    gate = bed.fake.hold_ring("1001")
    again = await bed.fake.place_call(caller_id="+48500100300", caller_name="Wanda")
    await bed.fake.ringing["1001"].wait()
    await eventually(bed, lambda: state_is("ringing"))
    [earlier] = (await (await agent.get("/api/desk")).json())["history"]
    assert (earlier["disposition"], earlier["disposition_by_name"]) == ("escalated", "Sue Visor")
    gate.set()
    await again.hangup()


async def _next_desk(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next desk view on the socket (heartbeats skipped)."""
    while True:
        msg = await ws.receive()
        assert msg.type == WSMsgType.TEXT, (msg, ws.close_code)
        data: dict[str, Any] = json.loads(msg.data)
        if data.get("type") in ("desk", "supervisor"):
            return data


def _without_clock(view: dict[str, Any]) -> dict[str, Any]:
    """A desk view without what moves with the clock alone."""
    out = {k: v for k, v in view.items() if k != "generated_at"}
    if view["type"] == "supervisor":
        for row in (*out["queues"], out["totals"]):
            row.pop("longest_wait_seconds", None)
        out["agents"] = [{**a, "today": {k: v for k, v in a["today"].items() if k != "seconds"}}
                         for a in view["agents"]]
        return out
    out["today"] = {k: v for k, v in view["today"].items() if k != "seconds"}
    for key in ("call", "last_call"):
        if out.get(key) is not None and out[key]["answered"] is None:
            out[key] = {k: v for k, v in out[key].items() if k != "wait_seconds"}
    return out


class _DeskSocket:
    """One agent's desk socket and the latest view it was pushed."""

    def __init__(self, client: Client, ws: ClientWebSocketResponse) -> None:
        self.client, self.ws = client, ws
        self.latest: dict[str, Any] | None = None

    async def agrees(self) -> None:
        """The latest push equals the desk read now (/api/desk), once the
        pushes in flight have arrived: a desk that missed a change stays
        wrong and fails here."""
        fresh: dict[str, Any] = {}
        try:
            async with asyncio.timeout(10):
                while True:
                    fresh = _without_clock(await (await self.client.get("/api/desk")).json())
                    if self.latest is not None and _without_clock(self.latest) == fresh:
                        return
                    self.latest = await _next_desk(self.ws)
        except TimeoutError:
            pytest.fail(f"the desk was not pushed what it shows now: {self.latest} != {fresh}")


async def test_one_agents_change_is_pushed_to_that_agents_desk_only(
    make_client: MakeClient, bed: DeskBed
) -> None:
    # Each change rebuilt and pushed every open desk: 200 desks for one
    # agent's pause on a big floor. Ben's desk stays quiet through Ann's day.
    ann, ben, boss = await make_client(), await make_client(), await make_client()
    ann_csrf = await sign_in(ann, "1001")
    await sign_in(ben, "1002")
    boss_csrf = await sign_in(boss, "sup")
    ann_ws, ben_ws = await ann.ws_connect("/desk/ws"), await ben.ws_connect("/desk/ws")
    async with asyncio.timeout(30):  # a desk never pushed fails here, not at the suite's limit
        await _until_state(ann_ws, "logged_out")
        # Ben's phone is seen registered (the ACD learns it over AMI): on his desk.
        while not (await _next_desk(ben_ws))["agent"]["reachable"]:
            pass
        for action, state in (
            ("login", "available"), ("pause", "paused"), ("unpause", "available")
        ):
            assert (await act(ann, "1001", action, ann_csrf))[0] == 200
            await _until_state(ann_ws, state)
        assert (await act(boss, "1002", "login", boss_csrf))[0] == 200
        # Ben's next push is his own login: none came from Ann's three changes.
        assert (await _next_desk(ben_ws))["agent"]["state"] == "available"
    await ann_ws.close()
    await ben_ws.close()


async def test_every_desk_shows_what_a_fresh_read_shows_after_each_change(
    make_client: MakeClient, bed: DeskBed
) -> None:
    """Through a call's whole life on a two-agent floor (logins, a pause by
    the supervisor, an offer, the answer, the wrap-up, a disposition recorded
    by the supervisor), after every step each open desk's latest push is what
    a fresh read of that desk shows: the agents' desks from the messages
    naming them (no periodic rebuild), the supervisor's from a live build."""
    ann, ben, boss = await make_client(), await make_client(), await make_client()
    ann_csrf = await sign_in(ann, "1001")
    ben_csrf = await sign_in(ben, "1002")
    boss_csrf = await sign_in(boss, "sup")
    desks = [_DeskSocket(c, await c.ws_connect("/desk/ws")) for c in (ann, ben, boss)]

    async def agree() -> None:
        for desk in desks:
            await desk.agrees()

    async def state_is(agent: str, wanted: str) -> bool:
        return await bed.agent_state(agent) == wanted

    async def reachable(agent: str) -> bool:
        view = await bed.store.agent(agent)
        return view is not None and view.reachable

    await agree()
    assert (await act(ann, "1001", "login", ann_csrf))[0] == 200
    assert (await act(ben, "1002", "login", ben_csrf))[0] == 200
    await eventually(bed, lambda: reachable("1001"))
    await eventually(bed, lambda: reachable("1002"))
    await agree()
    assert (await act(boss, "1001", "pause", boss_csrf, {"reason": "Coaching"}))[0] == 200
    await agree()

    gate = bed.fake.hold_ring("1002")  # Ann is paused: Ben is offered the call
    call = await bed.fake.place_call(caller_id="+48500100300", caller_name="Zoe")
    await bed.fake.ringing["1002"].wait()
    await eventually(bed, lambda: state_is("1002", "ringing"))
    await agree()
    gate.set()
    await eventually(bed, lambda: state_is("1002", "on_call"))
    await agree()
    await bed.fake.agent_hangup("1002")
    await eventually(bed, lambda: state_is("1002", "wrap_up"))
    await agree()
    call_id = desks[1].latest["call"]["id"] if desks[1].latest else ""
    status, _ = await act(boss, "1002", "disposition", boss_csrf,
                          {"call_id": call_id, "code": "follow_up"})
    assert status == 200
    await agree()
    assert desks[1].latest is not None and desks[1].latest["agent"]["state"] == "available"
    assert (await act(boss, "1001", "unpause", boss_csrf))[0] == 200
    await agree()
    await call.wait_done(10)
    for desk in desks:
        await desk.ws.close()


async def test_desks_show_what_changed_unannounced_once_redis_is_back_from_a_kill(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    """A new subscription means changes may have been missed: after Redis is
    killed (SIGKILL) and started again, every open desk is built again, so a
    change whose message never came shows (no periodic rebuild here; no ACD
    either, whose own writes after the restart would name the agents)."""
    own = RedisServer()
    own.start()
    config = desk_config(own.url, ami_port=1)
    # The client `acd run` uses (its retry replaces the pool's dead connections).
    redis = connect_redis(config.redis)
    try:
        keys = Keys(config.redis.key_prefix)
        app = create_app(config, redis, desk_settings=SETTINGS)
        ann = await aiohttp_client(app)
        ben = cast(Client, TestClient(ann.server))
        await ben.start_server()
        try:
            await sign_in(ann, "1001")
            await sign_in(ben, "1002")
            desks = [_DeskSocket(c, await c.ws_connect("/desk/ws")) for c in (ann, ben)]
            for desk in desks:
                await desk.agrees()
            # Written with no change message (as a lost one would be).
            await redis.hset(keys.agent("1002"), "name", "Ben Renamed")
            own.kill()
            own.start()  # the same port and data (the append-only file)
            async with asyncio.timeout(30):
                while desks[1].latest is None or (
                    desks[1].latest["agent"]["name"] != "Ben Renamed"
                ):
                    desks[1].latest = await _next_desk(desks[1].ws)
            for desk in desks:
                await desk.agrees()
                await desk.ws.close()
        finally:
            await ben.session.close()
    finally:
        await close_redis(redis)
        own.cleanup()
