"""The PBX model of the fake Asterisk: channels, devices, bridges, the dialplan.

What happens on the simulated switch, whoever asks for it:

* channels (:class:`~telephony.fake.channel.FakeChannel`) come up and go down
  with ``Newchannel``, ``Newstate`` and ``Hangup`` events to the AMI clients;
* simulated SIP agents (:class:`FakeAgent`): register/unregister
  (``ContactStatus``, ``DeviceStateChange``), ring delay, answer / no answer /
  busy / unreachable, talk time, and calls the ACD did not make
  (:meth:`FakePbx.start_private_call`), which put the phone ``INUSE`` so a
  Dial to it gets ``BUSY``;
* ``Dial`` (:meth:`FakePbx.dial`) to an agent or to a number outside, with
  ``DialBegin``/``DialEnd`` and the bridge; a hung Asterisk during ``Dial``
  (``hang_on_dial``): no reply, ever;
* the shipped dialplan after ``AGI()`` returns on a live channel: no
  ``ACD_RESULT`` and no answered Dial -> the Asterisk fallback queue
  (:meth:`FakePbx._fallback_queue` rings idle agents; their phones are in use
  meanwhile), an answered Dial -> hang up (answered calls are final);
* an Asterisk restart (:meth:`FakePbx.restart`, :meth:`FakePbx.boot`);
* callers placed into the ACD's FastAGI port (:meth:`FakePbx.place_call`).

The PBX owns the AMI server (:mod:`telephony.fake.ami_server`) to send its
events; which actions it answers is :meth:`FakePbx._handle_action`, filled in
by :class:`telephony.fake.asterisk.FakeAsterisk` from
:mod:`telephony.fake.ami_actions` (the PBX answers none by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from telephony.ami_codec import AmiMessage
from telephony.fake.agi_caller import FakeCall
from telephony.fake.ami_server import FakeAmiServer, ami_event
from telephony.fake.channel import CAUSE_TEXT, FakeChannel
from telephony.fake.media import FakeMedia

__all__ = ["AgentBehaviour", "FakeAgent", "FakePbx"]

log = logging.getLogger(__name__)


class AgentBehaviour(enum.StrEnum):
    """What a simulated softphone does when it rings."""

    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNREACHABLE = "unreachable"



@dataclass(slots=True)
class FakeAgent:
    """A simulated SIP softphone; change its attributes at run time to change behaviour."""

    endpoint: str
    ring_delay: float = 0.5
    behaviour: AgentBehaviour = AgentBehaviour.ANSWER
    talk_seconds: float = 5.0
    registered: bool = False
    sip_port: int = 5062
    #: The call ringing or bridged to this agent, if any.
    call: FakeCall | None = None
    calls_answered: int = 0
    rings: int = 0
    hangup_now: asyncio.Event = field(default_factory=asyncio.Event)
    #: On a call the ACD did not make (agent to agent, fallback queue).
    private_call: bool = False
    #: Fallback-queue calls this agent answered.
    fallback_calls: int = 0
    #: Times the ACD dialled this phone while it was bridged to another ACD call.
    double_dials: int = 0

    @property
    def device(self) -> str:
        return f"PJSIP/{self.endpoint}"

    @property
    def uri(self) -> str:
        return f"sip:{self.endpoint}@127.0.0.1:{self.sip_port}"

    @property
    def device_state(self) -> str:
        if not self.registered:
            return "UNAVAILABLE"
        if self.call is None:
            return "INUSE" if self.private_call else "NOT_INUSE"
        return "INUSE" if self.call.bridged else "RINGING"




class FakePbx:
    """The simulated switch; see the module docstring.

    ``agi_port`` is the ACD's FastAGI port; it may be set after construction
    (``pbx.agi_port = server.port``) as long as it is set before calls are placed.
    ``prompt_seconds`` is how long each prompt (STREAM FILE, SAY, GET DATA)
    plays; ``after_call_linger`` how long a caller stays on the line after the
    agent hangs up before hanging up too; ``linger_timeout`` how long the fake
    waits for the ACD to close a hung-up call's socket before giving up.
    """

    def __init__(
        self,
        *,
        agi_host: str = "127.0.0.1",
        agi_port: int = 0,
        ami_username: str = "acd",
        ami_secret: str = "secret",
        ami_port: int = 0,
        ami_host: str = "127.0.0.1",
        seed: int | None = None,
        prompt_seconds: float = 0.0,
        after_call_linger: float = 1.0,
        linger_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        answered_is_final: bool = True,
    ) -> None:
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.prompt_seconds = prompt_seconds
        self.after_call_linger = after_call_linger
        self.linger_timeout = linger_timeout
        self.connect_timeout = connect_timeout
        self.rng = random.Random(seed)
        #: The dialplan's DIALSTATUS guard (asterisk/extensions.conf): after an
        #: answered Dial the caller is never sent to the fallback queue.
        self.answered_is_final = answered_is_final
        #: Dial never returns (a hung Asterisk / partition) for these agents.
        self.hang_on_dial: set[str] = set()
        #: Raw replies forced for AGI verbs (e.g. ``{"SET MUSIC": b"510 ...\n"}``).
        self.broken_commands: dict[str, bytes] = {}
        #: Numbers outside (a trunk): how each answers ("answer" or "no_answer").
        self.external: dict[str, str] = {}
        self.external_talk_seconds = 0.3
        #: channel name -> bridge id, for channels in a bridge now (CoreShowChannels)
        self.bridges: dict[str, str] = {}
        #: ``(number, DIALSTATUS, monotonic time)`` of every call to the outside.
        self.external_calls: list[tuple[str, str, float]] = []
        #: ``(agent, answered, monotonic time)`` of every Originate to an agent.
        self.originates: list[tuple[str, bool, float]] = []
        self._agents_changed = asyncio.Event()
        self.ami = FakeAmiServer(
            host=ami_host,
            port=ami_port,
            username=ami_username,
            secret=ami_secret,
            handler=self._handle_action,
        )
        #: Sounds and music on hold (every sound exists unless told otherwise).
        self.media = FakeMedia()
        self.agents: dict[str, FakeAgent] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.calls: list[FakeCall] = []
        self.active_calls: set[FakeCall] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._epoch = int(time.time())
        self._started = False
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def ami_port(self) -> int:
        return self.ami.port

    async def start(self) -> None:
        await self.ami.start()
        self._started = True

    async def close(self) -> None:
        """Close the AMI server, every call and every task started here."""
        if self._closed:
            return
        self._closed = True
        await self.ami.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def drop_ami_clients(self) -> int:
        """Close every AMI connection (to test reconnects); returns how many."""
        return self.ami.drop_clients()

    def _spawn(self, coro: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- channels and events -----------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_channel(
        self,
        tech_name: str,
        *,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
    ) -> FakeChannel:
        seq = self._next_seq()
        uniqueid = f"{self._epoch}.{seq}"
        return FakeChannel(
            name=f"PJSIP/{tech_name}-{seq:08x}",
            uniqueid=uniqueid,
            linkedid=linkedid or uniqueid,
            seq=seq,
            caller_num=caller_num,
            caller_name=caller_name,
            context=context,
            exten=exten,
        )

    def emit(
        self, name: str, fields: Sequence[tuple[str, str]], privilege: str = "call,all"
    ) -> None:
        """Send an event to every AMI client logged in with events on."""
        self.ami.broadcast(ami_event(name, fields, privilege=privilege))

    def channel_up(self, channel: FakeChannel) -> None:
        self.channels[channel.name] = channel
        self.emit("Newchannel", channel.fields())

    def channel_down(self, channel: FakeChannel, cause: int = 16) -> None:
        if self.channels.pop(channel.name, None) is None:
            return
        self.emit(
            "Hangup",
            [*channel.fields(), ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, ""))],
        )

    def set_channel_state(self, channel: FakeChannel, state: int) -> None:
        if channel.state != state:
            channel.state = state
            self.emit("Newstate", channel.fields())

    def _device_state(self, agent: FakeAgent) -> None:
        self.emit("DeviceStateChange", [("Device", agent.device), ("State", agent.device_state)])

    # ---- agents ------------------------------------------------------------------------

    def add_agent(
        self,
        endpoint: str,
        *,
        ring_delay: float = 0.5,
        behaviour: str = "answer",
        talk_seconds: float = 5.0,
    ) -> FakeAgent:
        """Create a simulated softphone for PJSIP endpoint ``endpoint`` (not yet registered)."""
        agent = FakeAgent(
            endpoint,
            ring_delay=ring_delay,
            behaviour=AgentBehaviour(behaviour),
            talk_seconds=talk_seconds,
            sip_port=5062 + len(self.agents),
        )
        self.agents[endpoint] = agent
        return agent

    async def register(self, endpoint: str) -> None:
        """The softphone registers: ContactStatus Created, Reachable, then NOT_INUSE."""
        agent = self.agents[endpoint]
        if agent.registered:
            return
        agent.registered = True
        rtt = str(self.rng.randint(300, 2500))
        for status, usec in (("Created", "0"), ("Reachable", rtt)):
            self.emit(
                "ContactStatus",
                [
                    ("URI", agent.uri),
                    ("ContactStatus", status),
                    ("AOR", endpoint),
                    ("EndpointName", endpoint),
                    ("RoundtripUsec", usec),
                ],
                privilege="system,all",
            )
        self._device_state(agent)

    async def unregister(self, endpoint: str) -> None:
        """The softphone unregisters: ContactStatus Removed, then UNAVAILABLE."""
        agent = self.agents[endpoint]
        if not agent.registered:
            return
        agent.registered = False
        self.emit(
            "ContactStatus",
            [
                ("URI", agent.uri),
                ("ContactStatus", "Removed"),
                ("AOR", endpoint),
                ("EndpointName", endpoint),
                ("RoundtripUsec", "0"),
            ],
            privilege="system,all",
        )
        self._device_state(agent)

    async def agent_hangup(self, endpoint: str) -> None:
        """The agent hangs up the call they are on now."""
        self.agents[endpoint].hangup_now.set()

    async def _dial_outside(
        self, call: FakeCall, number: str, ring_timeout: float
    ) -> tuple[str, int]:
        """``Dial(PJSIP/<number>@trunk)``: a party outside, per :attr:`external`."""
        behaviour = self.external.get(number, "answer")
        if behaviour != "answer":
            hung_up = await call._sleep_or_hangup(ring_timeout)
            status = "CANCEL" if hung_up else "NOANSWER"
            self.external_calls.append((number, status, time.monotonic()))
            return status, -1 if hung_up else 0
        if await call._sleep_or_hangup(0.05):
            self.external_calls.append((number, "CANCEL", time.monotonic()))
            return "CANCEL", -1
        call._on_bridged(number)
        self.external_calls.append((number, "ANSWER", time.monotonic()))
        await call._sleep_or_hangup(self.external_talk_seconds)
        return "ANSWER", -1

    async def dial(self, call: FakeCall, endpoint: str, ring_timeout: float) -> tuple[str, int]:
        """Simulate ``Dial(PJSIP/<endpoint>,<timeout>)``; returns (DIALSTATUS, AGI result)."""
        if "@" in endpoint:
            return await self._dial_outside(call, endpoint.split("@", 1)[0], ring_timeout)
        agent = self.agents.get(endpoint)
        if agent is None or not agent.registered or agent.behaviour == AgentBehaviour.UNREACHABLE:
            return "CHANUNAVAIL", 0
        if agent.call is not None:
            agent.double_dials += 1
            return "BUSY", 0
        if agent.private_call:  # device_state_busy_at = 1: one call at a time
            return "BUSY", 0
        if endpoint in self.hang_on_dial:
            call.hung = True
            await asyncio.Event().wait()  # Asterisk never answers again
        caller = call.channel
        peer = self.new_channel(
            endpoint,
            caller_num=endpoint,
            caller_name=endpoint,
            context="agents",
            exten=endpoint,
            linkedid=caller.linkedid,
        )
        peer.connected_num, peer.connected_name = (
            caller.caller_num,
            caller.caller_name or "<unknown>",
        )
        peer.application, peer.app_data = "AppDial", "(Outgoing Line)"
        self.channel_up(peer)
        self.emit("DialBegin", [*caller.fields(), *peer.fields("Dest"), ("DialString", endpoint)])
        agent.rings += 1

        def dial_end(status: str) -> None:
            self.emit("DialEnd", [*caller.fields(), *peer.fields("Dest"), ("DialStatus", status)])

        if agent.behaviour == AgentBehaviour.BUSY:
            await call._sleep_or_hangup(min(0.05, agent.ring_delay))
            dial_end("BUSY")
            self.channel_down(peer, 17)
            return "BUSY", -1 if call.dead else 0

        agent.call = call
        agent.hangup_now.clear()
        self.set_channel_state(peer, 5)
        self._device_state(agent)
        try:
            answers = agent.behaviour == AgentBehaviour.ANSWER and agent.ring_delay < ring_timeout
            hung_up = await call._sleep_or_hangup(agent.ring_delay if answers else ring_timeout)
            if hung_up:
                dial_end("CANCEL")
                self.channel_down(peer, 16)
                return "CANCEL", -1
            if not answers:
                dial_end("NOANSWER")
                self.channel_down(peer, 19)
                return "NOANSWER", 0
            self.set_channel_state(peer, 6)
            bridge = f"bridge-{caller.linkedid}"
            self.bridges[caller.name] = self.bridges[peer.name] = bridge
            call._on_bridged(endpoint)
            caller.application, caller.app_data = "Dial", f"PJSIP/{endpoint}"
            dial_end("ANSWER")
            agent.calls_answered += 1
            self._device_state(agent)
            await self._talk(call, agent)
            self.channel_down(peer, 16)
            return "ANSWER", -1
        finally:
            agent.call = None
            self.bridges.pop(peer.name, None)
            self.bridges.pop(caller.name, None)
            self.channels.pop(peer.name, None)
            self._device_state(agent)
            self._agents_changed.set()

    # ---- calls the ACD did not make ------------------------------------------------

    async def start_private_call(self, endpoint: str) -> None:
        """The agent is now on a call the ACD did not make (phone INUSE)."""
        agent = self.agents[endpoint]
        agent.private_call = True
        self._device_state(agent)

    async def end_private_call(self, endpoint: str) -> None:
        agent = self.agents[endpoint]
        agent.private_call = False
        self._device_state(agent)
        self._agents_changed.set()

    async def after_agi(self, call: FakeCall) -> None:
        """The shipped dialplan after ``AGI()`` returned on a live channel."""
        result = call.variables.get("ACD_RESULT", "")
        answered = call.variables.get("DIALSTATUS", "") == "ANSWER"
        if result or (answered and self.answered_is_final):
            return  # ACD_TARGET or Hangup(): the fake just ends the call
        await self._fallback_queue(call)

    async def _fallback_queue(self, call: FakeCall) -> None:
        """``Queue(<queue>-fallback)``: ring idle agents until one answers or
        the caller gives up."""
        call.fell_back = True
        while not call.dead and not self._closed:
            agent = next(
                (a for a in self.agents.values()
                 if a.registered and a.call is None and not a.private_call
                 and a.behaviour == AgentBehaviour.ANSWER),
                None,
            )
            if agent is None:
                self._agents_changed.clear()
                waiters = [asyncio.ensure_future(call._hangup_event.wait()),
                           asyncio.ensure_future(self._agents_changed.wait())]
                try:
                    await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                continue
            agent.private_call = True
            self._device_state(agent)
            try:
                if await call._sleep_or_hangup(agent.ring_delay):
                    return
                call.fallback_agent = agent.endpoint
                agent.fallback_calls += 1
                call._bridged = True
                await self._talk(call, agent)
            finally:
                agent.private_call = False
                self._device_state(agent)
                self._agents_changed.set()
            return

    # ---- Asterisk restarts -----------------------------------------------------------

    async def restart(self) -> None:
        """``core restart now``: AMI clients are dropped; until :meth:`boot`
        the modules are not loaded (DeviceStateList is an unknown command)."""
        self.ami.booted = False
        self.drop_ami_clients()

    def boot(self) -> None:
        """The restarted Asterisk finished loading: ``FullyBooted`` to every client."""
        self.ami.booted = True
        self.emit("FullyBooted", [("Uptime", "1"), ("LastReload", "1"),
                                  ("Status", "Fully Booted")], privilege="system,all")

    async def _talk(self, call: FakeCall, agent: FakeAgent) -> None:
        """Wait for the talk time, the caller's hang-up or the agent's hang-up."""
        waiters = [
            asyncio.ensure_future(call._hangup_event.wait()),
            asyncio.ensure_future(agent.hangup_now.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=agent.talk_seconds, return_when="FIRST_COMPLETED")
        finally:
            for waiter in waiters:
                waiter.cancel()
            for waiter in waiters:
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    # ---- callers -----------------------------------------------------------------------

    async def place_call(
        self,
        script: str = "inbound?queue=support",
        *,
        caller_id: str = "5551234",
        caller_name: str = "",
        patience: float | None = None,
        dtmf: str = "",
        args: Sequence[str] = (),
        uniqueid: str | None = None,
    ) -> FakeCall:
        """Place a call into the ACD's FastAGI port; returns once the header is sent.

        ``uniqueid`` forces the channel's ``agi_uniqueid`` (to test duplicates).

        The call then runs in a task owned by this fake until the ACD closes the
        socket. A call that cannot connect ends at once with outcome ``failed``.
        """
        if not self.agi_port:
            raise RuntimeError("FakeAsterisk.agi_port is not set")
        channel = self.new_channel(
            "caller",
            caller_num=caller_id,
            caller_name=caller_name,
            context="from-callers",
            exten="100",
        )
        if uniqueid is not None:
            channel.uniqueid = channel.linkedid = uniqueid
        channel.state = 6  # the dialplan Answer()s before AGI()
        channel.connected_num, channel.connected_name = (
            channel.caller_num,
            caller_name or "<unknown>",
        )
        call = FakeCall(
            self,
            script=script,
            channel=channel,
            caller_id=caller_id,
            caller_name=caller_name,
            patience=patience,
            dtmf=dtmf,
            args=args,
        )
        self.calls.append(call)
        self.active_calls.add(call)
        self._spawn(call.run(), f"fake-call-{channel.seq}")
        await call._started.wait()
        return call

    def call_finished(self, call: FakeCall) -> None:
        self.active_calls.discard(call)

    # ---- AMI actions -------------------------------------------------------------------

    def _handle_action(self, request: AmiMessage) -> list[AmiMessage] | None:
        """The answer to an AMI action about the simulated world; None: "no such action".

        The bare PBX knows no action; :class:`telephony.fake.asterisk.FakeAsterisk`
        answers them from :mod:`telephony.fake.ami_actions`.
        """
        return None
