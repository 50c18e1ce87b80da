"""The Asterisk .conf reader: templates, comments, includes, the dialplan;
where Asterisk finds a sound; the prompts the product ships."""

from __future__ import annotations

import ast
import wave
from pathlib import Path

import pytest

from acd.config.asterisk import (
    CORE_SOUNDS,
    DEFAULT_DATA_DIR,
    AsteriskConfError,
    data_dir,
    expand_globals,
    find_sound,
    load_conf,
    parse_conf,
    parse_dialplan,
    split_app_args,
)
from acd.config.check import ACD_PROMPTS, configured_prompts
from acd.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_templates_are_inherited_in_order_and_overridden() -> None:
    conf = parse_conf(
        """
[base](!)
type = endpoint
context = agents
allow = ulaw

[codecs](!)
allow = opus

[1001](base,codecs)
context = special ; own setting wins
callerid = "Zoë" <1001>

[1001](!)  ; a template of the same name is skipped by find()
type = aor
"""
    )
    endpoint = conf.find("1001", type="endpoint")
    assert endpoint is not None
    assert endpoint.templates == ("base", "codecs")
    assert endpoint.get("context") == "special"
    assert endpoint.get_all("allow") == ["ulaw", "opus"]
    assert endpoint.get("callerid") == '"Zoë" <1001>'
    assert conf.find("1001", type="aor") is None
    assert [s.is_template for s in conf.named("1001")] == [False, True]


def test_same_name_sections_of_different_types() -> None:
    conf = load_conf(ROOT / "asterisk" / "pjsip.conf")
    assert conf.find("1001", type="endpoint") is not None
    assert conf.find("1001", type="auth") is not None
    aor = conf.find("1001", type="aor")
    assert aor is not None and aor.get("max_contacts") == "1"


def test_comments_escapes_and_block_comments() -> None:
    conf = parse_conf(
        """
;------------------ a divider, not a block comment
[general]
a = 1 ; trailing comment
b = x\\;y
;-- a block comment
c = hidden
   --;
d = 4;-- an inline block comment --;2
"""
    )
    general = conf.find("general")
    assert general is not None
    assert general.get("a") == "1"
    assert general.get("b") == "x;y"
    assert general.get("c") is None
    assert general.get("d") == "42"  # text after the block comment is kept


def test_includes_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "agents.conf").write_text("[2001]\ntype = endpoint\n")
    main = tmp_path / "pjsip.conf"
    main.write_text("[1001]\ntype = endpoint\n#include extra/*.conf\n#tryinclude missing.conf\n")
    conf = load_conf(main)
    assert [s.name for s in conf.sections] == ["1001", "2001"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("key = value\n", "setting outside of any [section]"),
        ("[a]\njust words\n", "expected 'key = value'"),
        ("[a](missing)\n", "inherits from template 'missing'"),
        ("[a\n", "malformed section header"),
        ("[a]\n;-- never closed\n", "block comment"),
        ("[a]\n#exec /bin/true\n", "#exec is not supported"),
    ],
)
def test_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(AsteriskConfError) as info:
        parse_conf(text, name="x.conf")
    assert message in info.value.reason
    assert str(info.value).startswith("x.conf:")


def test_dialplan_priorities_labels_and_same() -> None:
    conf = parse_conf(
        """
[globals]
HOST = 10.0.0.2
ACD = agi://${HOST}:4573

[from-callers]
include => other
exten => 5000,1,NoOp(hello, world)
 same => n,AGI(${ACD}/inbound?queue=support)
 same => n(fallback),Queue(support-fallback,,,,60)
exten => 5001,hint,PJSIP/5001
exten => 5001,1,Answer
"""
    )
    dialplan = parse_dialplan(conf)
    context = dialplan.contexts["from-callers"]
    assert context.includes == ("other",)
    steps = context.extensions["5000"]
    assert [(s.number, s.label, s.app) for s in steps] == [
        (1, "", "NoOp"),
        (2, "", "AGI"),
        (3, "fallback", "Queue"),
    ]
    assert steps[0].args == ["hello", "world"]
    assert expand_globals(steps[1].args[0], dialplan.globals) == (
        "agi://10.0.0.2:4573/inbound?queue=support"
    )
    assert [s.app for s in context.extensions["5001"]] == ["Answer"]


def test_split_app_args_respects_nesting_and_quotes() -> None:
    assert split_app_args('$["${A}" = "x,y"]?yes,1') == ['$["${A}" = "x,y"]?yes', "1"]
    assert split_app_args("PJSIP/${EXTEN},30,${IF($[1]?a:b)}") == [
        "PJSIP/${EXTEN}",
        "30",
        "${IF($[1]?a:b)}",
    ]
    assert split_app_args("") == [""]


def test_shipped_dialplan_parses() -> None:
    dialplan = parse_dialplan(load_conf(ROOT / "asterisk" / "extensions.conf"))
    assert {"from-callers", "agents", "acd-exit"} <= set(dialplan.contexts)
    assert "*41" in dialplan.contexts["agents"].extensions


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 16)
    return path


def test_find_sound_follows_asterisks_language_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "sounds", tmp_path / "b" / "sounds"
    english = _touch(second / "en" / "acd-closed.gsm")
    assert find_sound("acd-closed", [first, second]) == english
    # The channel's language first, then no language, then en (main/file.c).
    french = _touch(first / "fr" / "acd-closed.wav")
    bare = _touch(second / "acd-closed.ulaw")
    assert find_sound("acd-closed", [first, second], language="fr") == french
    french.unlink()
    assert find_sound("acd-closed", [first, second], language="fr") == bare
    # Subdirectories, as in digits/1; descriptions and longer names are no match.
    digit = _touch(first / "en" / "digits" / "1.gsm")
    assert find_sound("digits/1", [first]) == digit
    _touch(first / "en" / "acd-welcome.txt")
    _touch(first / "en" / "acd-welcome-support.wav")
    _touch(first / "en" / "acd-welcome.old.wav")
    assert find_sound("acd-welcome", [first]) is None
    # An absolute name is a file of its own.
    own = _touch(tmp_path / "opt" / "greeting.wav")
    assert find_sound(str(tmp_path / "opt" / "greeting"), []) == own
    assert find_sound(str(tmp_path / "opt" / "nothing"), [first]) is None


def test_data_dir_from_asterisk_conf(tmp_path: Path) -> None:
    assert data_dir(tmp_path) == DEFAULT_DATA_DIR
    # The stock asterisk.conf marks [directories] as a template; Asterisk reads it anyway.
    (tmp_path / "asterisk.conf").write_text(
        "[directories](!)\nastetcdir => /etc/asterisk\nastdatadir => /usr/share/asterisk\n",
        encoding="utf-8",
    )
    assert data_dir(tmp_path) == Path("/usr/share/asterisk")


def _literal_prompts(source: Path) -> set[str]:
    """String constants passed to stream_file(...) / get_data(...) in ``source``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("stream_file", "get_data")
            and node.args
        ):
            found |= {
                c.value
                for c in ast.walk(node.args[0])
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    return found


def test_every_prompt_the_acd_plays_is_a_known_core_sound() -> None:
    from acd.agents import PROMPTS

    played = set(PROMPTS.values())
    for module in ("call_flow.py", "agents.py"):
        played |= _literal_prompts(ROOT / "acd" / module)
    assert played, "the scan found no prompt at all"
    assert played <= set(ACD_PROMPTS), sorted(played - set(ACD_PROMPTS))
    assert set(ACD_PROMPTS) <= CORE_SOUNDS


def test_shipped_dialplan_plays_only_core_sounds() -> None:
    dialplan = parse_dialplan(load_conf(ROOT / "asterisk" / "extensions.conf"))
    played = {
        name
        for _, step in dialplan.priorities()
        if step.app.lower() in ("playback", "background")
        for name in step.args[0].split("&")
    }
    assert played and played <= CORE_SOUNDS, sorted(played - CORE_SOUNDS)


@pytest.mark.parametrize("name", ["acd.toml", "demo.toml"])
def test_shipped_prompts_are_8khz_mono_wav(name: str) -> None:
    script = (ROOT / "asterisk" / "sounds" / "make-prompts.sh").read_text(encoding="utf-8")
    for key, prompt in configured_prompts(load_config(str(ROOT / "config" / name))):
        if prompt in CORE_SOUNDS:
            continue
        path = ROOT / "asterisk" / "sounds" / "en" / f"{prompt}.wav"
        assert path.is_file(), f"{key}: {prompt} is not shipped"
        with wave.open(str(path)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (
                8000,
                1,
                2,
            ), key
            assert 0.5 < audio.getnframes() / 8000 < 15, key
        assert f"finish {prompt} " in script, f"make-prompts.sh does not make {prompt}"
