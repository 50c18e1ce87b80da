"""`acd export intervals`: the interval CSV the forecaster reads back."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from acd.core.agent_rules import Command
from acd.core.models import Exit
from acd.core.settings import AgentConfig, Config, QueueConfig, RedisConfig, WallboardConfig
from acd.store.keys import Keys
from acd.store.store import Store
from acd.tools.export import (
    COLUMNS,
    EXTRA_COLUMNS,
    export_rows,
    intervals,
    parse_request,
    write_csv,
)
from callcenter.cli import main
from forecasting.history import CSV_COLUMNS, load_history


def config(tz: str = "Europe/Warsaw") -> Config:
    return Config(
        source="test",
        wallboard=WallboardConfig(timezone=tz),
        queues=(QueueConfig(name="support", service_level_seconds=120),
                QueueConfig(name="sales", service_level_seconds=60)),
    )


def test_bad_arguments_are_all_reported() -> None:
    request, problems = parse_request(config(), "2026-13-01", "yesterday", ["support", "nope"])
    assert request is None
    assert any("--from" in p and "YYYY-MM-DD" in p for p in problems)
    assert any("--to" in p for p in problems)
    assert any("'nope'" in p and "support, sales" in p for p in problems)
    _, problems = parse_request(config(), "2026-11-02", "2026-11-01", None)
    assert problems == ["--to: 2026-11-01 is before --from 2026-11-02"]


def test_day_has_96_intervals_and_dst_days_differ() -> None:
    def count(day: str) -> int:
        request, _ = parse_request(config(), day, day, None)
        assert request is not None
        return len(list(intervals(request)))

    assert count("2026-11-23") == 96
    assert count("2026-03-29") == 92  # clocks go forward in Warsaw
    assert count("2026-10-25") == 100  # and back
    request, _ = parse_request(config(), "2026-11-23", "2026-11-23", None)
    assert request is not None
    first = next(intervals(request))
    assert first.isoformat() == "2026-11-23T00:00:00+01:00"


async def test_rows_carry_counters_and_zeros(
    redis_client: aioredis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    keys = Keys(key_prefix)
    cfg = config()
    start = dt.datetime(2026, 11, 23, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    await redis_client.hset(keys.stats("support", int(start.timestamp())), mapping={
        "offered": 10, "answered": 8, "abandoned": 2, "answered_within_target": 7,
        "handle_seconds": 1440.5, "wait_seconds": 160, "handled": 8, "resolved": 6,
        "dispositioned": 7, "csat_answers": 4, "csat_good": 3, "callback_requested": 1,
        "callback_answered": 1,
    })
    request, _ = parse_request(cfg, "2026-11-23", "2026-11-23", ["support"])
    assert request is not None
    rows = await export_rows(Store(redis_client, RedisConfig(key_prefix=key_prefix)), cfg, request)
    assert len(rows) == 96
    busy = [r for r in rows if r[0] == "2026-11-23T09:15:00+01:00"]
    # the required columns, then handled, lost, dispositioned, resolved, CSAT, callbacks
    assert busy == [["2026-11-23T09:15:00+01:00", "900", "support", "10", "8", "2", "7", "120",
                     "1440.500", "160", "8", "0", "7", "6", "4", "3", "1", "1", "0"]]
    assert rows[0][3:6] == ["0", "0", "0"]
    out = tmp_path / "sub" / "intervals.csv"
    write_csv(str(out), rows)
    with out.open(newline="") as fh:
        parsed = list(csv.reader(fh))
    assert tuple(parsed[0]) == (*COLUMNS, *EXTRA_COLUMNS)
    assert len(parsed) == 97


def test_cli_rejects_bad_dates_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    cfg = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
    code = main(["export", "intervals", "--config", str(cfg), "--from", "2026-02-30",
                 "--to", "2026-03-01", "--out", str(tmp_path / "x.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--from" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


async def test_the_forecaster_reads_back_what_the_acd_counted(
    redis_client: aioredis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    """The interval CSV contract from both sides: calls run through the real
    store scripts, exported by `acd export`, read by the forecaster."""
    assert COLUMNS == CSV_COLUMNS  # the forecaster's required columns, in order
    cfg = config()
    store = Store(redis_client, RedisConfig(key_prefix=key_prefix))
    start = dt.datetime(2026, 11, 23, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    t0 = start.timestamp()
    agent = AgentConfig(id="a1", name="A", endpoint="PJSIP/a1", queues={"support": 50})
    await store.ensure_agents([agent], t0)
    await store.set_reachable("a1", True, t0)
    await store.agent_command("a1", Command.LOGIN, t0)
    for i, (wait, talk) in enumerate([(30.0, 200.0), (150.0, 100.0)]):
        arrival = t0 + 10 + i * 400
        cid = f"c{i}"
        await store.enqueue(cid, "support", arrival=arrival, priority=0, max_length=0,
                            now=arrival, fields={"owner": "x"})
        assert await store.claim(cid, "a1", arrival + wait - 5)
        await store.answered(cid, "a1", arrival + wait, 120, arrival + wait)
        await store.call_finished(cid, "a1", 0, arrival + wait + talk)
        await store.wrap_up_expired("a1", arrival + wait + talk)
    await store.enqueue("gone", "support", arrival=t0 + 20, priority=0, max_length=0,
                        now=t0 + 20, fields={"owner": "x"})
    await store.leave("gone", Exit.ABANDONED, 5, t0 + 80)
    request, _ = parse_request(cfg, "2026-11-23", "2026-11-23", ["support"])
    assert request is not None
    out = tmp_path / "intervals.csv"
    write_csv(str(out), await export_rows(store, cfg, request))
    loaded = load_history(out)
    busy = [r for r in loaded.records if r.start == start]
    assert len(busy) == 1 and loaded.malformed == 0
    r = busy[0]
    assert (r.queue, r.offered, r.answered, r.abandoned, r.answered_within_target) == (
        "support", 3, 2, 1, 1)
    assert (r.target_seconds, r.interval_seconds) == (120, 900)
    assert r.handle_seconds == pytest.approx(300.0) and r.wait_seconds == pytest.approx(180.0)
