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
    # The unknown key lists every key a queue may have: only its start is fixed.
    unknown = f"{config}: queues[support].colour: unknown key (expected one of "
    assert lines[3].startswith(unknown + "announce_period_seconds, "), lines[3]
    assert ", greeting, " in lines[3] and lines[3].endswith(", wrap_up_seconds)")
    assert lines[:3] + lines[4:-1] == [
        f"{config}: ami.port: 99999 is out of range (expected an integer from 0 to 65535)",
        f'{config}: wallboard.timezone: "Europe/Atlantis" is not a known time zone '
        '(expected an IANA time zone such as "Europe/Paris" or "UTC")',
        f'{config}: queues[support].wrap_up_seconds: "ten" is a string '
        "(expected an integer from 0 to 3600)",
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
        'queue=sales)\n same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)\n'
        ' same => n,GotoIf($["${ACD_RESULT}" = ""]?fallback)',
        'queue=sales)\n same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)\n'
        " same => n,NoOp(forgot the test)",
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


def with_data_dir(asterisk_dir: Path, data: Path, *, installed: bool = True) -> Path:
    """Point the copy's asterisk.conf at ``data`` as Asterisk's data directory
    (sounds, moh), so nothing depends on what this machine has installed;
    ``installed=False``: a machine without Asterisk (no such directory)."""
    if installed:
        data.mkdir(exist_ok=True)
    (asterisk_dir / "asterisk.conf").write_text(
        f"[directories](!)\nastdatadir => {data}\n", encoding="utf-8"
    )
    return data


def test_answered_calls_must_not_reach_the_fallback(asterisk_dir: Path) -> None:
    conf = asterisk_dir / "extensions.conf"
    guard = ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)\n'
    result_test = ' same => n,GotoIf($["${ACD_RESULT}" = ""]?fallback)\n'
    # sales: no guard at all; billing: the guard comes after the ACD_RESULT test.
    edit(conf, "queue=sales)\n" + guard, "queue=sales)\n")
    edit(conf, "queue=billing)\n" + guard + result_test, "queue=billing)\n" + result_test + guard)
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    for exten, queue in (("5001", "sales"), ("5002", "billing")):
        assert (
            f"from-callers,{exten},2: queue {queue}: an answered call goes on to "
            f"Queue({queue}-fallback) if the ACD stops during the conversation: nothing tests "
            "DIALSTATUS = ANSWER before ACD_RESULT (expected same => n,GotoIf("
            '$["${DIALSTATUS}" = "ANSWER"]?done) right after the AGI, before the ACD_RESULT '
            "test, and a label n(done),Hangup())"
        ) in result.stderr
    assert "queue support" not in result.stderr
    assert "2 problems" in result.stderr


def test_answered_guard_must_jump_to_a_label_of_the_extension(asterisk_dir: Path) -> None:
    edit(
        asterisk_dir / "extensions.conf",
        'queue=support)\n same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
        'queue=support)\n same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?finished)',
    )
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        "from-callers,5000,3: queue support: the DIALSTATUS = ANSWER test jumps to label "
        "'finished', which this extension does not have"
    ) in result.stderr


def test_prompts_nothing_ships_are_reported(asterisk_dir: Path, tmp_path: Path) -> None:
    with_data_dir(asterisk_dir, tmp_path / "data", installed=False)
    (asterisk_dir / "sounds" / "en" / "acd-support-menu.wav").unlink()
    config = tmp_path / "acd.toml"
    text = (ROOT / "config" / "acd.toml").read_text(encoding="utf-8")
    text = text.replace('greeting = "acd-welcome-support"', 'greeting = "acd-welcome-suport"')
    text = text.replace(
        'name = "sales"\nservice_level_seconds',
        'name = "sales"\ngreeting = "queue-periodic-announce"\nservice_level_seconds',
    )
    config.write_text(text, encoding="utf-8")
    result = acd("check", "--config", str(config), "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    sounds = asterisk_dir / "sounds" / "en"
    assert (
        f"{config}: queues[support].greeting: prompt 'acd-welcome-suport' not found in "
        f"Asterisk's core sounds or {sounds} (expected {sounds}/acd-welcome-suport.wav, "
        f"installed into {tmp_path}/data/sounds/en/)"
    ) in result.stderr
    assert f"{config}: queues[support].menu_prompt: prompt 'acd-support-menu' not found" in (
        result.stderr
    )
    # A core sound, and a prompt that ships (acd-closed): not reported.
    assert "queue-periodic-announce" not in result.stderr
    assert "acd-closed" not in result.stderr
    assert "2 problems" in result.stderr


def test_prompt_installed_in_asterisks_sounds_directory(
    asterisk_dir: Path, tmp_path: Path
) -> None:
    data = with_data_dir(asterisk_dir, tmp_path / "data")
    (data / "moh").mkdir()
    (data / "moh" / "macroform-cold_day.gsm").write_bytes(b"\0" * 33)
    (data / "sounds" / "en").mkdir(parents=True)
    (data / "sounds" / "en" / "welcome-2026.gsm").write_bytes(b"\0" * 33)
    musiconhold = asterisk_dir / "musiconhold.conf"
    edit(musiconhold, "directory = /var/lib/asterisk/moh", f"directory = {data}/moh")
    config = tmp_path / "acd.toml"
    text = (ROOT / "config" / "acd.toml").read_text(encoding="utf-8")
    config.write_text(
        text.replace('greeting = "acd-welcome-support"', 'greeting = "welcome-2026"'),
        encoding="utf-8",
    )
    result = acd("check", "--config", str(config), "--asterisk", str(asterisk_dir))
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    # Gone from this machine's Asterisk: it says where the file belongs.
    (data / "sounds" / "en" / "welcome-2026.gsm").unlink()
    result = acd("check", "--config", str(config), "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        f"{config}: queues[support].greeting: prompt 'welcome-2026' not found in Asterisk's "
        f"core sounds or {asterisk_dir}/sounds/en or {data}/sounds "
        f"(expected {data}/sounds/en/welcome-2026.wav)"
    ) in result.stderr


def test_music_class_without_files(asterisk_dir: Path, tmp_path: Path) -> None:
    data = with_data_dir(asterisk_dir, tmp_path / "data")
    musiconhold = asterisk_dir / "musiconhold.conf"
    # The stock directory of this "install" is missing: callers would hear silence.
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        f"{musiconhold}: default.directory: music class 'default': /var/lib/asterisk/moh does "
        "not exist on this machine, so Asterisk does not load the class and callers wait in "
        f"silence (expected that directory with sound files, or directory = {data}/moh)"
    ) in result.stderr
    # Relative, and empty: a warning for the path, a problem for the files.
    (data / "moh").mkdir()
    (data / "moh" / ".hidden.wav").write_bytes(b"")
    edit(musiconhold, "directory = /var/lib/asterisk/moh", "directory = moh")
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (
        f"warning: {musiconhold}: default.directory: music class 'default': directory 'moh' "
        "is relative to Asterisk's data directory (astdatadir)"
    ) in result.stderr
    assert (
        f"{musiconhold}: default.directory: music class 'default': {data}/moh has no files, "
        "so Asterisk does not load the class and callers wait in silence"
    ) in result.stderr
    # With a file it loads.
    (data / "moh" / "reno_project-system.wav").write_bytes(b"\0" * 44)
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 0, result.stderr


def test_dialplan_playing_a_sound_nothing_has_is_a_warning(asterisk_dir: Path) -> None:
    edit(
        asterisk_dir / "extensions.conf",
        "Playback(im-sorry&pls-try-call-later)",
        "Playback(im-sorry&cannot-complete-temp-error)",
    )
    result = acd("check", "--config", "config/acd.toml", "--asterisk", str(asterisk_dir))
    assert result.returncode == 0, result.stderr
    assert (
        "agents,acd-unavailable,2: plays 'cannot-complete-temp-error', which is neither a core "
        "sound the ACD knows of nor a file in"
    ) in result.stderr


def _with_callbacks_and_survey(tmp_path: Path) -> Path:
    config = tmp_path / "acd.toml"
    text = (ROOT / "config" / "acd.toml").read_text(encoding="utf-8")
    text = text.replace(
        'name = "sales"\nservice_level_seconds',
        'name = "sales"\nsurvey = true\ncallback = { enabled = true }\nservice_level_seconds',
    )
    assert "survey = true" in text
    config.write_text(text, encoding="utf-8")
    return config


def test_callbacks_and_survey_need_their_context_and_prompts(
    asterisk_dir: Path, tmp_path: Path
) -> None:
    with_data_dir(asterisk_dir, tmp_path / "data", installed=False)
    config = _with_callbacks_and_survey(tmp_path)
    # the shipped files have the callback context and every prompt
    assert acd("check", "--config", str(config), "--asterisk", str(asterisk_dir)).returncode == 0
    edit(asterisk_dir / "extensions.conf", "[acd-callback]", "[acd-callbacks-old]")
    (asterisk_dir / "sounds" / "en" / "acd-survey.wav").unlink()
    result = acd("check", "--config", str(config), "--asterisk", str(asterisk_dir))
    assert result.returncode == 2
    assert (f"{config}: queues[sales].callback.context: context 'acd-callback' does not "
            "exist in") in result.stderr
    assert f"{config}: queues[sales].survey_prompt: prompt 'acd-survey' not found" in (
        result.stderr
    )
