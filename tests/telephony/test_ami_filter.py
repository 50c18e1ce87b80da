"""Asterisk's Filter action, asked for after every login: only wanted events arrive."""

from __future__ import annotations

import asyncio

from acd.presence import AMI_EVENT_FILTERS
from telephony.ami_client import AmiClient, EventCallback
from telephony.ami_codec import AmiMessage
from telephony.fake import FakeAsterisk


async def test_filtered_client_gets_only_the_events_it_asked_for() -> None:
    async with FakeAsterisk(ami_secret="s") as fake:
        fake.add_agent("1001")
        seen_filtered: list[str] = []
        seen_all: list[str] = []
        filtered = AmiClient("127.0.0.1", fake.ami_port, "acd", "s",
                             event_filters=AMI_EVENT_FILTERS)
        unfiltered = AmiClient("127.0.0.1", fake.ami_port, "acd", "s")

        def record(into: list[str]) -> EventCallback:
            def callback(msg: AmiMessage) -> None:
                into.append(msg.event or "")
            return callback

        filtered.on_event(None, record(seen_filtered))
        unfiltered.on_event(None, record(seen_all))
        async with filtered, unfiltered:
            await fake.register("1001")
            fake.emit("Newchannel", [("Channel", "PJSIP/x-1")])
            fake.emit("DialEnd", [("Channel", "PJSIP/x-1"), ("DialStatus", "ANSWER")])
            for _ in range(100):
                if "DialEnd" in seen_filtered and "DialEnd" in seen_all:
                    break
                await asyncio.sleep(0.02)
            # list actions still answer in full
            _, contacts = await filtered.action_list("PJSIPShowContacts")
        assert "Newchannel" in seen_all
        # FullyBooted comes with the login, before the filter exists, as in Asterisk
        wanted = {"ContactStatus", "DeviceStateChange", "DialEnd"}
        assert set(seen_filtered) - {"FullyBooted"} == wanted
        assert len(contacts) == 1
