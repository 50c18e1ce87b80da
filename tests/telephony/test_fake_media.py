"""The fake Asterisk's sounds and music on hold: CLI output as Asterisk 22
prints it (main/sounds.c, res/res_musiconhold.c), over a real AMI socket."""

from __future__ import annotations

import asyncio

from telephony.ami_codec import AmiMessage, AmiParser, encode_action
from telephony.fake import FakeAsterisk, FakeMedia


def test_core_show_sound() -> None:
    media = FakeMedia(sounds={"acd-closed", "queue-thereare"})
    assert media.cli("core show sound acd-closed") == [
        "Indexed Information for acd-closed:",
        "  Language en:",
        "    Format: slin",
    ]
    assert media.cli("core show sound acd-welcome-support") == [
        "ERROR: File acd-welcome-support not found in index"
    ]
    # By default every sound exists.
    everything = FakeMedia().cli("core show sound anything")
    assert everything is not None and everything[0] == "Indexed Information for anything:"


def test_moh_listings_leave_out_a_class_without_files() -> None:
    media = FakeMedia(
        moh_classes={"default": ["macroform-cold_day", "reno_project-system"], "acd-hold": []}
    )
    # res_musiconhold does not load a files class whose directory is empty.
    assert media.cli("moh show classes") == [
        "Class: default",
        "\tMode: files",
        "\tDirectory: /var/lib/asterisk/moh",
    ]
    assert media.cli("moh show files") == [
        "Class: default",
        "\tFile: /var/lib/asterisk/moh/macroform-cold_day",
        "\tFile: /var/lib/asterisk/moh/reno_project-system",
    ]
    media.moh_classes["acd-hold"] = ["jingle"]
    media.moh_directories["acd-hold"] = "/srv/moh/brand"
    assert "\tFile: /srv/moh/brand/jingle" in (media.cli("moh show files") or [])
    assert media.cli("core show version") is None


async def _command(pbx: FakeAsterisk, command: str) -> AmiMessage:
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
    parser = AmiParser()
    writer.write(encode_action("Login", "1", {"Username": "acd", "Secret": "secret"}))
    writer.write(encode_action("Command", "2", {"Command": command}))
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), 5.0)
            assert data, "AMI connection closed"
            for message in parser.feed(data):
                if message.action_id == "2":
                    return message
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_fake_asterisk_answers_media_commands_over_ami() -> None:
    async with FakeAsterisk(seed=1) as pbx:
        pbx.media.sounds = {"queue-thereare"}
        reply = await _command(pbx, "core show sound acd-closed")
        assert reply.get_all("Output") == ["ERROR: File acd-closed not found in index"]
        reply = await _command(pbx, "core show sound queue-thereare")
        assert reply.get_all("Output")[-1] == "    Format: slin"
        reply = await _command(pbx, "moh show classes")
        assert reply.get_all("Output")[0] == "Class: default"
