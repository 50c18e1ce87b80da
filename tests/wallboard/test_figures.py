"""The figure registry: every figure is labelled in every language, reaches
the snapshot for each queue and the whole board, and derived figures are
computed from the counters the scripts keep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from acd.core.settings import Config, QueueConfig, RedisConfig
from acd.store.store import Store
from wallboard import figures, i18n
from wallboard.app import create_app
from wallboard.tail import render

NOW = 1_800_000_000.0
Client = TestClient[web.Request, web.Application]


def test_every_figure_has_a_label_in_every_language_and_a_known_format() -> None:
    assert len({f.name for f in figures.FIGURES}) == len(figures.FIGURES)
    for f in figures.FIGURES:
        assert f.places, f.name
        for code, catalogue in i18n.CATALOGS.items():
            assert f.label in catalogue, (code, f.label)


@pytest.fixture
def config() -> Config:
    return Config(source="test", redis=RedisConfig(key_prefix="acd:"),
                  queues=(QueueConfig(name="support"), QueueConfig(name="sales")))


async def test_derived_figures_reach_every_queue_the_totals_and_the_terminal(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    aredis: aioredis.Redis, config: Config,
) -> None:
    store = Store(aredis, config.redis)
    await store.add_counters("support", NOW - 60, {
        "offered": 10, "answered": 10, "handled": 8, "resolved": 6,
        "csat_answers": 4, "csat_good": 3,
    }, NOW)
    await store.add_counters("sales", NOW - 60, {"offered": 2, "answered": 2, "handled": 2,
                                                 "resolved": 2}, NOW)
    client = await aiohttp_client(create_app(config, aredis, clock=lambda: NOW))
    snap = await (await client.get("/api/snapshot")).json()
    assert snap["metrics"] == figures.descriptors()
    derived = [f.name for f in figures.FIGURES if f.compute is not None]
    by_name = {q["name"]: q for q in snap["queues"]}
    for q in (*by_name.values(), snap["totals"]):
        for name in derived:
            assert name in q, name
    assert by_name["support"]["resolution_rate"] == 0.75  # 6 of 8 handled
    assert by_name["support"]["csat"] == 0.75  # 3 of 4 answers were 4 or 5
    assert by_name["sales"]["csat"] is None  # no survey answered: unknown, not 0
    assert snap["totals"]["resolution_rate"] == 0.8  # 8 of 10 over the board
    text = render(snap, NOW)
    support_line = text.splitlines()[text.splitlines().index(
        next(line for line in text.splitlines() if line.startswith("support"))) + 1]
    assert "Resolved 75%" in support_line and "CSAT 75%" in support_line


def test_format_value_matches_the_page() -> None:
    assert figures.format_value("pct", 0.925) == "93%"
    assert figures.format_value("dur", 3725) == "1:02:05"
    assert figures.format_value("dur", 65.9) == "1:05"
    assert figures.format_value("num", 3.14159) == "3.1"
    assert figures.format_value("count", 12345) == "12345"
    assert figures.format_value("pct", None) == "—"


async def test_occupancy_is_handle_time_over_handle_and_idle_time(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    aredis: aioredis.Redis, config: Config,
) -> None:
    store = Store(aredis, config.redis)
    # support: 30 min talking, 10 min idle; sales: busy, never idle
    await store.add_counters("support", NOW - 60, {"handle_seconds": 1800,
                                                   "idle_seconds": 600}, NOW)
    await store.add_counters("sales", NOW - 60, {"handle_seconds": 300}, NOW)
    client = await aiohttp_client(create_app(config, aredis, clock=lambda: NOW))
    snap = await (await client.get("/api/snapshot")).json()
    by_name = {q["name"]: q for q in snap["queues"]}
    assert by_name["support"]["occupancy"] == 0.75
    assert by_name["sales"]["occupancy"] == 1.0
    assert snap["totals"]["occupancy"] == round(2100 / 2700, 4)
