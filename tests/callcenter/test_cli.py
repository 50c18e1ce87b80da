"""The `acd` command's failure modes: clear one-line errors, the right exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.cli import main

ROOT = Path(__file__).resolve().parents[2]


def config_with_redis(tmp_path: Path, url: str) -> Path:
    text = (ROOT / "config" / "acd.toml").read_text(encoding="utf-8")
    text = text.replace('url = ""', f'url = "{url}"', 1)
    path = tmp_path / "acd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unreachable_redis_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_with_redis(tmp_path, "redis://127.0.0.1:1/0")
    assert main(["run", "--config", str(path), "--no-wallboard"]) == 1
    err = capsys.readouterr().err
    assert "cannot start" in err and "redis://127.0.0.1:1/0" in err
    assert "Traceback" not in err
    code = main(["export", "intervals", "--config", str(path), "--from", "2026-11-01",
                 "--to", "2026-11-02", "--out", str(tmp_path / "out.csv")])
    assert code == 1
    assert not (tmp_path / "out.csv").exists()


def test_missing_or_broken_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[ami\nport = 5038\n", encoding="utf-8")
    assert main(["demo", "--config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "Traceback" not in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--port", "eighty"])
    assert exc.value.code == 2
    assert "invalid int value" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_a_redis_password_never_reaches_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_with_redis(tmp_path, "redis://acd:hunter2@127.0.0.1:1/0")
    assert main(["run", "--config", str(path), "--no-wallboard"]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "redis://acd:***@127.0.0.1:1/0" in err
