"""AmiClient against the fake Asterisk over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from telephony.ami_client import AmiClient
from telephony.ami_codec import AmiMessage
from telephony.errors import (
    AmiActionFailed,
    AmiLoginFailed,
    AmiNotConnected,
    AmiTimeout,
)
from telephony.fake import FakeAsterisk

SECRET = "s3cr3t-value"


@pytest.fixture
async def pbx() -> AsyncIterator[FakeAsterisk]:
    async with FakeAsterisk(ami_secret=SECRET, agi_port=1) as fake:
        yield fake


def _client(
    pbx: FakeAsterisk,
    *,
    ping_interval: float = 30.0,
    action_timeout: float = 2.0,
    reconnect_min: float = 0.02,
    reconnect_max: float = 0.1,
) -> AmiClient:
    return AmiClient(
        "127.0.0.1",
        pbx.ami_port,
        "acd",
        SECRET,
        ping_interval=ping_interval,
        action_timeout=action_timeout,
        reconnect_min=reconnect_min,
        reconnect_max=reconnect_max,
    )


async def test_login_and_action(pbx: FakeAsterisk) -> None:
    async with _client(pbx) as ami:
        assert ami.connected
        assert ami.banner == "Asterisk Call Manager/11.0.0"
        pong = await ami.action("Ping")
        assert pong.get("Ping") == "Pong"
        status = await ami.action("CoreStatus")
        assert status.get("CoreCurrentCalls") == "0"
    login = pbx.ami.actions[0]
    assert login.action == "Login"
    assert login.get("Username") == "acd" and login.get("Events") == "on"
    assert pbx.ami.actions[-1].action == "Logoff"


async def test_bad_credentials_raise_typed_error_and_do_not_retry(
    pbx: FakeAsterisk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = AmiClient("127.0.0.1", pbx.ami_port, "acd", "wrong-secret", reconnect_min=0.01)
    with pytest.raises(AmiLoginFailed, match="Authentication failed"):
        await client.start()
    await asyncio.sleep(0.1)
    assert pbx.ami.failed_logins == 1  # no retry loop behind our back
    assert not client.connected
    assert "wrong-secret" not in caplog.text
    assert "wrong-secret" not in repr(client)


async def test_unreachable_asterisk_raises_not_connected() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = AmiClient("127.0.0.1", port, "acd", SECRET, connect_timeout=1.0)
    with pytest.raises(AmiNotConnected):
        await client.start()


async def test_failed_action_raises_with_asterisk_message(pbx: FakeAsterisk) -> None:
    async with _client(pbx) as ami:
        with pytest.raises(AmiActionFailed) as info:
            await ami.action("NoSuchAction")
        assert info.value.message.startswith("Invalid/unknown command: NoSuchAction")
        with pytest.raises(AmiActionFailed, match="No such channel"):
            await ami.action("Hangup", Channel="PJSIP/nobody-00000001")
        # The connection is still usable afterwards.
        assert (await ami.action("Ping")).get("Ping") == "Pong"


async def test_action_list_collects_events_until_complete(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    pbx.add_agent("1002")
    async with _client(pbx) as ami:
        await pbx.register("1001")
        response, events = await ami.action_list("DeviceStateList")
        assert response.get("EventList") == "start"
        assert {(e.get("Device"), e.get("State")) for e in events} == {
            ("PJSIP/1001", "NOT_INUSE"),
            ("PJSIP/1002", "UNAVAILABLE"),
        }
        _, contacts = await ami.action_list("PJSIPShowContacts")
        assert [c.get("Endpoint") for c in contacts] == ["1001"]
        await pbx.unregister("1001")
        with pytest.raises(AmiActionFailed, match="No Contacts found"):
            await ami.action_list("PJSIPShowContacts")


async def test_list_events_do_not_reach_subscribers(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    seen: list[AmiMessage] = []
    async with _client(pbx) as ami:
        ami.on_event("DeviceStateChange", seen.append)
        await ami.action_list("DeviceStateList")
        await pbx.register("1001")
        await _until(lambda: len(seen) >= 1)
        assert all(m.action_id is None for m in seen)
        assert seen[-1].get("State") == "NOT_INUSE"


async def test_event_subscription_by_name_and_wildcard(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    contact: list[str] = []
    every: list[str] = []

    async def on_contact(message: AmiMessage) -> None:
        await asyncio.sleep(0)  # async callbacks are awaited
        contact.append(message.get("ContactStatus") or "")

    async with _client(pbx) as ami:
        ami.on_event("contactstatus", on_contact)
        ami.on_event(None, lambda m: every.append(m.event or ""))
        await pbx.register("1001")
        await pbx.unregister("1001")
        await _until(lambda: len(every) >= 5)
    assert contact == ["Created", "Reachable", "Removed"]
    assert every == [
        "ContactStatus",
        "ContactStatus",
        "DeviceStateChange",
        "ContactStatus",
        "DeviceStateChange",
    ]


async def test_failing_callback_does_not_stop_dispatch(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    got: list[str] = []

    def broken(message: AmiMessage) -> None:
        raise RuntimeError("callback bug")

    async with _client(pbx) as ami:
        ami.on_event("DeviceStateChange", broken)
        ami.on_event("DeviceStateChange", lambda m: got.append(m.get("State") or ""))
        await pbx.register("1001")
        await pbx.unregister("1001")
        await _until(lambda: len(got) == 2)
    assert got == ["NOT_INUSE", "UNAVAILABLE"]


async def test_slow_callback_does_not_block_actions(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    release = asyncio.Event()

    async def slow(message: AmiMessage) -> None:
        await release.wait()

    async with _client(pbx) as ami:
        ami.on_event(None, slow)
        await pbx.register("1001")
        await pbx.unregister("1001")
        # The dispatcher is stuck in a callback, but the socket is still read.
        assert (await ami.action("Ping")).get("Ping") == "Pong"
        await _until(lambda: ami.queued_events >= 4)
        release.set()
        await _until(lambda: ami.queued_events == 0)


async def test_reconnect_after_drop_relogs_in_and_fires_hook(pbx: FakeAsterisk) -> None:
    pbx.add_agent("1001")
    hooks: list[int] = []
    states: list[str] = []
    async with _client(pbx) as ami:
        ami.on_event("DeviceStateChange", lambda m: states.append(m.get("State") or ""))

        async def resync() -> None:
            # The hook may use the connection: the ACD resynchronises here.
            _, events = await ami.action_list("DeviceStateList")
            hooks.append(len(events))

        ami.on_reconnect(resync)
        assert pbx.drop_ami_clients() == 1
        await _until(lambda: hooks == [1])
        assert ami.connected and ami.logins == 2
        assert pbx.ami.logins == 2
        # Events flow on the new connection.
        await pbx.register("1001")
        await _until(lambda: states == ["NOT_INUSE"])
        # And a second drop works the same way.
        pbx.drop_ami_clients()
        await _until(lambda: hooks == [1, 1])


async def test_actions_while_down_raise_not_connected(pbx: FakeAsterisk) -> None:
    async with _client(pbx, reconnect_min=5.0, reconnect_max=5.0) as ami:
        pbx.drop_ami_clients()
        await _until(lambda: not ami.connected)
        with pytest.raises(AmiNotConnected):
            await ami.action("Ping")


async def test_pending_action_fails_when_connection_drops() -> None:
    """An action in flight when the socket dies fails fast instead of timing out."""
    accepted: list[asyncio.StreamWriter] = []
    asked: list[bytes] = []

    async def silent_ami(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += await reader.read(1024)
        action_id = data.split(b"ActionID: ")[1].split(b"\r\n")[0]
        writer.write(
            b"Response: Success\r\nActionID: " + action_id + b"\r\n"
            b"Message: Authentication accepted\r\n\r\n"
        )
        accepted.append(writer)
        try:
            asked.append(await reader.read(1024))  # the next action: never answered
            await reader.read(1024)
        finally:
            writer.close()

    server = await asyncio.start_server(silent_ami, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AmiClient("127.0.0.1", port, "acd", SECRET, action_timeout=5.0, reconnect_min=10.0)
    await client.start()
    try:
        pending = asyncio.ensure_future(client.action("Ping"))
        for _ in range(500):  # until the server has the Ping: then the socket dies
            if asked:
                break
            await asyncio.sleep(0.01)
        assert asked and b"Ping" in asked[0]
        accepted[0].close()
        with pytest.raises(AmiNotConnected):
            await asyncio.wait_for(pending, 2.0)
    finally:
        await client.close()
        server.close()
        await server.wait_closed()


async def test_action_timeout() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += await reader.read(1024)
        action_id = data.split(b"ActionID: ")[1].split(b"\r\n")[0]
        writer.write(b"Response: Success\r\nActionID: " + action_id + b"\r\n\r\n")
        while await reader.read(1024):
            pass
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with AmiClient("127.0.0.1", port, "acd", SECRET, action_timeout=0.2) as client:
        with pytest.raises(AmiTimeout):
            await client.action("CoreStatus")
        with pytest.raises(AmiTimeout):
            await client.action_list("CoreShowChannels")
    server.close()
    await server.wait_closed()


async def test_keepalive_pings(pbx: FakeAsterisk) -> None:
    async with _client(pbx, ping_interval=0.05) as ami:
        await _until(lambda: sum(a.action == "Ping" for a in pbx.ami.actions) >= 3)
        assert ami.connected


async def test_keepalive_detects_a_dead_server_and_reconnects(pbx: FakeAsterisk) -> None:
    """A server that stops answering (but keeps the socket) is detected by the Ping."""
    async with _client(pbx, ping_interval=0.05, action_timeout=0.2) as ami:
        reconnected = asyncio.Event()

        async def hook() -> None:
            reconnected.set()

        ami.on_reconnect(hook)
        # Make the fake ignore everything on the current session.
        session = next(iter(pbx.ami.sessions))
        session.stall()
        await asyncio.wait_for(reconnected.wait(), 5.0)
        assert ami.connected and ami.logins == 2


async def test_send_action_repeated_keys_and_injection_guard(pbx: FakeAsterisk) -> None:
    async with _client(pbx) as ami:
        await ami.send_action(
            "Originate",
            [("Channel", "Local/100@from-callers"), ("Variable", "A=1"), ("Variable", "B=2")],
        )
        sent = pbx.ami.actions[-1]
        assert sent.get_all("Variable") == ["A=1", "B=2"]
        with pytest.raises(Exception, match="CR/LF"):
            await ami.action("Originate", Channel="x\r\nAction: Logoff")
        assert ami.connected


async def _until(predicate: object, within: float = 5.0) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
