"""The Asterisk .conf reader: templates, comments, includes, the dialplan."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.asterisk_conf import (
    AsteriskConfError,
    expand_globals,
    load_conf,
    parse_conf,
    parse_dialplan,
    split_app_args,
)

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
