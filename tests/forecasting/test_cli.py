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
    assert "planning 2/2" in captured.err
    assert "2025-02-03" in captured.out and "sched agent-h" in captured.out
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


def test_plan_from_queue_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture = Path("/work/shared/fixtures/asterisk-22/queue_log")
    if not fixture.exists():
        pytest.skip("Asterisk 22 fixture not present")
    out = tmp_path / "plan.csv"
    argv = ["forecast", "plan", "--history", str(fixture), "--start", "2026-11-29"]
    argv += ["--days", "1", "--interval", "900", "--out", str(out)]
    assert main(argv) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert any(int(r["agents_required"]) > 0 for r in rows)


def test_backtest_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = _history(tmp_path)
    assert main(["forecast", "backtest", "--history", str(history), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["queue"] == "sales"
    assert result["model_wape"] < result["naive_wape"]


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


def test_simulate_command(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*ERLANG, "--agents", "14", "--target-seconds", "20", "--sim-calls", "20000", "--json"]
    argv[1] = "simulate"
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["simulation"]["service_level"] - out["erlang"]["service_level"]) < 0.05
