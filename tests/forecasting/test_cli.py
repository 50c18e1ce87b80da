"""`acd forecast ...` through the real console-script entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from callcenter.cli import main
from forecasting.history import write_interval_csv
from tests.forecasting.synthetic import seasonal_history

ERLANG = ["forecast", "erlang", "--calls", "100", "--interval", "1800", "--aht", "180"]


def test_erlang_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*ERLANG, "--target-seconds", "20", "--service-level", "0.8", "--shrinkage", "0.3"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["traffic_erlangs"] == 10.0
    assert out["agents"] == 14
    assert out["agents_scheduled"] == 20
    assert out["service_level"] == pytest.approx(0.888, abs=1e-3)
    assert out["asa_seconds"] == pytest.approx(7.8, abs=0.05)
    assert out["probability_wait"] == pytest.approx(0.174, abs=1e-3)
    assert out["occupancy"] == pytest.approx(10 / 14)
    assert "probability_abandon" not in out


def test_erlang_with_patience_reports_abandonment(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*ERLANG, "--target-seconds", "20", "--patience", "120", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "erlang_a"
    assert 0 < out["probability_abandon"] < 0.2
    assert out["agents"] <= 14


def test_erlang_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ERLANG, "--target-seconds", "20"]) == 0
    out = capsys.readouterr().out
    assert "agents on the phones" in out and "14" in out and "88.8%" in out


def test_unstable_staffing_gives_null_asa_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ERLANG, "--agents", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["service_level"] == 0.0 and out["asa_seconds"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--service-level", "1"], "service level"),
        (["--shrinkage", "-0.1"], "shrinkage"),
        (["--target-seconds", "nan"], "finite"),
        (["--agents", "-2"], "agents"),
    ],
)
def test_bad_arguments_exit_2_with_message(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main([*ERLANG, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unparsable_number_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["forecast", "erlang", "--calls", "many", "--aht", "180"])
    assert info.value.code == 2
    assert "invalid float value" in capsys.readouterr().err


def _history(tmp_path: Path) -> Path:
    buf = io.StringIO()
    write_interval_csv(seasonal_history(seed=3, weeks=4), buf)
    path = tmp_path / "history.csv"
    path.write_text(buf.getvalue() + "broken,row\n")
    return path


def test_plan_writes_csv_png_html_and_daily_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(tmp_path)
    out, png, page = tmp_path / "plan.csv", tmp_path / "plan.png", tmp_path / "plan.html"
    argv = ["forecast", "plan", "--history", str(history), "--start", "2025-02-03", "--days", "2"]
    argv += ["--out", str(out), "--chart", str(png), "--html", str(page)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "1 malformed" in captured.err
    assert "sales: 80% in 120 s (from history)" in captured.err
    assert "fixed offset +01:00" in captured.err  # no --timezone: said, not silent
    assert "2025-02-03" in captured.out and "sched agent-h" in captured.out
    assert "2025-W06 (2 days)" in captured.out and "FTE" in captured.out
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2 * 48
    busy = [r for r in rows if float(r["forecast_calls"]) > 0]
    assert busy and all(int(r["agents_scheduled"]) >= int(r["agents_required"]) for r in busy)
    assert all(float(r["service_level"]) >= 0.8 for r in busy)
    assert all(float(r["occupancy"]) <= 0.85 for r in busy)
    night = rows[0]
    assert night["agents_required"] == "0" and night["interval_start"].endswith("+01:00")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text()
    assert "<svg" in text and "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in text
    assert "Mon 03 Feb" in text and "12:00" in text  # a time axis
    assert "SL target 80%" in text and "Targets and settings" in text


def test_plan_from_queue_log_is_honest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture = Path("/work/shared/fixtures/asterisk-22/queue_log")
    if not fixture.exists():
        pytest.skip("Asterisk 22 fixture not present")
    out = tmp_path / "plan.csv"
    argv = ["forecast", "plan", "--history", str(fixture), "--start", "2026-11-29"]
    argv += ["--days", "1", "--interval", "1800", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "covers only part of this interval" in err
    assert "talk time only" in err
    assert "only 1 day(s) of usable history" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    peak = max(rows, key=lambda r: float(r["forecast_calls"]))
    # 120 calls in the 8 minutes the log saw are a rate of 450 per half hour,
    # which kept the 5 real agents busy: the plan must not say 2 agents.
    assert float(peak["forecast_calls"]) == pytest.approx(120 * 30 / 8, rel=0.01)
    assert int(peak["agents_required"]) >= 5
    # a weekday the log never saw is refused, not planned at 0
    argv[5] = "2026-11-30"
    assert main(argv) == 2
    assert "no monday" in capsys.readouterr().err


def test_backtest_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = _history(tmp_path)
    assert main(["forecast", "backtest", "--history", str(history), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["queue"] == "sales"
    assert result["model_wape"] < result["naive_wape"]
    assert len(result["origins"]) == 1  # 4 weeks: 2 to train, rolling over the rest
    kinds = {(s["series"], s["level"], s["method"]) for s in result["scores"]}
    assert ("aht", "week", "seasonal_average") in kinds and len(kinds) == 18
    assert main(["forecast", "backtest", "--history", str(history)]) == 0
    text = capsys.readouterr().out
    assert "calls interval" in text and "aht day" in text and "seasonal_average" in text


def test_plan_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["forecast", "plan", "--days", "1", "--out", str(tmp_path / "p.csv")]
    assert main([*base, "--history", str(tmp_path / "nope.csv"), "--start", "2025-01-01"]) == 2
    assert "cannot read" in capsys.readouterr().err
    history = _history(tmp_path)
    assert main([*base, "--history", str(history), "--start", "soon"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert (
        main(
            [*base, "--history", str(history), "--start", "2025-02-03", "--team-leader-ratio", "30"]
        )
        == 2
    )
    assert "team leader" in capsys.readouterr().err
    assert main([*base, "--history", str(history), "--start", "2024-12-01"]) == 2
    assert "before the history" in capsys.readouterr().err


def test_simulate_command(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*ERLANG, "--agents", "14", "--target-seconds", "20", "--sim-calls", "20000", "--json"]
    argv[1] = "simulate"
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["simulation"]["service_level"] - out["erlang"]["service_level"]) < 0.05


def test_simulate_refuses_bad_seed_and_spread(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["forecast", "simulate", "--calls", "100", "--aht", "180", "--agents", "14"]
    assert main([*base, "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--seed must be >= 0" in err and "Traceback" not in err
    assert main([*base, "--handle", "lognormal", "--handle-cv", "-1"]) == 2
    assert "--handle-cv" in capsys.readouterr().err


def test_error_messages_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forecast", "erlang", "--calls", "10", "--aht", "0"]) == 2
    err = capsys.readouterr().err
    assert "--aht must be > 0" in err and "aht_seconds" not in err
    assert main([*ERLANG, "--max-occupancy", "0"]) == 2
    assert "--max-occupancy" in capsys.readouterr().err


def test_erlang_and_plan_share_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ERLANG, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["shrinkage"] == 0.3 and out["max_occupancy"] == 0.85
    assert out["target_seconds"] == 120 and out["service_level_target"] == 0.8
    assert main(ERLANG) == 0
    assert "occupancy <= 85%" in capsys.readouterr().out  # printed, not hidden


def test_erlang_a_guard_rails(capsys: pytest.CaptureFixture[str]) -> None:
    big = ["forecast", "erlang", "--calls", "120000", "--interval", "3600", "--aht", "300"]
    big += ["--target-seconds", "120", "--patience", "120"]
    assert main([*big, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["traffic_erlangs"] == 10_000
    assert out["probability_abandon"] <= 0.05 and out["occupancy"] <= 0.85
    assert out["warnings"] == []
    # with the caps taken off, the recommendation is given with a warning
    assert main([*big, "--max-occupancy", "1", "--max-abandon", "1", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["occupancy"] > 0.99 and out["probability_abandon"] > 0.05
    assert "abandons" in captured.err and "occupied" in captured.err
    # a service level of 0 never means "nobody": the abandon cap still holds
    assert main([*ERLANG, "--service-level", "0", "--patience", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["agents"] >= 10 and out["probability_abandon"] <= 0.05


def test_erlang_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        *ERLANG,
        "--target-seconds",
        "20",
        "--table",
        "--agents-from",
        "11",
        "--agents-to",
        "16",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.strip()[:2].isdigit()]
    assert [int(ln.split()[0]) for ln in lines] == [11, 12, 13, 14, 15, 16]
    assert "88.8%" in next(ln for ln in lines if ln.split()[0] == "14")
    assert "recommended" in next(ln for ln in lines if ln.split()[0] == "14")
    assert main([*argv, "--json"]) == 0
    table = json.loads(capsys.readouterr().out)["table"]
    sl = [row["service_level"] for row in table]
    assert sl == sorted(sl) and len(table) == 6


def test_plan_refuses_zero_handle_time_naming_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(tmp_path)
    lines = history.read_text().splitlines()
    cols = lines[5].split(",")
    cols[8] = "0"
    lines[5] = ",".join(cols)
    history.write_text("\n".join(lines) + "\n")
    argv = ["forecast", "plan", "--history", str(history), "--start", "2025-02-03", "--days", "1"]
    assert main([*argv, "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "handle_seconds 0" in err and "line 6" in err


def test_sample_history_then_plan_and_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hist, cal = tmp_path / "h.csv", tmp_path / "cal.toml"
    argv = ["forecast", "sample-history", "--out", str(hist), "--calendar-out", str(cal)]
    assert main(argv) == 0
    capsys.readouterr()
    out = tmp_path / "plan.csv"
    argv = ["forecast", "plan", "--history", str(hist), "--timezone", "Europe/Warsaw"]
    argv += ["--calendar", str(cal), "--start", "2026-04-06", "--days", "2", "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "sales: 80% in 20 s (from history)" in err
    assert "support: 80% in 60 s" in err and "billing: 80% in 120 s" in err
    assert "Easter Monday (closed)" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    monday = [r for r in rows if r["interval_start"].startswith("2026-04-06")]
    assert monday and all(float(r["forecast_calls"]) == 0 for r in monday)
    assert {r["interval_start"][-6:] for r in rows} == {"+02:00"}
    assert {r["target_seconds"] for r in rows if r["queue"] == "sales"} == {"20"}
    assert (
        main(
            [
                "forecast",
                "backtest",
                "--history",
                str(hist),
                "--timezone",
                "Europe/Warsaw",
                "--calendar",
                str(cal),
                "--json",
            ]
        )
        == 0
    )
    results = json.loads(capsys.readouterr().out)
    assert [r["queue"] for r in results] == ["billing", "sales", "support"]
    assert all(len(r["origins"]) == 4 for r in results)


def test_shifts_command_covers_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hist, shifts = tmp_path / "h.csv", tmp_path / "shifts.toml"
    argv = ["forecast", "sample-history", "--out", str(hist), "--shifts-out", str(shifts)]
    assert main(argv) == 0
    plan = tmp_path / "plan.csv"
    argv = ["forecast", "plan", "--history", str(hist), "--timezone", "Europe/Warsaw"]
    argv += ["--start", "2026-04-08", "--days", "1", "--out", str(plan)]
    assert main(argv) == 0
    capsys.readouterr()
    out, png = tmp_path / "schedule.csv", tmp_path / "coverage.png"
    argv = ["forecast", "shifts", "--plan", str(plan), "--shifts", str(shifts), "--queue", "sales"]
    argv += ["--out", str(out), "--chart", str(png), "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # progress while it solves, on stderr (stdout stays the JSON)
    assert "solving part 1 of 1 (Wed 2026-04-08) ..." in captured.err
    assert result["status"] == "optimal"
    assert result["under_staffed_agent_hours"] == 0
    assert result["paid_hours"] <= result["greedy_paid_hours"]
    assert result["paid_hours"] >= result["required_agent_hours"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    kinds = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    assert "shift" in kinds and "break" in kinds
    assert main([*argv[:-1], "--queue", "nope"]) == 2
    assert "--queue nope is not in the plan" in capsys.readouterr().err
