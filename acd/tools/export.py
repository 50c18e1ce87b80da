"""`acd export intervals`: the per-queue interval counters as the interval CSV of docs/contracts.md.

Columns: interval_start (ISO 8601 with UTC offset, in the wallboard's time
zone), interval_seconds, queue, offered, answered, abandoned (all abandons,
short ones included), answered_within_target, target_seconds, handle_seconds
(wrap-up included), wait_seconds (sum over answered). Every interval of the
requested days is written, quiet ones as zeros, so the forecaster sees nights
and weekends as they were.

After those, for the contact-center's own reports (the forecaster ignores
them): handled, lost (to the dialplan's fallback queue), dispositioned,
resolved (resolution rate = resolved / handled), csat_answers, csat_good
(CSAT = csat_good / csat_answers), callback_requested, callback_answered,
callback_failed.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import sys
import tempfile
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import RedisError

from acd.core.intervals import INTERVAL_SECONDS
from acd.core.settings import Config
from acd.store.client import close, connect
from acd.store.store import Store

COLUMNS = (
    "interval_start",
    "interval_seconds",
    "queue",
    "offered",
    "answered",
    "abandoned",
    "answered_within_target",
    "target_seconds",
    "handle_seconds",
    "wait_seconds",
)
EXTRA_COLUMNS = (
    "handled",
    "lost",
    "dispositioned",
    "resolved",
    "csat_answers",
    "csat_good",
    "callback_requested",
    "callback_answered",
    "callback_failed",
)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    first_day: dt.date
    last_day: dt.date
    queues: tuple[str, ...]
    timezone: str


def parse_request(
    config: Config, date_from: str, date_to: str, queues: Sequence[str] | None
) -> tuple[ExportRequest | None, list[str]]:
    """Validate the command line; returns the request or the problems."""
    problems: list[str] = []
    first = last = None
    try:
        first = dt.date.fromisoformat(date_from)
    except ValueError:
        problems.append(f"--from: {date_from!r} is not a date (expected YYYY-MM-DD)")
    try:
        last = dt.date.fromisoformat(date_to)
    except ValueError:
        problems.append(f"--to: {date_to!r} is not a date (expected YYYY-MM-DD)")
    if first and last and last < first:
        problems.append(f"--to: {date_to} is before --from {date_from}")
    known = [q.name for q in config.queues]
    wanted = tuple(queues) if queues else tuple(known)
    for name in wanted:
        if name not in known:
            problems.append(f"--queue: no queue {name!r} in the configuration "
                            f"(expected one of: {', '.join(known) or 'none'})")
    if problems or first is None or last is None:
        return None, problems
    return ExportRequest(first, last, wanted, config.wallboard.timezone), []


def intervals(request: ExportRequest) -> Iterator[dt.datetime]:
    """Local interval starts from midnight of the first day to the end of the last.

    Stepping in UTC keeps daylight-saving days right (92 or 100 intervals).
    """
    tz = zoneinfo.ZoneInfo(request.timezone)
    start = dt.datetime.combine(request.first_day, dt.time(), tz).astimezone(dt.UTC)
    end_day = request.last_day + dt.timedelta(days=1)
    end = dt.datetime.combine(end_day, dt.time(), tz).astimezone(dt.UTC)
    t = start
    step = dt.timedelta(seconds=INTERVAL_SECONDS)
    while t < end:
        yield t.astimezone(tz)
        t += step


def _number(raw: str | None) -> str:
    if raw in (None, ""):
        return "0"
    value = float(raw)
    return str(int(value)) if value.is_integer() else f"{value:.3f}"


async def export_rows(store: Store, config: Config, request: ExportRequest) -> list[list[str]]:
    targets = {q.name: q.service_level_seconds for q in config.queues}
    starts = list(intervals(request))
    epochs = [int(start.timestamp()) for start in starts]
    rows: list[list[str]] = []
    fields = ("offered", "answered", "abandoned", "answered_within_target",
              "handle_seconds", "wait_seconds", *EXTRA_COLUMNS)
    for queue in request.queues:
        results = await store.interval_counters(queue, epochs, fields)
        for start, values in zip(starts, results, strict=True):
            offered, answered, abandoned, within, handle, wait, *extra = (
                _number(v) for v in values
            )
            rows.append([
                start.isoformat(), str(INTERVAL_SECONDS), queue, offered, answered, abandoned,
                within, str(targets[queue]), handle, wait, *extra,
            ])
        print(f"  {queue}: {len(starts)} intervals", file=sys.stderr, flush=True)
    return rows


def write_csv(path: str, rows: Sequence[Sequence[str]]) -> None:
    """Write atomically: a half-written file never replaces a good one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow((*COLUMNS, *EXTRA_COLUMNS))
            writer.writerows(rows)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _export(config: Config, request: ExportRequest, out: str) -> int:
    from acd.store.embedded import EmbeddedRedis, default_data_dir

    embedded = None
    url = config.redis.url
    if not url:
        embedded = EmbeddedRedis(default_data_dir())
        await asyncio.to_thread(embedded.start)
        url = embedded.url
    redis = connect(config.redis, url)
    try:
        rows = await export_rows(Store(redis, config.redis), config, request)
    finally:
        await close(redis)
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
    write_csv(out, rows)
    print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)
    return 0


def run_export_intervals(
    config_path: str, date_from: str, date_to: str, out: str, queues: Sequence[str] | None
) -> int:
    from acd.config.loader import load_or_report

    config = load_or_report(config_path)
    if config is None:
        return 2
    request, problems = parse_request(config, date_from, date_to, queues)
    if request is None:
        for problem in problems:
            print(f"acd export intervals: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_export(config, request, out))
    except (OSError, RedisError) as exc:
        print(f"acd export intervals: {exc}", file=sys.stderr)
        return 1
