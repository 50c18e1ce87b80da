"""The AMI actions the fake Asterisk answers about its simulated world.

Each handler takes the PBX (:class:`telephony.fake.pbx.FakePbx`) and the
request and returns the messages Asterisk 22 would send: ``CoreStatus``,
``CoreSettings``, ``Command`` (a few CLI commands, media ones from
:mod:`telephony.fake.media`), ``PJSIPShowEndpoint(s)``,
``PJSIPShowContacts``, ``DeviceStateList``, ``CoreShowChannels``,
``Hangup`` and ``Originate`` (into the ACD's FastAGI, or an agent's phone into
a dialplan context). Session actions (login, ping, events, filters) are the
AMI server's own (:mod:`telephony.fake.ami_server`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from telephony.ami_codec import AmiMessage
from telephony.fake.ami_server import ami_event, ami_response, list_complete
from telephony.fake.pbx import AgentBehaviour, FakeAgent, FakePbx

__all__ = ["handle_action"]

_CALLERID = re.compile(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*')


def handle_action(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage] | None:
    """Answer ``request``; None when this Asterisk has no such action (yet)."""
    action = (request.action or "").lower()
    handler = _ACTIONS.get(action)
    if handler is None or (not pbx.ami.booted and action in _NEED_MODULES):
        return None  # "Invalid/unknown command", as before a module loads
    return handler(pbx, request)


def _core_status(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    started = time.gmtime(pbx.ami.started_at)
    date, clock = time.strftime("%Y-%m-%d", started), time.strftime("%H:%M:%S", started)
    return [
        ami_response(
            request,
            fields=(
                ("CoreStartupDate", date),
                ("CoreStartupTime", clock),
                ("CoreReloadDate", date),
                ("CoreReloadTime", clock),
                ("CoreCurrentCalls", str(len(pbx.channels))),
                ("CoreProcessedCalls", str(len(pbx.calls))),
            ),
        )
    ]

def _core_settings(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    return [
        ami_response(
            request,
            fields=(
                ("AMIversion", "11.0.0"),
                ("AsteriskVersion", "22.10.1"),
                ("SystemName", ""),
                ("CoreMaxCalls", "0"),
                ("CoreRunUser", "asterisk"),
                ("CoreRunGroup", "asterisk"),
            ),
        )
    ]

def _command(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    command = (request.get("Command") or "").strip()
    if command == "core show version":
        lines = ["Asterisk 22.10.1 built by fake @ fake on a x86_64 running Linux"]
    elif command == "core show channels count":
        lines = [f"{len(pbx.channels)} active channels", f"{len(pbx.calls)} calls processed"]
    elif command == "pjsip show contacts":
        lines = [
            f"  Contact:  {a.endpoint}/{a.uri}" for a in pbx.agents.values() if a.registered
        ]
    elif (media_lines := pbx.media.cli(command)) is not None:
        lines = media_lines
    else:
        text = (
            f"No such command '{command}' "
            f"(type 'core show help {command}' for other possible commands)"
        )
        return [ami_response(request, "Error", "Command output follows", (("Output", text),))]
    output = tuple(("Output", line) for line in lines)
    return [ami_response(request, "Success", "Command output follows", output)]

def _endpoint_fields(agent: FakeAgent) -> list[tuple[str, str]]:
    states = {
        "NOT_INUSE": "Not in use",
        "INUSE": "In use",
        "RINGING": "Ringing",
        "UNAVAILABLE": "Unavailable",
    }
    return [
        ("ObjectType", "endpoint"),
        ("ObjectName", agent.endpoint),
        ("Transport", "transport-udp"),
        ("Aor", agent.endpoint),
        ("Auths", agent.endpoint),
        ("OutboundAuths", ""),
        ("Contacts", f"{agent.endpoint}/{agent.uri}" if agent.registered else ""),
        ("DeviceState", states[agent.device_state]),
        ("ActiveChannels", "" if agent.call is None else agent.call.channel.name),
    ]

def _pjsip_show_endpoints(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    aid = request.action_id
    if not pbx.agents:
        return [ami_response(request, "Error", "No endpoints found")]
    out = [
        ami_response(
            request,
            message="A listing of Endpoints follows, presented as EndpointList events",
            event_list="start",
        )
    ]
    out += [
        ami_event("EndpointList", _endpoint_fields(a), action_id=aid or "")
        for a in pbx.agents.values()
    ]
    out.append(list_complete("EndpointListComplete", request, len(pbx.agents)))
    return out

def _pjsip_show_endpoint(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    name = request.get("Endpoint") or ""
    agent = pbx.agents.get(name)
    if agent is None:
        return [ami_response(request, "Error", f"Unable to retrieve endpoint {name}")]
    aid = request.action_id or ""
    fields = _endpoint_fields(agent)
    detail = [
        ("ObjectType", "endpoint"),
        ("ObjectName", agent.endpoint),
        ("Context", "agents"),
        ("Aors", agent.endpoint),
        ("Auth", agent.endpoint),
        ("Transport", "transport-udp"),
        ("DeviceState", fields[7][1]),
        ("ActiveChannels", fields[8][1]),
    ]
    events = [
        ami_event("EndpointDetail", detail, action_id=aid),
        ami_event(
            "AorDetail",
            [
                ("ObjectType", "aor"),
                ("ObjectName", agent.endpoint),
                ("MaxContacts", "1"),
                ("Contacts", agent.uri if agent.registered else ""),
                ("TotalContacts", "1" if agent.registered else "0"),
                ("ContactsRegistered", "1" if agent.registered else "0"),
                ("EndpointName", agent.endpoint),
            ],
            action_id=aid,
        ),
    ]
    if agent.registered:
        events.append(
            ami_event("ContactStatusDetail", _contact_status(agent), action_id=aid)
        )
    return [
        ami_response(
            request,
            message="Following are Events for each object associated with the Endpoint",
            event_list="start",
        ),
        *events,
        list_complete("EndpointDetailComplete", request, len(events)),
    ]

def _contact_status(agent: FakeAgent) -> list[tuple[str, str]]:
    return [
        ("AOR", agent.endpoint),
        ("URI", agent.uri),
        ("UserAgent", "FakePhone 1.0"),
        ("RegExpire", str(int(time.time()) + 3600)),
        ("ViaAddress", f"127.0.0.1:{agent.sip_port}"),
        ("CallID", f"fake-{agent.endpoint}"),
        ("Status", "Reachable"),
        ("RoundtripUsec", "1000"),
        ("EndpointName", agent.endpoint),
        ("ID", f"{agent.endpoint};@fake"),
        ("AuthenticateQualify", "0"),
        ("OutboundProxy", ""),
        ("Path", ""),
        ("QualifyFrequency", "60"),
        ("QualifyTimeout", "3.000000"),
    ]

def _pjsip_show_contacts(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    registered = [a for a in pbx.agents.values() if a.registered]
    if not registered:
        return [ami_response(request, "Error", "No Contacts found")]
    aid = request.action_id or ""
    events = [
        ami_event(
            "ContactList",
            [
                ("ObjectType", "contact"),
                ("ObjectName", f"{a.endpoint};@fake"),
                ("ViaAddr", "127.0.0.1"),
                ("ViaPort", str(a.sip_port)),
                ("QualifyTimeout", "3.000000"),
                ("CallId", f"fake-{a.endpoint}"),
                ("RegServer", ""),
                ("PruneOnBoot", "no"),
                ("Path", ""),
                ("Endpoint", a.endpoint),
                ("AuthenticateQualify", "no"),
                ("Uri", a.uri),
                ("QualifyFrequency", "60"),
                ("UserAgent", "FakePhone 1.0"),
                ("ExpirationTime", str(int(time.time()) + 3600)),
                ("OutboundProxy", ""),
                ("Status", "Reachable"),
                ("RoundtripUsec", "1000"),
            ],
            action_id=aid,
        )
        for a in registered
    ]
    return [
        ami_response(
            request,
            message="A listing of Contacts follows, presented as ContactList events",
            event_list="start",
        ),
        *events,
        list_complete("ContactListComplete", request, len(events)),
    ]

def _device_state_list(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    aid = request.action_id or ""
    events = [
        ami_event(
            "DeviceStateChange",
            [("Device", a.device), ("State", a.device_state)],
            action_id=aid,
        )
        for a in pbx.agents.values()
    ]
    return [
        ami_response(request, message="Device State Changes will follow", event_list="start"),
        *events,
        list_complete("DeviceStateListComplete", request, len(events)),
    ]

def _core_show_channels(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    aid = request.action_id or ""
    now = time.monotonic()
    events = []
    for channel in pbx.channels.values():
        seconds = int(now - channel.created_at)
        duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        events.append(
            ami_event(
                "CoreShowChannel",
                [
                    *channel.fields(),
                    ("BridgeId", pbx.bridges.get(channel.name, "")),
                    ("Application", channel.application),
                    ("ApplicationData", channel.app_data),
                    ("Duration", duration),
                ],
                action_id=aid,
            )
        )
    return [
        ami_response(request, message="Channels will follow", event_list="start"),
        *events,
        list_complete("CoreShowChannelsComplete", request, len(events)),
    ]

def _hangup(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    name = request.get("Channel") or ""
    if name not in pbx.channels:
        return [ami_response(request, "Error", "No such channel")]
    for call in list(pbx.active_calls):
        if call.channel.name == name:
            call._caller_hangup()
            return [ami_response(request, message="Channel Hungup")]
    for agent in pbx.agents.values():
        if agent.call is not None and name.startswith(f"{agent.device}-"):
            agent.hangup_now.set()
    return [ami_response(request, message="Channel Hungup")]

def _originate(pbx: FakePbx, request: AmiMessage) -> list[AmiMessage]:
    if not request.get("Channel"):
        return [ami_response(request, "Error", "Channel not specified")]
    if request.get("Context") and not request.get("Application"):
        pbx._spawn(_originate_to_context(pbx, request), "fake-originate-context")
        return [ami_response(request, message="Originate successfully queued")]
    match = _CALLERID.fullmatch(request.get("CallerID") or "")
    name, number = (match.group(1), match.group(2)) if match else ("", "5551234")
    data = request.get("Data") or ""
    script = (
        data.split("/", 3)[3]
        if data.startswith("agi://") and data.count("/") >= 3
        else ("inbound?queue=support")
    )
    if pbx.agi_port:
        pbx._spawn(_originated_call(pbx, script, number, name), "fake-originate")
    return [ami_response(request, message="Originate successfully queued")]

async def _originated_call(pbx: FakePbx, script: str, number: str, name: str) -> None:
    await pbx.place_call(script, caller_id=number, caller_name=name)

async def _originate_to_context(pbx: FakePbx, request: AmiMessage) -> None:
    """``Originate`` (Async) of an agent's phone into a dialplan context:
    the phone rings; answered, the context runs (``acd-callback``:
    ``AGI(.../callback?call=${ACD_CALLBACK})`` on the agent's channel);
    ``OriginateResponse`` says which."""
    channel = request.get("Channel") or ""
    endpoint = channel.split("/", 1)[1] if "/" in channel else channel
    variables = dict(
        item.split("=", 1) for item in (request.get("Variable") or "").split(",") if "=" in item
    )
    try:
        timeout = int(request.get("Timeout") or "30000") / 1000
    except ValueError:
        timeout = 30.0

    def respond(success: bool, reason: str) -> None:
        pbx.emit("OriginateResponse", [
            ("ActionID", request.action_id or ""),
            ("Response", "Success" if success else "Failure"),
            ("Channel", channel), ("Context", request.get("Context") or ""),
            ("Exten", request.get("Exten") or ""), ("Reason", reason),
            ("Uniqueid", "<null>"), ("CallerIDNum", "<unknown>"),
            ("CallerIDName", "<unknown>"),
        ])

    agent = pbx.agents.get(endpoint)
    if agent is None or not agent.registered or agent.behaviour == AgentBehaviour.UNREACHABLE:
        pbx.originates.append((endpoint, False, time.monotonic()))
        respond(False, "0")
        return
    if agent.call is not None or agent.private_call or agent.behaviour == AgentBehaviour.BUSY:
        pbx.originates.append((endpoint, False, time.monotonic()))
        respond(False, "5")
        return
    agent.private_call = True
    pbx._device_state(agent)
    try:
        answers = agent.behaviour == AgentBehaviour.ANSWER and agent.ring_delay < timeout
        await asyncio.sleep(agent.ring_delay if answers else timeout)
        pbx.originates.append((endpoint, answers, time.monotonic()))
        if not answers:
            respond(False, "3")
            return
        respond(True, "4")
        if request.get("Context") == "acd-callback":
            call = await pbx.place_call(
                f"callback?call={variables.get('ACD_CALLBACK', '')}", caller_id=endpoint,
                caller_name=f"Agent {endpoint}",
            )
            await call._done.wait()
    finally:
        agent.private_call = False
        pbx._device_state(agent)
        pbx._agents_changed.set()


#: Actions of modules that a booting Asterisk has not loaded yet.
_NEED_MODULES = frozenset(
    {"devicestatelist", "pjsipshowcontacts", "pjsipshowendpoints", "pjsipshowendpoint"}
)

_ACTIONS: dict[str, Callable[[FakePbx, AmiMessage], list[AmiMessage]]] = {
    "corestatus": _core_status,
    "coresettings": _core_settings,
    "command": _command,
    "pjsipshowendpoint": _pjsip_show_endpoint,
    "pjsipshowendpoints": _pjsip_show_endpoints,
    "pjsipshowcontacts": _pjsip_show_contacts,
    "devicestatelist": _device_state_list,
    "coreshowchannels": _core_show_channels,
    "hangup": _hangup,
    "originate": _originate,
}
