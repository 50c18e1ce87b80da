"""The wallboard app over real HTTP with a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from acd.core.agent_rules import Command
from acd.core.errors import AcdError
from acd.core.models import Left
from acd.core.settings import Config, QueueDisplay, Threshold
from acd.store.embedded import free_port
from acd.store.keys import Keys
from acd.store.store import Store
from tests.wallboard.conftest import make_config
from tests.wallboard.floor import Floor
from wallboard.app import STATUS_BY_CODE, AgentCommands, create_app, status_for
from wallboard.server import HttpLimits, LimitedSite

NOW = dt.datetime(2024, 6, 3, 12, 7, 30, tzinfo=dt.UTC).timestamp()
HOSTILE = "<script>alert(1)</script>"

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], aredis: aioredis.Redis
) -> MakeClient:
    async def make(
        config: Config | None = None,
        *,
        commands: AgentCommands | None = None,
        health: Callable[[], Mapping[str, str]] | None = None,
        redis: aioredis.Redis | None = None,
    ) -> Client:
        app = create_app(
            config or make_config(),
            redis or aredis,
            agent_commands=commands,
            health=health,
            clock=lambda: NOW,
        )
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def floor(aredis: aioredis.Redis) -> Floor:
    """The floor as the ACD left it at start, the evening before NOW."""
    return await Floor.open(aredis, make_config(), NOW - 13 * 3600)


async def populate(floor: Floor) -> None:
    """A morning on the support queue, hand-countable, every call through the
    ACD's scripts (Bob, a2, takes the morning's calls)."""
    at = dt.datetime(2024, 6, 3, tzinfo=dt.UTC).timestamp()
    h = 3600.0
    # Yesterday evening: must not count today.
    await floor.history("support", at - 600, offered=7, answered=7)
    # 10:00: one call answered after 300 s (outside the 120 s target).
    await floor.answered_call("support", agent="a2", arrival=at + 10 * h, wait=300, talk=100,
                              wrap=20)
    # 11:30: 4 offered; answered after 10, 50 and 200 s; one abandoned after 30 s.
    t = at + 11.5 * h
    for arrival, wait in ((t, 10), (t + 140, 50), (t + 320, 200)):
        await floor.answered_call("support", agent="a2", arrival=arrival, wait=wait, talk=100,
                                  wrap=20)
    assert await floor.abandoned("support", arrival=t + 60, wait=30) is Left.ABANDONED
    # 11:45: a short abandon (3 s): offered, but not held against anyone.
    assert await floor.abandoned("support", arrival=at + 11.75 * h, wait=3) is Left.SHORT_ABANDONED
    # Now: one caller waiting since 12:05:00, with a hostile name.
    await floor.caller("c1", "support", arrival=NOW - 150, name=HOSTILE, number="+48111")
    # Bob answered c2 at 12:05:50 after 300 s (late: offered and answered at 12:00).
    await floor.agent("a2", "on_call", at=NOW - 100, queue="support", call_id="c2",
                      caller_name="Mr <b>Bold</b>", wait=300)
    await floor.agent("a1", "available", at=NOW - 20)
    await floor.agent("a3", "paused", at=NOW - 60, reason=HOSTILE)


def page_config(html: str) -> dict[str, Any]:
    """The settings the page's script reads (a JSON data block, not code)."""
    match = re.search(r'<script id="wb-config" type="application/json">(.*?)</script>', html)
    assert match is not None
    config: dict[str, Any] = json.loads(match.group(1))
    return config


async def get_snapshot(client: Client, query: str = "") -> dict[str, Any]:
    resp = await client.get("/api/snapshot" + query)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    data: dict[str, Any] = json.loads(await resp.text())
    return data


async def test_snapshot_numbers(make_client: MakeClient, floor: Floor) -> None:
    await populate(floor)
    data = await get_snapshot(await make_client())
    assert data["generated_at"] == NOW
    assert [q["name"] for q in data["queues"]] == ["support", "sales", "billing"]
    support = data["queues"][0]
    # offered: 1 (10:00) + 4 (11:30) + 1 (11:45) + 2 enqueued now
    assert support["offered"] == 8
    assert support["answered"] == 5  # 10:00, three at 11:30, c2
    assert support["abandoned"] == 1  # the 3 s abandon is short
    assert support["short_abandoned"] == 1
    assert support["abandon_rate"] == pytest.approx(1 / 8)
    # within target: 10 s and 50 s; against: 5 answered + 1 abandoned
    assert support["service_level"] == pytest.approx(2 / 6, abs=1e-4)  # 4 places
    # last 60 min (11:07:30-12:07:30): the 10:00 call is out
    assert support["service_level_hour"] == pytest.approx(2 / 5)
    assert support["service_level_target_seconds"] == 120
    assert support["asa_seconds"] == pytest.approx(round((300 + 10 + 50 + 200 + 300) / 5, 1))
    # handled: the 10:00 and 11:30 calls, 100 s talk + 20 s wrap-up each (c2 is still on)
    assert support["aht_seconds"] == 120.0
    # waits 10, 50, 200, 300, 300: rank 2.5 lies halfway into the 200 s call's
    # bucket, (190, 200], alone there -> 195
    assert support["median_wait_seconds"] == 195.0
    assert support["waiting"] == 1
    assert support["longest_wait_seconds"] == 150.0
    assert support["longest_waiting_caller"] == HOSTILE
    assert support["agents"] == {
        "logged_in": 2,
        "available": 1,
        "ringing": 0,
        "on_call": 1,
        "wrap_up": 0,
        "paused": 0,
        "unreachable": 0,
        "phone_busy": 0,
        "pending": 0,
    }
    assert support["levels"]["service_level"] == "red"  # 33 % <= 60 %
    assert support["levels"]["longest_wait_seconds"] == "red"  # 150 s >= 120 s
    series = support["series"]
    assert series["start"] == NOW - 7.5 * 60 - 12 * 3600
    assert len(series["service_level"]) == 49  # 00:00 ... 12:00
    assert series["service_level"][40] == 0.0  # 10:00, one call answered late
    assert series["service_level"][46] == 0.5  # 11:30: 2 within / (3 answered + 1 abandoned)
    assert series["service_level"][48] == 0.0  # 12:00: c2, answered late
    assert series["service_level"][0] is None
    sales = data["queues"][1]
    assert sales["service_level_target_seconds"] == 60
    assert sales["agents"]["logged_in"] == 2 and sales["agents"]["paused"] == 1

    agents = {a["id"]: a for a in data["agents"]}
    assert agents["a2"]["state"] == "on_call"
    assert agents["a2"]["caller"] == "Mr <b>Bold</b>"
    assert agents["a2"]["queues"] == ["sales", "support"]
    assert agents["a3"]["pause_reason"] == HOSTILE
    assert agents["a4"]["state"] == "logged_out" and agents["a4"]["name"] == "Dana"
    assert agents["a1"]["state_since"] == NOW - 20


async def test_new_acd_facts_pending_phone_busy_lost_vip_and_totals(
    make_client: MakeClient, floor: Floor
) -> None:
    await populate(floor)
    # Callers the ACD could not keep (the dialplan's fallback took them).
    for queue in ("support", "support", "sales"):
        await floor.lost(queue, arrival=NOW - 300, at=NOW - 290)
    await floor.caller("v1", "support", arrival=NOW - 10, priority=5)
    await floor.store.set_phone_busy("a1", True, NOW - 15)  # a call the ACD did not make
    result = await floor.store.agent_command("a2", Command.PAUSE, NOW - 50, "Lunch")
    assert result.status == "pending"  # on a call: the pause waits for its end
    await floor.agent("a4", "ringing", at=NOW - 3)
    data = await get_snapshot(await make_client())
    agents = {a["id"]: a for a in data["agents"]}
    assert agents["a1"]["phone_busy"] is True and agents["a2"]["phone_busy"] is False
    assert agents["a2"]["pending"] == "pause" and agents["a2"]["pending_reason"] == "Lunch"
    assert agents["a4"]["state"] == "ringing" and agents["a4"]["pending"] == ""
    support, sales, billing = data["queues"]
    assert support["lost"] == 2 and sales["lost"] == 1 and billing["lost"] == 0
    assert support["vip_waiting"] == 1 and support["waiting"] == 2
    assert support["agents"]["phone_busy"] == 1 and support["agents"]["pending"] == 1
    # EWT for a caller arriving now: 3rd in line, one agent serving (a1's phone
    # is busy, a2 on call), AHT 120 s.
    assert support["expected_wait_seconds"] == pytest.approx(3 * 120.0)
    assert billing["expected_wait_seconds"] == pytest.approx(180.0)  # a4 ringing, no AHT yet
    assert billing["offered"] == 1  # the call ringing a4
    totals = data["totals"]
    assert totals["lost"] == 3 and totals["waiting"] == 2 and totals["vip_waiting"] == 1
    assert totals["offered"] == support["offered"] + sales["offered"] + billing["offered"]
    assert totals["agents"]["logged_in"] == 4  # each agent once, whatever its queues
    assert support["display_name"] == "Support"


async def test_per_queue_thresholds_and_colour_on_the_displayed_value(
    make_client: MakeClient, floor: Floor
) -> None:
    config = make_config(
        thresholds={"service_level": Threshold(amber=95, red=92, higher_is_better=True),
                    "longest_wait": Threshold(amber=100, red=200, higher_is_better=False)},
        queue_display={
            "sales": QueueDisplay(
                display_name="Sales & renewals",
                thresholds={"longest_wait": Threshold(amber=30, red=60, higher_is_better=False)},
            )
        },
    )
    start = NOW - 600
    # 923 of 1000 within target: 92.3 % shows "92%", so it is red (red at 92).
    await floor.history("support", start, offered=1000, answered=1000,
                        answered_within_target=923)
    await floor.caller("s1", "sales", arrival=NOW - 45)
    await floor.caller("s2", "support", arrival=NOW - 45)
    data = await get_snapshot(await make_client(config))
    support, sales, _ = data["queues"]
    assert support["levels"]["service_level"] == "red"
    assert support["levels"]["longest_wait_seconds"] == "green"  # 45 s < 100 s
    assert sales["levels"]["longest_wait_seconds"] == "amber"  # sales: amber at 30 s
    assert sales["thresholds"]["longest_wait_seconds"]["red"] == 60
    assert sales["display_name"] == "Sales & renewals"
    assert set(data["live_metrics"]) == {
        "waiting", "longest_wait_seconds", "expected_wait_seconds"
    }


async def test_no_calls_yet_gives_nulls_not_nan(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.get("/api/snapshot")
    text = await resp.text()
    assert "NaN" not in text and "Infinity" not in text
    billing = json.loads(text)["queues"][2]
    for key in (
        "service_level",
        "service_level_hour",
        "abandon_rate",
        "asa_seconds",
        "aht_seconds",
        "median_wait_seconds",
        "longest_wait_seconds",
    ):
        assert billing[key] is None, key
    assert billing["offered"] == 0 and billing["waiting"] == 0


async def test_boards_by_url_and_by_name(make_client: MakeClient) -> None:
    client = await make_client()
    picked = await get_snapshot(client, "?queues=billing,support")
    assert [q["name"] for q in picked["queues"]] == ["billing", "support"]
    assert {a["id"] for a in picked["agents"]} == {"a1", "a2", "a4"}
    named = await get_snapshot(client, "?board=front")
    assert [q["name"] for q in named["queues"]] == ["support", "sales"]
    assert named["board"]["title"] == "Front office"
    for query in ("?queues=nope", "?board=nope", "?queues=support,nope"):
        resp = await client.get("/api/snapshot" + query)
        assert resp.status == 404
        assert "nope" in (await resp.json())["message"]
    assert (await client.get("/?board=nope")).status == 404


async def test_configured_thresholds_colour_the_metrics(
    make_client: MakeClient, floor: Floor
) -> None:
    await populate(floor)
    config = make_config(
        thresholds={
            "service_level": Threshold(amber=50, red=30, higher_is_better=True),
            "longest_wait": Threshold(amber=100, red=200, higher_is_better=False),
        }
    )
    support = (await get_snapshot(await make_client(config)))["queues"][0]
    assert support["levels"]["service_level"] == "amber"  # 33 %: above red 30, below 50
    assert support["levels"]["longest_wait_seconds"] == "amber"  # 150 s
    assert "asa_seconds" not in support["levels"]  # not configured: no colour


async def test_page_is_escaped_and_served_without_a_cdn(
    make_client: MakeClient, floor: Floor
) -> None:
    await populate(floor)
    client = await make_client(make_config(language="pl"))
    resp = await client.get("/?board=front")
    html = await resp.text()
    assert resp.status == 200
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert '<html lang="pl" dir="ltr">' in html
    assert page_config(html)["labels"]["sl_today"] == "Poziom obsługi dziś"
    assert "Brak zalogowanych konsultantów" in html
    assert "http://" not in html and "https://" not in html  # nothing from the internet
    for asset in ("/static/wallboard.js", "/static/wallboard.css", "/static/favicon.svg"):
        assert (await client.get(asset)).status == 200
    # Data never reaches the page's HTML: it arrives as JSON and goes in with textContent.
    assert HOSTILE not in html
    js = await (await client.get("/static/wallboard.js")).text()
    assert "innerHTML" not in js.replace("never innerHTML", "")


async def test_page_language_from_url_with_rtl_and_fallback(make_client: MakeClient) -> None:
    client = await make_client()
    arabic = await (await client.get("/?lang=ar")).text()
    assert '<html lang="ar" dir="rtl">' in arabic
    labels = page_config(arabic)["labels"]
    assert labels["sl_today"] == "مستوى الخدمة اليوم"
    assert labels["variant_default"].startswith("مستوى الخدمة")  # the formula is translated too
    unknown = await (await client.get("/?lang=xx")).text()
    assert '<html lang="en" dir="ltr">' in unknown


def test_every_catalogue_is_complete() -> None:
    from wallboard import i18n

    for code, catalogue in i18n.CATALOGS.items():
        assert set(catalogue) == set(i18n.ENGLISH), code
        for key, text in catalogue.items():
            placeholders = set(re.findall(r"\{(\w+)\}", text))
            assert placeholders == set(re.findall(r"\{(\w+)\}", i18n.ENGLISH[key])), (code, key)


async def test_view_token_when_configured(make_client: MakeClient) -> None:
    client = await make_client(make_config(api_token="s3cret", require_token_for_view=True))
    for path in ("/", "/api/snapshot", "/ws", "/api/snapshot?token=wrong"):
        resp = await client.get(path)
        assert resp.status == 401, path
    assert (await client.get("/api/snapshot?token=s3cret")).status == 200
    resp = await client.get("/api/snapshot", headers={"Authorization": "Bearer s3cret"})
    assert resp.status == 200
    page = await (await client.get("/?token=s3cret")).text()
    assert page_config(page)["query"] == {"token": "s3cret"}  # for the websocket URL


async def test_view_token_shows_the_board_but_cannot_change_state(
    make_client: MakeClient,
) -> None:
    client = await make_client(
        make_config(api_token="admin-token", view_token="tv-token", require_token_for_view=True)
    )
    assert (await client.get("/api/snapshot?token=tv-token")).status == 200
    assert (await client.get("/api/snapshot?token=admin-token")).status == 200
    assert (await client.get("/api/snapshot?token=nope")).status == 401
    resp = await client.post("/api/agents/a1/pause", json={"reason": "x"},
                             headers={"Authorization": "Bearer tv-token"})
    assert resp.status == 401


# --- agent API ---------------------------------------------------------------------


async def agent_state(redis: aioredis.Redis, agent_id: str) -> tuple[str | None, str | None]:
    state, reason = await redis.hmget(Keys("acd:").agent(agent_id), ["state", "pause_reason"])
    return (None if state is None else str(state)), (None if reason is None else str(reason))


@pytest.fixture
def commands(floor: Floor) -> AgentCommands:
    """The ACD's agent commands (acd.agents) on the floor's store and scripts."""
    return floor.commands(clock=lambda: NOW)


async def test_agent_api_changes_state_with_the_token(
    make_client: MakeClient, aredis: aioredis.Redis, commands: AgentCommands
) -> None:
    client = await make_client(make_config(api_token="s3cret"), commands=commands)
    auth = {"Authorization": "Bearer s3cret"}
    resp = await client.post("/api/agents/a1/login", headers=auth)
    assert resp.status == 200 and (await resp.json())["ok"] is True
    assert await agent_state(aredis, "a1") == ("available", "")
    resp = await client.post("/api/agents/a1/pause", headers=auth, json={"reason": HOSTILE})
    assert resp.status == 200
    assert await agent_state(aredis, "a1") == ("paused", HOSTILE)
    assert (await client.post("/api/agents/a1/unpause", headers=auth)).status == 200
    assert await agent_state(aredis, "a1") == ("available", "")
    # Unpausing an agent who is not paused is no error: it stays available.
    assert (await client.post("/api/agents/a1/unpause", headers=auth)).status == 200
    assert (await client.post("/api/agents/a1/logout", headers=auth)).status == 200
    assert (await agent_state(aredis, "a1"))[0] == "logged_out"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0"}, {"X": "s3cret"}],
)
async def test_agent_api_without_the_right_token_is_401_and_changes_nothing(
    make_client: MakeClient,
    aredis: aioredis.Redis,
    floor: Floor,
    commands: AgentCommands,
    headers: dict[str, str],
) -> None:
    await floor.agent("a1", "available", at=NOW - 5)
    client = await make_client(make_config(api_token="s3cret"), commands=commands)
    for action in ("login", "logout", "pause", "unpause"):
        resp = await client.post(f"/api/agents/a1/{action}", headers=headers, json={"reason": "x"})
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await client.post("/api/agents/a1/pause?token=s3cret", json={"reason": "x"})
    assert resp.status == 401  # a token in a URL ends up in logs: header only
    assert await agent_state(aredis, "a1") == ("available", "")


async def test_agent_api_is_disabled_without_a_configured_token(
    make_client: MakeClient, aredis: aioredis.Redis, commands: AgentCommands
) -> None:
    client = await make_client(make_config(api_token=""), commands=commands)
    resp = await client.post("/api/agents/a1/login", headers={"Authorization": "Bearer "})
    assert resp.status == 403
    assert "api_token" in (await resp.json())["message"]
    assert await agent_state(aredis, "a1") == ("logged_out", "")


async def test_agent_api_errors_map_to_statuses(
    make_client: MakeClient, commands: AgentCommands
) -> None:
    client = await make_client(make_config(api_token="s3cret"), commands=commands)
    auth = {"Authorization": "Bearer s3cret"}
    resp = await client.post("/api/agents/nobody/login", headers=auth)
    assert resp.status == 404 and (await resp.json())["error"] == "unknown_agent"
    resp = await client.post("/api/agents/a1/unpause", headers=auth)  # logged out
    assert resp.status == 409 and (await resp.json())["error"] == "invalid_transition"
    resp = await client.post("/api/agents/a1/pause", headers=auth, json={"reason": "x"})
    assert resp.status == 409 and (await resp.json())["error"] == "invalid_transition"
    resp = await client.post("/api/agents/a1/pause", headers=auth, json={"reason": "x" * 101})
    assert resp.status == 400
    resp = await client.post("/api/agents/a1/pause", headers=auth, data=b"{not json")
    assert resp.status == 400
    assert (await client.post("/api/agents/a1/dance", headers=auth)).status == 404


async def test_pausing_an_agent_on_a_call_is_pending_202(
    make_client: MakeClient, floor: Floor, commands: AgentCommands
) -> None:
    client = await make_client(make_config(api_token="s3cret"), commands=commands)
    auth = {"Authorization": "Bearer s3cret"}
    await floor.agent("a2", "on_call", at=NOW - 30, queue="support")
    resp = await client.post("/api/agents/a2/pause", headers=auth, json={"reason": "Lunch"})
    assert resp.status == 202
    assert await resp.json() == {"ok": True, "agent": "a2", "action": "pause", "pending": "pause"}
    agent = next(a for a in (await get_snapshot(client))["agents"] if a["id"] == "a2")
    assert agent["state"] == "on_call" and agent["pending"] == "pause"
    assert agent["pending_reason"] == "Lunch"
    await floor.agent("a3", "ringing", at=NOW - 3)
    resp = await client.post("/api/agents/a3/logout", headers=auth)
    assert resp.status == 202 and (await resp.json())["pending"] == "logout"
    # Wrap-up is still the call's: a logout waits for it too.
    await floor.agent("a4", "wrap_up", at=NOW - 10, wrap=60)
    resp = await client.post("/api/agents/a4/logout", headers=auth)
    assert resp.status == 202 and (await resp.json())["pending"] == "logout"
    agent = next(a for a in (await get_snapshot(client))["agents"] if a["id"] == "a4")
    assert agent["state"] == "wrap_up" and agent["pending"] == "logout"
    await floor.agent("a1", "available", at=NOW - 3)
    resp = await client.post("/api/agents/a1/pause", headers=auth, json={"reason": "x"})
    assert resp.status == 200 and "pending" not in await resp.json()  # done at once


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Authorization": "Bearer s3cret", "Content-Type": "application/json"},
         b"[" * 2000 + b"]" * 2000),  # deeply nested, under the size cap
        ({"Authorization": "Bearer s3cret"}, rb'{"reason": "lunch\nINFO agent a1 logout"}'),
        ({"Authorization": "Bearer s3cret"}, rb'{"reason": "a\u202eb"}'),  # bidi override
        ({"Authorization": "Bearer s3cret"}, b"\xff\xfe not utf-8"),
        ({"Authorization": "Bearer s3cret"}, b'{"reason": ' + b'"x"' * 3000 + b"}"),
    ],
)
async def test_bad_input_is_4xx_json_never_500(
    make_client: MakeClient, aredis: aioredis.Redis, floor: Floor, commands: AgentCommands,
    headers: dict[str, str], body: bytes,
) -> None:
    await floor.agent("a1", "available", at=NOW - 5)
    client = await make_client(make_config(api_token="s3cret"), commands=commands)
    resp = await client.post("/api/agents/a1/pause", headers=headers, data=body)
    assert 400 <= resp.status < 500
    assert (await resp.json())["error"] in ("bad_request", "too_large")
    assert (await agent_state(aredis, "a1"))[0] == "available"


async def test_non_utf8_authorization_is_401(
    make_client: MakeClient, commands: AgentCommands
) -> None:
    client = await make_client(make_config(api_token="s3cret"), commands=commands)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(b"POST /api/agents/a1/login HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer \xff\xfe\xc3\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    status = await reader.readline()
    writer.close()
    assert status.split()[1] == b"401"


async def test_agent_command_with_redis_down_is_503(make_client: MakeClient) -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5)
    try:
        config = make_config(api_token="s3cret")
        commands = Floor(Store(dead, config.redis), config).commands(clock=lambda: NOW)
        client = await make_client(config, commands=commands, redis=dead)
        resp = await client.post("/api/agents/a1/login", headers={"Authorization": "Bearer s3cret"})
        assert resp.status == 503 and (await resp.json())["error"] == "store_unavailable"
    finally:
        await dead.aclose()


async def test_ws_refuses_a_foreign_origin(make_client: MakeClient) -> None:
    client = await make_client(make_config(allowed_origins=("https://intranet.example",)))
    resp = await client.get("/ws", headers={"Origin": "http://evil.example"})
    assert resp.status == 403 and (await resp.json())["error"] == "origin_not_allowed"
    own = f"http://{client.host}:{client.port}"
    for origin in (own, "https://intranet.example"):
        async with client.ws_connect("/ws", headers={"Origin": origin}) as ws:
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
    async with client.ws_connect("/ws") as ws:  # no Origin: a terminal client
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"


def test_error_codes_map_in_one_table() -> None:
    assert status_for(AcdError("generic")) == 400
    assert STATUS_BY_CODE["invalid_transition"] == 409


# --- health -------------------------------------------------------------------------


async def test_healthz(make_client: MakeClient) -> None:
    status = {"ami": "up", "fastagi": "up"}
    client = await make_client(health=lambda: dict(status))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "ami": "up", "fastagi": "up", "redis": "up"}
    status["ami"] = "down"
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert (await resp.json())["ami"] == "down"


async def test_healthz_and_snapshot_when_redis_is_unreachable(make_client: MakeClient) -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5)
    try:
        client = await make_client(redis=dead)
        resp = await client.get("/healthz")
        assert resp.status == 503 and (await resp.json())["redis"] == "down"
        resp = await client.get("/api/snapshot")
        assert resp.status == 503 and (await resp.json())["error"] == "store_unavailable"
    finally:
        await dead.aclose()


# --- HTTP server limits (wallboard/server.py) ----------------------------------


@pytest.fixture
async def limited_site(
    aredis: aioredis.Redis,
) -> AsyncIterator[Callable[..., Awaitable[LimitedSite]]]:
    runners: list[web.AppRunner] = []

    async def start(*, header_timeout: float = 0.5, idle_timeout: float = 1.0,
                    max_connections: int = 100) -> LimitedSite:
        config = make_config(idle_timeout=idle_timeout)
        runner = web.AppRunner(create_app(config, aredis))
        await runner.setup()
        runners.append(runner)
        limits = HttpLimits(header_timeout=header_timeout, max_connections=max_connections)
        site = LimitedSite(runner, "127.0.0.1", 0, limits=limits)
        await site.start()
        return site

    yield start
    for runner in runners:
        await runner.cleanup()


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes (bounded: a server that
    never closes fails the test)."""
    async with asyncio.timeout(10):
        return await reader.read()


@contextlib.asynccontextmanager
async def _slowloris(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> AsyncIterator[None]:
    """A slowloris on this connection while the block runs: a header line
    every 0.1 s, never the blank line that ends the headers, until the server
    closes the connection."""

    async def drip() -> None:
        while not reader.at_eof():
            writer.write(b"X-Slow: 1\r\n")
            await asyncio.sleep(0.1)

    dripper = asyncio.create_task(drip())
    try:
        yield
    finally:
        dripper.cancel()


def _status_and_json(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_silent_or_half_sent_request_is_closed_after_the_header_timeout(
    limited_site: Callable[..., Awaitable[LimitedSite]],
) -> None:
    site = await limited_site(header_timeout=0.5, idle_timeout=60)
    silent = await asyncio.open_connection("127.0.0.1", site.port)
    trickle = await asyncio.open_connection("127.0.0.1", site.port)
    trickle[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    # aiohttp alone would wait for the trickle as long as the idle timeout (60 s here).
    try:
        async with _slowloris(*trickle):
            for reader, _ in (silent, trickle):
                status, body = _status_and_json(await _until_closed(reader))
                assert status == 408 and body["error"] == "header_timeout"
    finally:
        for _, writer in (silent, trickle):
            writer.close()
    assert site.stats.header_timeouts == 2
    # A request sent in time is served, through the same guard.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{site.port}/static/wallboard.css") as resp:
            assert resp.status == 200 and "--offline" in await resp.text()


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    limited_site: Callable[..., Awaitable[LimitedSite]],
) -> None:
    site = await limited_site(header_timeout=30, idle_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    writer.write(b"GET /api/snapshot HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        raw = await _until_closed(reader)  # the answer, then the close once idle
    finally:
        writer.close()
    assert raw.startswith(b"HTTP/1.1 200")
    assert site.stats.header_timeouts == 0 and site.stats.open == 0


async def test_a_slowloris_on_a_kept_alive_connection_is_closed_by_the_idle_timeout(
    limited_site: Callable[..., Awaitable[LimitedSite]],
) -> None:
    # The header timer covers a connection's first request; a second one
    # trickled in on the same connection is ended by the idle timeout.
    site = await limited_site(header_timeout=60, idle_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    assert head.startswith(b"HTTP/1.1 200")
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        async with _slowloris(reader, writer):
            # closed (_until_closed fails the test if it never is), the half request unanswered
            assert not (await _until_closed(reader)).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    assert site.stats.header_timeouts == 0


async def test_connections_beyond_the_cap_are_refused_with_503_and_websockets_pass(
    limited_site: Callable[..., Awaitable[LimitedSite]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = await limited_site(header_timeout=30, idle_timeout=30, max_connections=5)
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{site.port}"
        async with http.ws_connect(url + "/ws") as ws:  # a viewer holds one connection
            first = json.loads((await ws.receive(timeout=5)).data)
            assert first["type"] == "snapshot"
            idle = []
            for _ in range(4):  # four more, each answered once and then kept alive
                r, w = await asyncio.open_connection("127.0.0.1", site.port)
                w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                async with asyncio.timeout(5):
                    await r.readuntil(b"\r\n\r\n")
                idle.append((r, w))
            assert site.stats.open == 5
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
            status, body = _status_and_json(await _until_closed(reader))
            writer.close()
            assert status == 503 and body["error"] == "too_many_connections"
            assert site.stats.refused == 1
            assert "refusing new ones with 503" in caplog.text
            for _, w in idle:
                w.close()
                await w.wait_closed()
            for _ in range(100):  # room again once the server has seen them go
                async with http.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        break
                    assert resp.status == 503
                await asyncio.sleep(0.05)
            else:
                pytest.fail("no room after the idle connections closed")
            assert not ws.closed


async def test_occupancy_counts_the_idle_time_running_now(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], aredis: aioredis.Redis
) -> None:
    """Occupancy = handle / (handle + available idle time), the idle stretch
    still running included: Alice logs in, waits 10 minutes, takes a call,
    and is idle again when the board is read."""
    t = NOW - 3600  # 11:07:30, today
    now = [t]
    client = await aiohttp_client(create_app(make_config(), aredis, clock=lambda: now[0]))
    floor = await Floor.open(aredis, make_config(), t - 60)
    await floor.agent("a1", "available", at=t)

    async def support() -> dict[str, Any]:
        snap = await (await client.get("/api/snapshot")).json()
        return next(q for q in snap["queues"] if q["name"] == "support")

    now[0] = t + 600
    assert (await support())["occupancy"] == 0.0  # 600 s idle, no handle time yet
    # A caller at t + 600; Alice rings at t + 607 and answers at t + 610, talks
    # 290 s; available again at t + 900.
    await floor.answered_call("support", agent="a1", arrival=t + 600, wait=10, talk=290)
    now[0] = t + 1000
    # idle 607 s (counted when she rang) + 100 s running now; handle 290 s
    assert (await support())["occupancy"] == round(290 / (290 + 607 + 100), 4)
    # Bob's queue, sales: nobody available and no handle time: unknown.
    snap = await (await client.get("/api/snapshot")).json()
    sales = next(q for q in snap["queues"] if q["name"] == "sales")
    assert sales["occupancy"] is None


async def test_ongoing_idle_time_counts_from_local_midnight(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], aredis: aioredis.Redis
) -> None:
    midnight = dt.datetime(2024, 6, 3, tzinfo=dt.UTC).timestamp()
    now = midnight + 600
    client = await aiohttp_client(create_app(make_config(), aredis, clock=lambda: now))
    floor = await Floor.open(aredis, make_config(), midnight - 7200)
    await floor.agent("a4", "available", at=midnight - 3600)  # Dana, since 23:00 yesterday
    await floor.history("billing", midnight + 60, handle_seconds=600)
    snap = await (await client.get("/api/snapshot")).json()
    billing = next(q for q in snap["queues"] if q["name"] == "billing")
    assert billing["occupancy"] == 0.5  # 600 s handled, 600 s idle today
