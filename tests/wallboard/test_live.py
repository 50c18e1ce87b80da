"""Live updates over /ws and the terminal view, against a real Redis."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from acd.core import metrics
from acd.store.client import close as close_redis
from acd.store.client import connect as connect_redis
from acd.store.embedded import free_port
from tests.wallboard.conftest import QUEUES, RedisServer, make_config
from tests.wallboard.floor import Floor, stamp
from wallboard import delta
from wallboard.app import create_app
from wallboard.live import LiveHub
from wallboard.snapshot import (
    REFRESH_SECONDS,
    Board,
    SnapshotBuilder,
)
from wallboard.snapshot import _total as snapshot_total
from wallboard.tail import format_duration, format_percent, render, run_tail, websocket_url

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], aredis: aioredis.Redis
) -> Client:
    return await aiohttp_client(create_app(make_config(), aredis))


class Screen:
    """What a page holds: the full snapshot, then each delta applied to it
    (a delta that does not fit raises, failing the test)."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {}
        self.fulls = 0
        self.deltas = 0
        self.last: dict[str, Any] = {}  # the last data message as received
        self.last_raw = ""

    async def next(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        """The board after the next snapshot or delta (heartbeats skipped)."""
        while True:
            message = await ws.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.TEXT, message
            data: dict[str, Any] = json.loads(message.data)
            if data["type"] == "snapshot":
                self.snapshot, self.fulls = data, self.fulls + 1
            elif data["type"] == "delta":
                self.snapshot, self.deltas = delta.apply(self.snapshot, data), self.deltas + 1
            else:
                continue
            self.last, self.last_raw = data, str(message.data)
            return self.snapshot


_SCREENS: dict[int, Screen] = {}


async def next_snapshot(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The board after the next update on this socket (deltas applied)."""
    return await _SCREENS.setdefault(id(ws), Screen()).next(ws)


def agent(snapshot: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in snapshot["agents"] if a["id"] == agent_id)


async def test_ws_sends_the_snapshot_then_an_update_after_a_change(
    client: Client, floor: Floor
) -> None:
    await floor.agent("a1", "available", at=time.time())
    async with client.ws_connect("/ws?queues=support") as ws:
        first = await next_snapshot(ws)
        assert [q["name"] for q in first["queues"]] == ["support"]
        assert agent(first, "a1")["state"] == "available"
        assert first["queues"][0]["waiting"] == 0

        at = stamp()
        await floor.caller("c1", "support", arrival=at, name="<script>x</script>")
        await floor.agent("a1", "paused", at=at, reason="lunch")
        update = await next_snapshot(ws)
        while update["last_change_at"] != at:  # the burst may arrive in two updates
            update = await next_snapshot(ws)
        assert update["queues"][0]["waiting"] == 1
        assert update["queues"][0]["longest_waiting_caller"] == "<script>x</script>"
        assert agent(update, "a1")["state"] == "paused"
        assert agent(update, "a1")["pause_reason"] == "lunch"


async def test_every_socket_on_a_board_gets_the_same_bytes(
    client: Client, floor: Floor
) -> None:
    async with client.ws_connect("/ws") as one, client.ws_connect("/ws") as two:
        await next_snapshot(one)
        await next_snapshot(two)
        at = stamp()
        await floor.agent("a2", "on_call", at=at, queue="support")

        async def raw_update(ws: aiohttp.ClientWebSocketResponse) -> str:
            while True:
                message = await ws.receive(timeout=5)
                data = json.loads(message.data)
                if data["type"] in ("snapshot", "delta") and data["last_change_at"] == at:
                    return str(message.data)

        first, second = await asyncio.gather(raw_update(one), raw_update(two))
        assert first == second  # built and serialised once for both


async def test_a_change_reaches_the_board_as_a_small_numbered_delta(
    client: Client, floor: Floor
) -> None:
    now = time.time()
    for agent_id in ("a1", "a2", "a3", "a4"):
        await floor.agent(agent_id, "available", at=now)
    screen = Screen()
    async with client.ws_connect("/ws") as ws:
        first = await screen.next(ws)
        assert first["type"] == "snapshot" and first["version"] >= 1
        full_size = len(screen.last_raw)

        at = stamp()
        await floor.agent("a3", "paused", at=at, reason="lunch")
        sent_agents: list[str] = []
        while True:  # an update already on its way may carry the write
            board = await screen.next(ws)
            sent = screen.last
            assert sent["type"] == "delta" and sent["base"] == sent["version"] - 1
            assert len(screen.last_raw) < full_size / 2
            sent_agents += [a["id"] for a in sent["agents"]]
            if board["last_change_at"] == at:
                break
        assert sent_agents == ["a3"]  # only the agent that changed
        assert agent(board, "a3")["state"] == "paused"
        assert agent(board, "a3")["pause_reason"] == "lunch"
        sales = next(q for q in board["queues"] if q["name"] == "sales")
        assert sales["agents"]["paused"] == 1 and sales["agents"]["available"] == 1  # Bob

        # What the deltas built is what a new viewer is shown in full.
        fresh = await Screen().next(await client.ws_connect("/ws"))
        for moving in ("generated_at", "last_change_at", "version"):
            fresh.pop(moving), board.pop(moving)
        assert fresh["agents"] == board["agents"]
        assert [(q["name"], q["waiting"], q["agents"]) for q in fresh["queues"]] == [
            (q["name"], q["waiting"], q["agents"]) for q in board["queues"]
        ]


async def test_a_viewer_that_asks_gets_the_full_board_again(
    client: Client, floor: Floor
) -> None:
    screen = Screen()
    async with client.ws_connect("/ws?queues=support") as ws:
        await screen.next(ws)
        at = stamp()
        await floor.agent("a1", "wrap_up", at=at, queue="support", wrap=1)
        board = await screen.next(ws)
        while board["last_change_at"] != at:
            board = await screen.next(ws)
        await ws.send_str(json.dumps({"type": "resync"}))
        again = await screen.next(ws)
        assert screen.last["type"] == "snapshot" and screen.fulls == 2
        assert again["version"] >= board["version"]
        assert agent(again, "a1")["state"] == "wrap_up"
        # Anything else a viewer sends is still ignored.
        await ws.send_str('{"type": "resync", "x": "' + "y" * 500 + '"}')
        await ws.send_str("resync")
        await floor.agent("a1", "available", at=time.time())  # the wrap-up ran out
        await screen.next(ws)
        assert screen.fulls == 2


async def test_without_deltas_every_update_is_the_full_board(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    aredis: aioredis.Redis,
    floor: Floor,
) -> None:
    client = await aiohttp_client(create_app(make_config(), aredis, live_deltas=False))
    async with client.ws_connect("/ws") as ws:
        first = json.loads((await ws.receive(timeout=5)).data)
        assert first["type"] == "snapshot" and "version" not in first
        at = stamp()
        await floor.agent("a1", "on_call", at=at, queue="support")
        while True:
            update = json.loads((await ws.receive(timeout=5)).data)
            if update["type"] == "snapshot" and update["last_change_at"] == at:
                break
        assert agent(update, "a1")["state"] == "on_call"


async def test_bad_change_messages_still_refresh(client: Client, floor: Floor) -> None:
    async with client.ws_connect("/ws") as ws:
        await next_snapshot(ws)
        # A change the ACD makes without a change message (a start with an
        # agent renamed in the configuration), then a message that is not JSON.
        await floor.rename_agent("a3", "Chen Li", time.time())
        await floor.store.redis.publish(floor.store.keys.changes, "not json")
        # An update already on its way may have been built before the write;
        # the refresh the bad message causes must follow well before the
        # periodic 10 s refresh.
        deadline = time.monotonic() + 3.0
        while True:
            update = await next_snapshot(ws)
            if agent(update, "a3")["name"] == "Chen Li":
                break
            assert time.monotonic() < deadline, "a bad change message did not refresh"


async def test_viewer_messages_are_ignored_and_unknown_board_is_404(client: Client) -> None:
    async with client.ws_connect("/ws") as ws:
        await next_snapshot(ws)
        await ws.send_str("hello")
        await ws.send_bytes(b"\x00" * 10)
        assert not ws.closed
    resp = await client.get("/ws?board=nope")
    assert resp.status == 404


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


async def test_updates_resume_after_a_redis_restart(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], own_redis: RedisServer
) -> None:
    redis = aioredis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        client = await aiohttp_client(create_app(make_config(), redis))
        async with client.ws_connect("/ws") as ws:
            await next_snapshot(ws)
            own_redis.stop()
            await asyncio.sleep(0.3)
            own_redis.start()  # same port, empty data
            # The ACD starts again on the empty Redis and rings Alice.
            floor = await Floor.open(redis, make_config(), time.time())
            await floor.agent("a1", "ringing", at=time.time())
            for _ in range(50):  # until the hub has subscribed again
                try:
                    update = await asyncio.wait_for(next_snapshot(ws), 0.5)
                except TimeoutError:
                    # Announce it again: one sent before the hub was back is lost.
                    await floor.store.publish_change("agent", agent="a1")
                    continue
                if agent(update, "a1")["state"] == "ringing":
                    break
            else:
                pytest.fail("no update after Redis came back")
    finally:
        await redis.aclose()


async def test_a_subscription_the_client_makes_again_by_itself_counts_as_missed_changes(
    own_redis: RedisServer,
) -> None:
    """The runtime's client (with a retry) reconnects and re-subscribes on its
    own after Redis is killed and started again, with no error to see; what
    was published meanwhile is lost. The hub must take it as "anything may
    have changed", as it does after a subscription of its own."""
    config = make_config()
    redis = connect_redis(config.redis, own_redis.url)
    missed = asyncio.Event()
    told: list[object] = []

    def listener(message: object) -> None:
        told.append(message)
        if told.count(None) >= 2:  # the first subscription, then the re-made one
            missed.set()

    async def build(board: Board, last: float | None) -> dict[str, Any]:
        return {"type": "snapshot"}

    hub = LiveHub(redis, "acd:changes", build, on_change=listener,
                  refresh_interval=3600, heartbeat_interval=3600)
    task = asyncio.create_task(hub.run())
    try:
        await hub.ready.wait()
        assert told == [None]
        own_redis.kill()
        own_redis.start()  # the same port
        async with asyncio.timeout(20):
            await missed.wait()
    finally:
        await hub.close()
        async with asyncio.timeout(5):
            await task
        await close_redis(redis)


async def test_hub_stops_on_close_by_itself(aredis: aioredis.Redis) -> None:
    """close() ends run() through the stop flag: no cancellation needed, so
    one swallowed by a library (or by wait_for on 3.11) cannot hang the app."""
    async def build(board: Board, last: float | None) -> dict[str, Any]:
        return {"type": "snapshot"}

    hub = LiveHub(aredis, "acd:changes", build, refresh_interval=3600, heartbeat_interval=3600)
    task = asyncio.create_task(hub.run())
    await hub.ready.wait()
    await hub.close()
    async with asyncio.timeout(5):
        await task
    assert not task.cancelled()


async def test_app_cleanup_is_bounded(aredis: aioredis.Redis) -> None:
    runner = web.AppRunner(create_app(make_config(), aredis))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    async with asyncio.timeout(10):
        await runner.cleanup()


# --- terminal view -------------------------------------------------------------


def test_websocket_url() -> None:
    assert websocket_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/ws"
    assert websocket_url("https://board.example/wall/") == "wss://board.example/wall/ws"
    assert websocket_url("ws://h:1/ws?board=x") == "ws://h:1/ws?board=x"
    assert websocket_url("h:8080") == "ws://h:8080/ws"


def test_formats() -> None:
    assert format_duration(None) == "—"
    assert format_duration(59.9) == "0:59"
    assert format_duration(3725) == "1:02:05"
    assert format_percent(0.125) == "13%"  # halves up, as the page
    assert format_percent(None) == "—"


def test_render_keeps_escape_sequences_out_of_the_terminal() -> None:
    snapshot = {
        "timezone": "UTC",
        "queues": [],
        "agents": [
            {
                "id": "a1",
                "name": "Eve\x1b[2J",
                "state": "paused",
                "state_since": 0.0,
                "pause_reason": "\x1b]0;pwned\x07",
                "reachable": True,
            }
        ],
    }
    text = render(snapshot, 65.0)
    assert "\x1b" not in text and "\x07" not in text
    assert "Eve?[2J" in text and "1:05" in text


async def test_tail_once_prints_the_same_numbers(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], aredis: aioredis.Redis
) -> None:
    noon = 1717416000.0  # 2024-06-03 12:00 UTC: the board's clock, mid-day
    client = await aiohttp_client(create_app(make_config(), aredis, clock=lambda: noon))
    floor = await Floor.open(aredis, make_config(), noon - 3600)
    # 11:50: four callers; Alice answers after 10 s and then 60 s, Bob after
    # 150 s (outside the 120 s target); one hangs up after 30 s.
    t = noon - 600
    await floor.answered_call("support", agent="a1", arrival=t, wait=10, talk=30)
    await floor.answered_call("support", agent="a1", arrival=t + 60, wait=60, talk=30)
    await floor.answered_call("support", agent="a2", arrival=t, wait=150, talk=30)
    await floor.abandoned("support", arrival=t, wait=30)
    await floor.agent("a1", "paused", at=noon - 65, reason="training")
    out = io.StringIO()
    url = str(client.make_url("/"))
    code = await asyncio.to_thread(run_tail, url, None, once=True, out=out)
    assert code == 0
    lines = out.getvalue().splitlines()
    support = next(line for line in lines if line.startswith("support"))
    assert support.split()[:8] == ["support", "0", "—", "50%", "50%", "4", "3", "1"]
    assert "(25%)" in support
    alice = next(line for line in lines if line.startswith("Alice"))
    assert "paused" in alice and "training" in alice


async def test_tail_with_a_wrong_token_or_no_server_exits_1(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    aredis: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = make_config(api_token="s3cret", require_token_for_view=True)
    client = await aiohttp_client(create_app(config, aredis))
    url = str(client.make_url("/"))
    assert await asyncio.to_thread(run_tail, url, "wrong", once=True) == 1
    assert "HTTP 401" in capsys.readouterr().err
    out = io.StringIO()
    assert await asyncio.to_thread(run_tail, url, "s3cret", once=True, out=out) == 0
    assert "support" in out.getvalue()
    dead = f"http://127.0.0.1:{free_port()}"
    assert await asyncio.to_thread(run_tail, dead, None, once=True) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("acd wallboard tail: cannot connect to ws://127.0.0.1:")
    assert len(err.splitlines()) == 1


# --- live builds: what a change names is read again, the rest reused -----------------

NOON = 1717416000.0  # 2024-06-03 12:00 UTC (the test configuration's time zone)


class Clock:
    """The builder's clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Changes:
    """The change messages the scripts publish, fed to a builder as the live
    hub feeds them. :meth:`settle` returns once every message published
    before it was fed (a marker message closes the batch: one channel keeps
    its order)."""

    MARKER = "--settled--"

    def __init__(self, redis: aioredis.Redis, channel: str, builder: SnapshotBuilder) -> None:
        self._redis = redis
        self._channel = channel
        self._builder = builder
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self.fed = 0

    async def __aenter__(self) -> Changes:
        await self._pubsub.subscribe(self._channel)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    async def settle(self) -> None:
        await self._redis.publish(self._channel, json.dumps({"queue": self.MARKER}))
        async with asyncio.timeout(10):
            while True:
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                data = json.loads(message["data"])
                if data.get("queue") == self.MARKER:
                    return
                self._builder.note_change(data)
                self.fed += 1


def without_clock_fields(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k not in ("generated_at", "last_change_at")}


async def whole_read(aredis: aioredis.Redis, clock: Clock, board: Board) -> dict[str, Any]:
    """The board read whole by a builder with nothing cached."""
    return await SnapshotBuilder(make_config(), aredis, clock=clock).build(board)


@pytest.mark.parametrize("seed", [13, 14, 15])
async def test_a_live_build_shows_every_change_as_a_whole_read_would(
    aredis: aioredis.Redis, seed: int
) -> None:
    """After each of many changes through the real scripts, the live build
    (which re-reads only what the change messages named) is the board a
    builder reading everything would show."""
    clock = Clock(NOON - 600)  # 11:50
    floor = await Floor.open(aredis, make_config(), clock.now)
    # No periodic re-reads in this test: only what the messages name is read.
    live = SnapshotBuilder(
        make_config(), aredis, clock=clock, refresh_seconds=1e6, closed_refresh_seconds=1e6
    )
    board = live.board()
    rng = random.Random(seed)
    async with Changes(aredis, floor.store.keys.changes, live) as changes:
        await live.build_live(board)  # everything cached from here on
        waiting: list[str] = []
        for step in range(40):
            clock.now += rng.uniform(0.5, 5.0)
            at = clock.now
            agent_id = rng.choice(["a1", "a2", "a3", "a4"])
            action = rng.choice(["agent", "agent", "caller", "leave", "call"])
            if action == "caller" or (action == "leave" and not waiting):
                call_id = f"c{step}"
                await floor.caller(call_id, rng.choice(QUEUES), arrival=at, name=f"Caller {step}")
                waiting.append(call_id)
            elif action == "leave":
                await floor.leaves(waiting.pop(0), at)
            elif action == "call":
                view = await floor.view(agent_id)
                if view.state.value in ("logged_out", "paused", "available"):
                    # Now and then a call that arrived in an earlier interval
                    # (a late count the board had cached).
                    await floor.answered_call(
                        rng.choice(list(floor.config.agents[int(agent_id[1]) - 1].queues)),
                        agent=agent_id, arrival=at - rng.choice([30, 30, 2400, 5000]),
                        wait=20, talk=8,
                    )
            else:
                state = rng.choice(["available", "paused", "logged_out", "on_call", "wrap_up"])
                await floor.agent(agent_id, state, at=at, reason="lunch", wait=5, talk=4)
            await changes.settle()
            shown = await live.build_live(board)
            assert without_clock_fields(shown) == without_clock_fields(
                await whole_read(aredis, clock, board)
            ), f"step {step}: {action} {agent_id}"
        assert changes.fed > 40


async def test_a_late_count_in_an_earlier_interval_still_shows(aredis: aioredis.Redis) -> None:
    """A call that arrived an hour ago ends now: its talk time lands in its
    arrival's interval, which the board had read long before."""
    clock = Clock(NOON - 60)  # 11:59; the call arrived at 11:10, in a closed interval
    floor = await Floor.open(aredis, make_config(), NOON - 3600)
    # Earlier intervals are never re-read on a timer here: only the message counts.
    live = SnapshotBuilder(make_config(), aredis, clock=clock, closed_refresh_seconds=1e6)
    board = live.board()
    view = await floor.agent("a1", "on_call", at=NOON - 2950, queue="support", wait=20)
    async with Changes(aredis, floor.store.keys.changes, live) as changes:
        before = await live.build_live(board)
        support = next(q for q in before["queues"] if q["name"] == "support")
        assert support["answered"] == 1 and support["aht_seconds"] is None  # still talking

        assert await floor.store.call_finished(view.call_id, "a1", 0, NOON - 50)
        await changes.settle()
        # The script's message names the interval it counted in: the next
        # build shows the count, long before that interval's cache expires.
        clock.now += 0.1
        support = next(
            q for q in (await live.build_live(board))["queues"] if q["name"] == "support"
        )
        assert support["aht_seconds"] == 2900.0  # 11:10:50 to 11:59:10
        assert support["series"]["offered"][44] == 1  # still counted at 11:00


async def test_a_change_made_without_a_message_shows_after_the_refresh(
    aredis: aioredis.Redis,
) -> None:
    """Nothing drifts: what changed unannounced (an agent renamed at a start)
    is on the live board once every agent has been re-read."""
    clock = Clock(NOON)
    floor = await Floor.open(aredis, make_config(), NOON)
    live = SnapshotBuilder(make_config(), aredis, clock=clock)
    board = live.board()
    async with Changes(aredis, floor.store.keys.changes, live) as changes:
        await live.build_live(board)
        await floor.rename_agent("a3", "Chen Li", NOON)
        await floor.agent("a1", "paused", at=NOON, reason="lunch")  # announced
        await changes.settle()
        clock.now += 0.1
        shown = await live.build_live(board)
        assert agent(shown, "a1")["state"] == "paused"  # named by its message: at once
        clock.now += REFRESH_SECONDS
        shown = await live.build_live(board)
        assert agent(shown, "a3")["name"] == "Chen Li"
        assert without_clock_fields(shown) == without_clock_fields(
            await whole_read(aredis, clock, board)
        )


def counters_strategy() -> st.SearchStrategy[metrics.IntervalCounters]:
    amount = st.floats(min_value=0, max_value=1e6, allow_nan=False)
    buckets = len(metrics.EMPTY.wait_histogram)
    return st.builds(
        metrics.IntervalCounters,
        offered=amount, answered=amount, handle_seconds=amount, wait_seconds=amount,
        wait_histogram=st.lists(amount, min_size=buckets, max_size=buckets).map(tuple),
    )


@given(
    st.lists(
        st.tuples(counters_strategy(), st.one_of(st.just(1.0), st.floats(0.0, 1.0))),
        max_size=8,
    )
)
def test_the_live_sums_are_the_metrics_sums(terms: list[tuple[Any, float]]) -> None:
    counters = [c for c, _ in terms]
    weights = [w for _, w in terms]
    assert snapshot_total(counters) == metrics.total(counters)
    assert snapshot_total(counters, weights) == metrics.window_total(
        dict(enumerate(counters)), list(enumerate(weights))
    )
