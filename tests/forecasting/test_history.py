"""History loading: interval CSV and Asterisk queue_log, malformed lines counted."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.errors import HistoryError
from forecasting.history import (
    HistoryFormat,
    load_history,
    parse_interval_csv,
    parse_queue_log,
    write_interval_csv,
)
from tests.forecasting.synthetic import seasonal_history

FIXTURE = Path("/work/shared/fixtures/asterisk-22/queue_log")


@pytest.mark.skipif(not FIXTURE.exists(), reason="Asterisk 22 fixture not present")
def test_real_asterisk_queue_log() -> None:
    load = load_history(FIXTURE, interval_seconds=900)
    assert load.format is HistoryFormat.QUEUE_LOG
    assert load.malformed == 0
    assert {r.queue for r in load.records} == {"baseline"}
    assert sum(r.offered for r in load.records) == 120
    assert sum(r.answered for r in load.records) == 106
    assert sum(r.abandoned for r in load.records) == 14
    first = load.records[0]
    assert first.start == datetime(2026, 11, 22, 7, 30, tzinfo=UTC)
    assert first.handle_seconds > 0 and first.wait_seconds > 0


def test_queue_log_events_and_malformed_lines_are_counted() -> None:
    lines = [
        "1700000000|NONE|NONE|NONE|QUEUESTART|",
        "1700000000|c1|support|NONE|ENTERQUEUE||5551000|1",
        "1700000010|c1|support|Agent 1|CONNECT|10|c1b|2",
        "1700000100|c1|support|Agent 1|COMPLETECALLER|10|90|1",
        "1700000020|c2|support|NONE|ENTERQUEUE||5551001|1",
        "1700000200|c2|support|Agent 2|RINGNOANSWER|15000",
        "1700000220|c2|support|Agent 2|CONNECT|200|c2b|3",
        "1700000400|c2|support|Agent 2|BLINDTRANSFER|600|from-internal|200|180|1",
        "1700000030|c3|support|NONE|ENTERQUEUE||5551002|2",
        "1700000060|c3|support|NONE|ABANDON|2|2|30",
        "1700000040|c4|support|NONE|ENTERQUEUE||5551003|3",
        "1700000340|c4|support|NONE|EXITWITHTIMEOUT|1|3|300",
        "1700000050|c5|support|NONE|ENTERQUEUE||5551004|3",
        "1700000055|c5|support|NONE|EXITWITHKEY|5|1|3|5",
        "garbage line without pipes",
        "notanumber|c6|support|NONE|ENTERQUEUE||1|1",
        "1700000060|c7|support|Agent 1|CONNECT|abc|x|1",
        "1700000060|c8|support|Agent 1|COMPLETEAGENT|5",
        "",
    ]
    load = parse_queue_log(lines, interval_seconds=900, target_seconds=60, wrapup_seconds=10)
    assert load.malformed == 4
    assert "line 15" in load.malformed_examples[0]
    (rec,) = load.records
    assert rec.start == datetime(2023, 11, 14, 22, 0, tzinfo=UTC)
    assert (rec.offered, rec.answered, rec.abandoned) == (5, 2, 1)
    assert rec.answered_within_target == 1  # 10 s yes, 200 s no
    assert rec.handle_seconds == 90 + 10 + 180 + 10
    assert rec.wait_seconds == 210
    assert load.ignored_events == 2


def test_queue_log_local_time_zone() -> None:
    tz = timezone(timedelta(hours=2))
    load = parse_queue_log(["1700000000|c1|q|NONE|ENTERQUEUE||1|1"], interval_seconds=1800, tz=tz)
    assert load.records[0].start == datetime(2023, 11, 15, 0, 0, tzinfo=tz)


def test_interval_csv_round_trip_and_bad_rows(tmp_path: Path) -> None:
    records = seasonal_history(weeks=1)[:20]
    buf = io.StringIO()
    write_interval_csv(records, buf)
    text = buf.getvalue()
    text += "not-a-date,900,sales,1,1,0,1,120,100,5\n"
    text += "2025-01-06T08:00:00,900,sales,1,1,0,1,120,100,5\n"  # no UTC offset
    text += "2025-01-06T08:00:00+01:00,900,sales,-3,1,0,1,120,100,5\n"
    path = tmp_path / "h.csv"
    path.write_text(text)
    load = load_history(path)
    assert load.format is HistoryFormat.CSV
    assert list(load.records) == records
    assert load.malformed == 3
    assert "malformed" in load.summary()


def test_unusable_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot read"):
        load_history(tmp_path / "missing.csv")
    odd = tmp_path / "odd.txt"
    odd.write_text("hello world\n")
    with pytest.raises(HistoryError, match="unknown history format"):
        load_history(odd)
    with pytest.raises(HistoryError, match="lacks columns"):
        parse_interval_csv("interval_start,queue\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789|abcENTRQUOMPLTAB.\t -", max_size=60), max_size=30))
def test_queue_log_parser_never_raises_on_garbage(lines: list[str]) -> None:
    load = parse_queue_log(lines)
    assert load.malformed + load.ignored_events <= load.lines
    assert all(r.offered >= r.answered + r.abandoned for r in load.records)


def test_absurd_timestamps_are_malformed_not_fatal() -> None:
    load = parse_queue_log(
        ["99999999999999999999|c1|q|NONE|ENTERQUEUE||1|1", "-5|c2|q|NONE|ENTERQUEUE||1|1"]
    )
    assert load.malformed == 2 and load.records == ()


def test_queue_log_partial_interval_is_marked_and_warned() -> None:
    # The log runs 08:03:20 to 08:09:55 inside the 08:00-08:30 interval.
    t0 = 1_700_035_200  # 2023-11-15 08:00:00 UTC
    lines = [f"{t0 + 200}|NONE|NONE|NONE|QUEUESTART|"]
    for i in range(12):
        e = t0 + 200 + 30 * i
        lines += [
            f"{e}|c{i}|q|NONE|ENTERQUEUE||1|1",
            f"{e + 5}|c{i}|q|A|CONNECT|5|x|1",
            f"{e + 65}|c{i}|q|A|COMPLETECALLER|5|60|1",
        ]
    load = parse_queue_log(lines, interval_seconds=1800)
    (rec,) = load.records
    assert rec.observed_seconds == 396  # last line - first line + 1 s
    assert any("part of this interval" in w and "6 of 30 min" in w for w in load.warnings)
    assert any("talk time only" in w for w in load.warnings)
    from forecasting.arrivals import to_grid

    grid = to_grid("q", load.records, 1800, UTC)
    assert grid.calls.sum() == pytest.approx(12 * 1800 / 396)
    with_wrapup = parse_queue_log(lines, interval_seconds=1800, wrapup_seconds=10)
    assert not any("talk time only" in w for w in with_wrapup.warnings)
    assert with_wrapup.records[0].handle_seconds == 12 * 70


def test_zero_handle_rows_are_listed_with_their_lines(tmp_path: Path) -> None:
    records = seasonal_history(weeks=1)[:5]
    buf = io.StringIO()
    write_interval_csv(records, buf)
    lines = buf.getvalue().splitlines()
    cols = lines[3].split(",")
    cols[8] = "0"
    lines[3] = ",".join(cols)
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    zero = load_history(path).zero_handle_time()
    assert [r.line for r in zero] == [4]
