"""Interval history: the interval CSV of DESIGN.md and Asterisk's queue_log.

Both load into :class:`IntervalRecord` values. Bad lines never stop a load:
they are counted, and the first few are kept with their line number and the
reason, for the report. Only a file that cannot be read at all (missing, no
header, unknown format) raises :class:`HistoryError`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path

from forecasting.errors import HistoryError

CSV_COLUMNS = (
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
_EXAMPLES = 5
# queue_log timestamps beyond this (year 2100) are corrupt, not calls.
_LAST_EPOCH = 4_102_444_800


class HistoryFormat(StrEnum):
    """Formats :func:`load_history` understands."""

    AUTO = "auto"
    CSV = "csv"
    QUEUE_LOG = "queue_log"


@dataclass(frozen=True, slots=True)
class IntervalRecord:
    """Counters of one queue over one interval (DESIGN.md columns)."""

    start: datetime
    interval_seconds: int
    queue: str
    offered: int
    answered: int
    abandoned: int
    answered_within_target: int
    target_seconds: int
    handle_seconds: float
    wait_seconds: float
    #: seconds of the interval the source actually observed (a queue_log that
    #: starts or ends inside it); ``None`` for a full interval
    observed_seconds: int | None = None
    #: line of the source file (for messages), not part of the data
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class HistoryLoad:
    """What a load found, including what it could not use."""

    records: tuple[IntervalRecord, ...]
    format: HistoryFormat
    lines: int
    malformed: int
    malformed_examples: tuple[str, ...]
    #: queue_log events that are well formed but not about calls (logins, pauses...)
    ignored_events: int = 0
    #: things that make the numbers less trustworthy (partial intervals, ...)
    warnings: tuple[str, ...] = ()

    def zero_handle_time(self) -> list[IntervalRecord]:
        """Intervals with answered calls but no handle time (an AHT of 0)."""
        return [r for r in self.records if r.answered > 0 and r.handle_seconds <= 0]

    def summary(self) -> str:
        """One line for a human: what was read and what was skipped."""
        queues = sorted({r.queue for r in self.records})
        text = (
            f"{self.format}: {self.lines} lines, {len(self.records)} intervals, "
            f"queues {', '.join(queues) or '-'}, {self.malformed} malformed"
        )
        if self.malformed_examples:
            text += " (" + "; ".join(self.malformed_examples) + ")"
        return text


@dataclass
class _Problems:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, line_no: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(f"line {line_no}: {reason}")


def detect_format(text: str) -> HistoryFormat:
    """Guess the format from the first non-blank line."""
    for line in text.splitlines():
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        if stripped.split(",")[0].strip() == "interval_start":
            return HistoryFormat.CSV
        head = stripped.split("|", 1)[0]
        if "|" in stripped and head.isdigit():
            return HistoryFormat.QUEUE_LOG
        break
    raise HistoryError(
        "unknown history format: expected the interval CSV (header starting "
        "'interval_start') or an Asterisk queue_log ('epoch|callid|queue|agent|EVENT|...')"
    )


def load_history(
    path: str | Path,
    fmt: HistoryFormat = HistoryFormat.AUTO,
    *,
    interval_seconds: int = 900,
    target_seconds: int = 120,
    wrapup_seconds: float = 0.0,
    tz: tzinfo = UTC,
) -> HistoryLoad:
    """Read a history file. ``interval_seconds``, ``target_seconds``,
    ``wrapup_seconds`` and ``tz`` apply to queue_log aggregation only."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HistoryError(f"cannot read history file {path}: {exc.strerror}") from exc
    if fmt is HistoryFormat.AUTO:
        fmt = detect_format(text)
    if fmt is HistoryFormat.CSV:
        return parse_interval_csv(text)
    return parse_queue_log(
        text.splitlines(),
        interval_seconds=interval_seconds,
        target_seconds=target_seconds,
        wrapup_seconds=wrapup_seconds,
        tz=tz,
    )


def _parse_start(value: str) -> datetime:
    start = datetime.fromisoformat(value.strip())
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("interval_start has no UTC offset")
    return start


def parse_interval_csv(text: str) -> HistoryLoad:
    """Parse the interval CSV. Missing columns are fatal; bad rows are counted."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise HistoryError(f"interval CSV lacks columns: {', '.join(missing)}")
    problems = _Problems()
    records: list[IntervalRecord] = []
    rows = 0
    for row in reader:
        rows += 1
        line_no = reader.line_num
        try:
            counts = [
                int(row[c]) for c in ("offered", "answered", "abandoned", "answered_within_target")
            ]
            rec = IntervalRecord(
                start=_parse_start(row["interval_start"]),
                interval_seconds=int(row["interval_seconds"]),
                queue=row["queue"].strip(),
                offered=counts[0],
                answered=counts[1],
                abandoned=counts[2],
                answered_within_target=counts[3],
                target_seconds=int(row["target_seconds"]),
                handle_seconds=float(row["handle_seconds"]),
                wait_seconds=float(row["wait_seconds"]),
                line=line_no,
            )
        except (ValueError, TypeError, AttributeError) as exc:
            problems.add(line_no, str(exc) or "bad value")
            continue
        reason = _implausible(rec)
        if reason:
            problems.add(line_no, reason)
            continue
        records.append(rec)
    return HistoryLoad(
        records=tuple(records),
        format=HistoryFormat.CSV,
        lines=rows,
        malformed=problems.count,
        malformed_examples=tuple(problems.examples),
    )


def _implausible(r: IntervalRecord) -> str | None:
    if not r.queue:
        return "empty queue name"
    if r.interval_seconds <= 0:
        return "interval_seconds must be > 0"
    if min(r.offered, r.answered, r.abandoned, r.answered_within_target) < 0:
        return "negative count"
    if not (math.isfinite(r.handle_seconds) and math.isfinite(r.wait_seconds)):
        return "non-finite seconds"
    if r.handle_seconds < 0 or r.wait_seconds < 0:
        return "negative seconds"
    if r.answered_within_target > r.answered:
        return "answered_within_target > answered"
    return None


def write_interval_csv(records: Iterable[IntervalRecord], out: io.TextIOBase | io.StringIO) -> None:
    """Write records with the DESIGN.md columns (import and export agree)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow(
            [
                r.start.isoformat(),
                r.interval_seconds,
                r.queue,
                r.offered,
                r.answered,
                r.abandoned,
                r.answered_within_target,
                r.target_seconds,
                f"{r.handle_seconds:g}",
                f"{r.wait_seconds:g}",
            ]
        )


# --- Asterisk queue_log ---------------------------------------------------

# Events that end a call after it was answered: fields from the end are
# holdtime, talk time, original position (transfers have extra leading fields).
_COMPLETIONS = frozenset(
    {"COMPLETECALLER", "COMPLETEAGENT", "ATTENDEDTRANSFER", "BLINDTRANSFER", "TRANSFER"}
)
# Events that end an unanswered call; the last field is the wait in seconds.
_UNANSWERED = frozenset({"ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"})
_NOT_CALLS = frozenset(
    {
        "QUEUESTART",
        "CONFIGRELOAD",
        "AGENTLOGIN",
        "AGENTLOGOFF",
        "AGENTCALLBACKLOGIN",
        "AGENTCALLBACKLOGOFF",
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "PAUSEALL",
        "UNPAUSEALL",
        "PENALTY",
        "RINGNOANSWER",
        "RINGCANCELED",
        "SYSCOMPAT",
        "DID",
        "INFO",
        "AGENTDUMP",
    }
)


@dataclass
class _Call:
    queue: str
    entered: float
    answered: bool = False
    wait: float = 0.0
    talk: float | None = None
    unanswered: str | None = None


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bad number {text!r}")
    return value


def parse_queue_log(
    lines: Iterable[str],
    *,
    interval_seconds: int = 900,
    target_seconds: int = 120,
    wrapup_seconds: float = 0.0,
    tz: tzinfo = UTC,
) -> HistoryLoad:
    """Aggregate an Asterisk queue_log into intervals per queue.

    A call belongs to the interval in which it entered the queue. Handle time
    is talk time plus ``wrapup_seconds`` (queue_log does not record wrap-up).
    A call answered but not yet completed when the log ends counts as
    answered with its wait, and adds no handle time.
    """
    if interval_seconds <= 0 or 86400 % interval_seconds:
        raise HistoryError("interval_seconds must divide a day (e.g. 900 or 1800)")
    problems = _Problems()
    calls: dict[str, _Call] = {}
    ignored = 0
    count = 0
    first_epoch, last_epoch = math.inf, -math.inf
    for line_no, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        count += 1
        parts = line.split("|")
        if len(parts) < 5:
            problems.add(line_no, "fewer than 5 fields")
            continue
        epoch_text, callid, queue, _agent, event = parts[:5]
        data = parts[5:]
        try:
            epoch = float(epoch_text)
            if not 0 <= epoch < _LAST_EPOCH:
                raise ValueError(epoch_text)
        except ValueError:
            problems.add(line_no, f"bad timestamp {epoch_text!r}")
            continue
        if not event or not event.replace("_", "").isalnum():
            problems.add(line_no, f"bad event {event!r}")
            continue
        first_epoch, last_epoch = min(first_epoch, epoch), max(last_epoch, epoch)
        if event in _NOT_CALLS or callid == "NONE":
            ignored += 1
            continue
        try:
            _apply(calls, callid, queue, event, data, epoch)
        except (ValueError, IndexError) as exc:
            problems.add(line_no, f"{event}: {exc}")
        except _Unknown:
            ignored += 1
    records = _aggregate(calls.values(), interval_seconds, target_seconds, wrapup_seconds, tz)
    records, warnings = _observed_span(records, first_epoch, last_epoch)
    if records and wrapup_seconds <= 0:
        warnings.append(
            "queue_log records talk time only: handle time and AHT exclude wrap-up "
            "(give --wrapup SECONDS, the queue's wrap-up time)"
        )
    return HistoryLoad(
        records=records,
        format=HistoryFormat.QUEUE_LOG,
        lines=count,
        malformed=problems.count,
        malformed_examples=tuple(problems.examples),
        ignored_events=ignored,
        warnings=tuple(warnings),
    )


def _observed_span(
    records: tuple[IntervalRecord, ...], first: float, last: float
) -> tuple[tuple[IntervalRecord, ...], list[str]]:
    """Mark intervals the log covers only in part (it starts or ends inside them).

    The log observed the queue from its first line to its last: an interval
    cut by either end holds fewer minutes of calls than its length, and
    planning it as a full interval would understate the load.
    """
    if not records:
        return records, []
    out: list[IntervalRecord] = []
    partial: list[str] = []
    for r in records:
        begin = r.start.timestamp()
        end = begin + r.interval_seconds
        seen = min(end, last + 1.0) - max(begin, first)
        if seen < r.interval_seconds:
            seen_s = max(round(seen), 1)
            r = replace(r, observed_seconds=seen_s)
            partial.append(
                f"{r.queue} {r.start:%Y-%m-%d %H:%M} ({seen_s // 60} of "
                f"{r.interval_seconds // 60} min, {r.offered} calls)"
            )
        out.append(r)
    warnings = []
    if partial:
        warnings.append(
            "queue_log covers only part of "
            + ("this interval" if len(partial) == 1 else f"{len(partial)} intervals")
            + ": "
            + "; ".join(partial[:_EXAMPLES])
            + (" ..." if len(partial) > _EXAMPLES else "")
            + "; their calls are taken as a rate over the minutes observed"
        )
    return tuple(out), warnings


class _Unknown(Exception):
    pass


def _apply(
    calls: dict[str, _Call], callid: str, queue: str, event: str, data: list[str], epoch: float
) -> None:
    if not queue or queue == "NONE":
        raise ValueError("no queue")
    if event == "ENTERQUEUE":
        calls[callid] = _Call(queue=queue, entered=epoch)
        return
    if event == "CONNECT":
        hold = _number(data[0])
        call = calls.get(callid) or calls.setdefault(callid, _Call(queue, epoch - hold))
        call.answered, call.wait = True, hold
        return
    if event in _COMPLETIONS:
        if len(data) < 3:
            raise IndexError("expected holdtime|talktime|position")
        hold, talk = _number(data[-3]), _number(data[-2])
        call = calls.get(callid) or calls.setdefault(callid, _Call(queue, epoch - hold - talk))
        call.answered, call.wait, call.talk = True, hold, talk
        return
    if event in _UNANSWERED:
        wait = _number(data[-1]) if data and data[-1] != "" else 0.0
        call = calls.get(callid) or calls.setdefault(callid, _Call(queue, epoch - wait))
        if not call.answered:
            call.unanswered, call.wait = event, wait
        return
    raise _Unknown(event)


def _aggregate(
    calls: Iterable[_Call], interval: int, target: int, wrapup: float, tz: tzinfo
) -> tuple[IntervalRecord, ...]:
    buckets: dict[tuple[str, datetime], list[float]] = {}
    for call in calls:
        local = datetime.fromtimestamp(call.entered, tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        into_day = (local - midnight).total_seconds()
        start = midnight + timedelta(seconds=int(into_day // interval) * interval)
        b = buckets.setdefault((call.queue, start), [0.0] * 6)
        b[0] += 1
        if call.answered:
            b[1] += 1
            b[3] += call.wait <= target
            b[4] += (call.talk + wrapup) if call.talk is not None else 0.0
            b[5] += call.wait
        elif call.unanswered == "ABANDON":
            b[2] += 1
    return tuple(
        IntervalRecord(
            start=start,
            interval_seconds=interval,
            queue=queue,
            offered=int(b[0]),
            answered=int(b[1]),
            abandoned=int(b[2]),
            answered_within_target=int(b[3]),
            target_seconds=target,
            handle_seconds=b[4],
            wait_seconds=b[5],
        )
        for (queue, start), b in sorted(buckets.items())
    )


def iter_queues(records: Iterable[IntervalRecord]) -> Iterator[tuple[str, list[IntervalRecord]]]:
    """Records grouped by queue, queues sorted by name."""
    by_queue: dict[str, list[IntervalRecord]] = {}
    for r in records:
        by_queue.setdefault(r.queue, []).append(r)
    for name in sorted(by_queue):
        yield name, sorted(by_queue[name], key=lambda r: r.start)
