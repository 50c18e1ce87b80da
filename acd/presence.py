"""Softphone presence and answer detection from AMI events (pure parsing).

- ``ContactStatus`` (Reachable/Created/Updated vs Unreachable/Removed) and
  ``DeviceStateChange`` (UNAVAILABLE vs anything else) say whether the
  agent's phone can be offered a call; ``DeviceStateChange`` INUSE, BUSY,
  RINGING, ONHOLD say the phone is in use (possibly on a call the ACD did
  not make: it is not offered one until NOT_INUSE).
- ``DialEnd`` with ``DialStatus: ANSWER`` says which agent picked up which
  call: its ``Uniqueid`` is the caller's channel, the same id the FastAGI
  session carries. (A device going INUSE says nothing about *which* call: a
  late event from the previous call must never mark the next one answered.)
- ``ContactList`` events (PJSIPShowContacts) rebuild presence after a
  reconnect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from telephony.ami_codec import AmiMessage

# The only AMI events the ACD uses; asked for with Asterisk's Filter action so
# a busy Asterisk does not send (and the ACD does not parse) all the rest.
# (POSIX ERE, as Asterisk's regexec reads it: the name ends at the line break.)
AMI_EVENT_FILTERS = (
    "Event: (ContactStatus|DeviceStateChange|DialEnd|FullyBooted|OriginateResponse)[^A-Za-z]",
)

REACHABLE_CONTACT = frozenset({"reachable", "created", "updated", "avail", "nonqualified"})
UNREACHABLE_CONTACT = frozenset({"unreachable", "removed", "unavail"})
# A phone in any of these states is not offered a call (the ACD's own calls
# put it there too; then the agent is ringing or on call anyway).
BUSY_DEVICE = frozenset({"INUSE", "BUSY", "ONHOLD", "RINGING", "RINGINUSE"})
IDLE_DEVICE = frozenset({"NOT_INUSE"})


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    endpoint: str  # "PJSIP/1001"
    reachable: bool | None  # None: no change in reachability
    in_use: bool | None  # True: busy on a call, False: idle, None: unknown


def _pjsip(name: str) -> str:
    return name if "/" in name else f"PJSIP/{name}"


def parse_presence(msg: AmiMessage) -> PresenceUpdate | None:
    """Presence news in one AMI event, or None."""
    event = (msg.event or "").lower()
    if event == "contactstatus":
        endpoint = msg.get("EndpointName") or msg.get("AOR") or ""
        status = (msg.get("ContactStatus") or "").lower()
        if not endpoint:
            return None
        if status in REACHABLE_CONTACT:
            return PresenceUpdate(_pjsip(endpoint), True, None)
        if status in UNREACHABLE_CONTACT:
            return PresenceUpdate(_pjsip(endpoint), False, None)
        return None
    if event == "contactlist":
        endpoint = msg.get("Endpoint") or msg.get("AOR") or msg.get("Aor") or ""
        status = (msg.get("Status") or "").lower()
        if not endpoint:
            return None
        return PresenceUpdate(_pjsip(endpoint), status in REACHABLE_CONTACT, None)
    if event == "devicestatechange":
        device = msg.get("Device") or ""
        state = (msg.get("State") or "").upper()
        if not device.upper().startswith("PJSIP/"):
            return None
        if state in ("UNAVAILABLE", "INVALID"):
            return PresenceUpdate(device, False, None)
        if state in BUSY_DEVICE:
            return PresenceUpdate(device, True, True)
        if state in IDLE_DEVICE:
            return PresenceUpdate(device, True, False)
        return None
    return None


@dataclass(frozen=True, slots=True)
class Answer:
    endpoint: str  # "PJSIP/1001"
    call_id: str  # the caller channel's Uniqueid (= agi_uniqueid)


def parse_answer(msg: AmiMessage) -> Answer | None:
    """Who answered which call, from a ``DialEnd`` with ``DialStatus: ANSWER``."""
    if (msg.event or "").lower() != "dialend":
        return None
    if (msg.get("DialStatus") or "").upper() != "ANSWER":
        return None
    channel = msg.get("DestChannel") or ""
    call_id = msg.get("Uniqueid") or ""
    if not channel or not call_id:
        return None
    endpoint = channel.rsplit("-", 1)[0] if "-" in channel else channel
    return Answer(endpoint, call_id)


def agents_by_endpoint(endpoints: Mapping[str, str]) -> dict[str, str]:
    """Map lower-cased endpoint -> agent id, from agent id -> endpoint."""
    return {ep.lower(): agent_id for agent_id, ep in endpoints.items()}
