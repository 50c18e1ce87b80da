"""``acd check``: the messages a user sees for broken files and for an Asterisk
configuration that does not match, run through the real console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_ASTERISK = ROOT / "asterisk"


def acd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def asterisk_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped Asterisk configuration to break."""
    target = tmp_path / "asterisk"
    shutil.copytree(SHIPPED_ASTERISK, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("name", ["acd.toml", "demo.toml"])
def test_shipped_files_pass_the_cross_check(name: str) -> None:
    result = acd("check", "--config", f"config/{name}", "--asterisk", "asterisk/")
    assert result.returncode == 0, result.stderr
    assert f"config/{name}: OK" in result.stdout
    assert "Asterisk configuration in asterisk/: consistent" in result.stdout
    assert "warning" not in result.stderr


def test_several_problems_all_listed_exit_2_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        """
[ami]
port = 99999
secret = "do-not-print-me"
[wallboard]
timezone = "Europe/Atlantis"
[[queues]]
name = "support"
wrap_up_seconds = "ten"
overflow_queue = "nowhere"
max_wait_seconds = 60
colour = "blue"
""",
        encoding="utf-8",
    )
    result = acd("check", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"{config}: 5 problems"
    assert lines[:-1] == [
        f"{config}: ami.port: 99999 is out of range (expected an integer from 0 to 65535)",
        f'{config}: wallboard.timezone: "Europe/Atlantis" is not a known time zone '
        '(expected an IANA time zone such as "Europe/Paris" or "UTC")',
        f'{config}: queues[support].wrap_up_seconds: "ten" is a string '
        "(expected an integer from 0 to 3600)",
        f"{config}: queues[support].colour: unknown key (expected one of "
        "announce_period_seconds, auto_pause_after_misses, closed_message, closed_target, "
        "exit_target, greeting, holidays, hours, max_length, max_wait_seconds, menu, "
        "menu_prompt, music_class, name, overflow_queue, priority, relaxation, "
        "required_skills, ring_timeout_seconds, service_level_seconds, "
        "short_abandon_seconds, strategy, timezone, wrap_up_seconds)",
        f'{config}: queues[support].overflow_queue: unknown queue "nowhere" '
        "(expected one of support)",
    ]
    assert "do-not-print-me" not in result.stderr + result.stdout


def test_syntax_error_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[ami]\nhost = "x\n', encoding="utf-8")
    result = acd("check", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{config}: line 2, column")
    assert "Traceback" not in result.stderr


def test_missing_file_exit_2() -> None:
    result = acd("check", "--config", "does/not/exist.toml")
    assert result.returncode == 2
    assert "does/not/exist.toml: cannot read the file" in result.stderr
    assert "Traceback" not in result.stderr


def test_environment_override_reaches_the_cross_check() -> None:
    result = acd(
        "check",
        "--config",
        "config/acd.toml",
        "--asterisk",
        "asterisk/",
        env={"ACD_AMI_PORT": "5039", "ACD_AMI_SECRET": "not-the-one-in-manager-conf"},
    )
    assert result.returncode == 2
    assert (
        "asterisk/manager.conf: general.port: Asterisk listens on port 5038 but "
        "config/acd.toml has ami.port = 5039 (expected the same port in both)"
    ) in result.stderr
    assert "asterisk/manager.conf: acd.secret: does not match the AMI secret" in result.stderr
    assert "not-the-one-in-manager-conf" not in result.stderr
    assert "change-me-acd-ami-secret" not in result.stderr


def test_mismatched_ami_port(asterisk_dir: Path) -> None:
    edit(asterisk_dir / "manager.conf", "port = 5038", "port = 5040")
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert f"{asterisk_dir}/manager.conf: general.port: Asterisk listens on port 5040" in (
        result.stderr
    )


def test_missing_ami_user_and_permissions(asterisk_dir: Path) -> None:
    edit(
        asterisk_dir / "manager.conf",
        "write = system,call,agent,originate,reporting,command",
        "write = call",
    )
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert "acd.write: lacks system,originate,reporting,command" in result.stderr


def test_missing_endpoint(asterisk_dir: Path) -> None:
    edit(asterisk_dir / "pjsip.conf", "[1003](agent-endpoint)", "[1003-old](agent-endpoint)")
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        f"{asterisk_dir}/pjsip.conf: [1003]: no PJSIP endpoint for agent 1003 "
        "(Lucas Ferreira) of config/acd.toml (expected a section [1003] with type = endpoint)"
    ) in result.stderr


def test_missing_fallback_queue(asterisk_dir: Path) -> None:
    edit(asterisk_dir / "queues.conf", "[billing-fallback](fallback)", "[billing-old](fallback)")
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        f"{asterisk_dir}/queues.conf: [billing-fallback]: no fallback queue for queue billing"
        in (result.stderr)
    )
    # The dialplan still names it: both sides are reported.
    assert "Traceback" not in result.stderr


def test_dialplan_without_fall_through(asterisk_dir: Path) -> None:
    edit(
        asterisk_dir / "extensions.conf",
        ' same => n,AGI(${ACD_AGI}/inbound?queue=sales)\n same => n,GotoIf($["${ACD_RESULT}" = '
        '""]?fallback)',
        " same => n,AGI(${ACD_AGI}/inbound?queue=sales)\n same => n,NoOp(forgot the test)",
    )
    edit(asterisk_dir / "extensions.conf", "Queue(billing-fallback,", "Queue(support-fallback,")
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        "from-callers,5001,2: queue sales: nothing tests for an empty ACD_RESULT" in result.stderr
    )
    assert (
        "from-callers,5002,2: queue billing: the fall-through never reaches "
        "Queue(billing-fallback) (it uses Queue(support-fallback))"
    ) in result.stderr


def test_dialplan_points_at_another_fastagi(asterisk_dir: Path) -> None:
    edit(
        asterisk_dir / "extensions.conf",
        "ACD_AGI = agi://127.0.0.1:4573",
        "ACD_AGI = agi://10.9.9.9:4600",
    )
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        "from-callers,5000,2: AGI goes to host '10.9.9.9' but the ACD listens on "
        "agi.host = '127.0.0.1'"
    ) in result.stderr
    assert "AGI goes to port 4600 but the ACD listens on agi.port = 4573" in result.stderr


def test_missing_music_class_and_disabled_module(asterisk_dir: Path) -> None:
    edit(asterisk_dir / "musiconhold.conf", "[default]", "[classical]")
    edit(asterisk_dir / "modules.conf", "noload = chan_mgcp.so", "noload = res_agi.so")
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        "config/acd.toml: queues[support].music_class: music class 'default' is not defined"
        in result.stderr
    )
    assert "modules.noload: res_agi.so is switched off, but the ACD needs it" in result.stderr


def test_missing_directory_and_files(tmp_path: Path) -> None:
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(tmp_path))
    assert result.returncode == 2
    for name in ("manager.conf", "extensions.conf", "pjsip.conf", "queues.conf"):
        assert f"{tmp_path}/{name}: is missing" in result.stderr


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    config = tmp_path / "lonely.toml"
    config.write_text(
        '[[queues]]\nname = "support"\n[[agents]]\nid = "1"\nname = "A"\n', encoding="utf-8"
    )
    result = acd("check", "--config", str(config))
    assert result.returncode == 0
    assert f"warning: {config}: agents[1].queues: serves no queue" in result.stderr
    assert f"warning: {config}: ami.secret: no AMI secret is set" in result.stderr
