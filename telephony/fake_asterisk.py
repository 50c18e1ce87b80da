"""A fake Asterisk on loopback, for tests, ``make demo`` and the benchmarks.

It speaks the real protocols, byte-compatible with the Asterisk 22 recordings:

* an AMI server (:mod:`telephony.fake_ami`) that logs clients in, answers
  ``Ping``, ``CoreStatus``, ``Command``, ``PJSIPShowEndpoint(s)``,
  ``PJSIPShowContacts``, ``DeviceStateList``, ``CoreShowChannels``,
  ``Hangup``, ``Originate``, and sends ``ContactStatus``,
  ``DeviceStateChange``, ``Newchannel``, ``Newstate``, ``DialBegin``,
  ``DialEnd`` and ``Hangup`` events as calls progress;
* a FastAGI client (:mod:`telephony.fake_agi`) that places calls into the
  ACD the way Asterisk's ``AGI(agi://...)`` does;
* simulated SIP agents (:class:`FakeAgent`): register/unregister, ring delay,
  answer / no answer / busy / unreachable, talk time, and calls the ACD did
  not make (:meth:`FakeAsterisk.start_private_call`: agent to agent), which
  put the phone ``INUSE`` so a Dial to it gets ``BUSY``;
* the shipped dialplan after ``AGI()`` returns on a live channel: no
  ``ACD_RESULT`` and no answered Dial -> the Asterisk fallback queue
  (:meth:`FakeAsterisk._fallback_queue` rings idle agents; their phones are in
  use meanwhile), an answered Dial -> hang up (answered calls are final);
* an Asterisk restart (:meth:`FakeAsterisk.restart`): AMI logins work before
  the modules are loaded, ``DeviceStateList`` and the PJSIP lists answer
  "Invalid/unknown command" until ``FullyBooted``;
* a hung Asterisk during ``Dial`` (``hang_on_dial``): no reply, ever;
* a load generator (:meth:`FakeAsterisk.run_traffic`) with Poisson arrivals
  and caller patience.

Usage::

    async with FakeAsterisk(agi_port=acd_port) as pbx:
        pbx.add_agent("1001", talk_seconds=2)
        await pbx.register("1001")
        call = await pbx.place_call("inbound?queue=support", patience=30)
        await call.wait_done(10)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from telephony.ami_codec import AmiMessage
from telephony.fake_agi import CallOutcome, FakeCall
from telephony.fake_ami import FakeAmiServer, ami_event, ami_response, list_complete
from telephony.fake_media import FakeMedia

__all__ = [
    "AgentBehaviour",
    "CallOutcome",
    "FakeAgent",
    "FakeAsterisk",
    "FakeCall",
    "FakeChannel",
    "TrafficStats",
]

log = logging.getLogger(__name__)

_STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
_CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    20: "Subscriber absent",
}
_CALLERID = re.compile(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*')


class AgentBehaviour(enum.StrEnum):
    """What a simulated softphone does when it rings."""

    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNREACHABLE = "unreachable"


@dataclass(slots=True)
class FakeChannel:
    """A simulated Asterisk channel (the snapshot AMI events describe)."""

    name: str
    uniqueid: str
    linkedid: str
    seq: int
    caller_num: str
    caller_name: str
    context: str
    exten: str
    state: int = 0
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    priority: int = 1
    application: str = "AGI"
    app_data: str = ""
    created_at: float = field(default_factory=time.monotonic)

    def fields(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel snapshot fields, in Asterisk 22's order (``Dest`` prefix for callees)."""
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state)),
            (f"{p}ChannelStateDesc", _STATE_DESC.get(self.state, "Unknown")),
            (f"{p}CallerIDNum", self.caller_num or "<unknown>"),
            (f"{p}CallerIDName", self.caller_name or "<unknown>"),
            (f"{p}ConnectedLineNum", self.connected_num),
            (f"{p}ConnectedLineName", self.connected_name),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]


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


@dataclass(frozen=True, slots=True)
class TrafficStats:
    """What :meth:`FakeAsterisk.run_traffic` observed."""

    placed: int
    answered: int
    abandoned: int
    hung_up_by_acd: int
    closed: int
    failed: int
    unfinished: int
    not_closed_promptly: int
    mean_wait_answered: float | None
    max_wait_answered: float | None


class FakeAsterisk:
    """AMI server + FastAGI caller + simulated agents; see the module docstring.

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

    async def __aenter__(self) -> FakeAsterisk:
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
            [*channel.fields(), ("Cause", str(cause)), ("Cause-txt", _CAUSE_TEXT.get(cause, ""))],
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

    async def run_traffic(
        self,
        *,
        rate_per_second: float,
        duration: float,
        scripts: Mapping[str, float],
        patience: tuple[float, float] | None,
        seed: int,
        drain_timeout: float = 60.0,
    ) -> TrafficStats:
        """Place Poisson arrivals for ``duration`` s, then wait for those calls to end.

        ``scripts`` maps a FastAGI script (``inbound?queue=support``) to a weight;
        ``patience`` is a (min, max) uniform range of seconds, None for infinite.
        """
        rng = random.Random(seed)
        names = list(scripts)
        weights = [scripts[n] for n in names]
        loop = asyncio.get_running_loop()
        start = loop.time()
        placed: list[FakeCall] = []
        while True:
            await asyncio.sleep(rng.expovariate(rate_per_second))
            if loop.time() - start >= duration:
                break
            script = rng.choices(names, weights)[0]
            wait = rng.uniform(*patience) if patience is not None else None
            caller = f"555{rng.randint(0, 9999):04d}"
            placed.append(await self.place_call(script, caller_id=caller, patience=wait))
        pending = [c for c in placed if not c.done]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(c._done.wait() for c in pending)), drain_timeout
                )
        return traffic_stats(placed)

    # ---- AMI actions -------------------------------------------------------------------

    def _handle_action(self, request: AmiMessage) -> list[AmiMessage] | None:
        action = (request.action or "").lower()
        handler = _ACTIONS.get(action)
        if handler is None or (not self.ami.booted and action in _NEED_MODULES):
            return None  # "Invalid/unknown command", as before a module loads
        return handler(self, request)

    def _core_status(self, request: AmiMessage) -> list[AmiMessage]:
        started = time.gmtime(self.ami.started_at)
        date, clock = time.strftime("%Y-%m-%d", started), time.strftime("%H:%M:%S", started)
        return [
            ami_response(
                request,
                fields=(
                    ("CoreStartupDate", date),
                    ("CoreStartupTime", clock),
                    ("CoreReloadDate", date),
                    ("CoreReloadTime", clock),
                    ("CoreCurrentCalls", str(len(self.channels))),
                    ("CoreProcessedCalls", str(len(self.calls))),
                ),
            )
        ]

    def _core_settings(self, request: AmiMessage) -> list[AmiMessage]:
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

    def _command(self, request: AmiMessage) -> list[AmiMessage]:
        command = (request.get("Command") or "").strip()
        if command == "core show version":
            lines = ["Asterisk 22.10.1 built by fake @ fake on a x86_64 running Linux"]
        elif command == "core show channels count":
            lines = [f"{len(self.channels)} active channels", f"{len(self.calls)} calls processed"]
        elif command == "pjsip show contacts":
            lines = [
                f"  Contact:  {a.endpoint}/{a.uri}" for a in self.agents.values() if a.registered
            ]
        elif (media_lines := self.media.cli(command)) is not None:
            lines = media_lines
        else:
            text = (
                f"No such command '{command}' "
                f"(type 'core show help {command}' for other possible commands)"
            )
            return [ami_response(request, "Error", "Command output follows", (("Output", text),))]
        output = tuple(("Output", line) for line in lines)
        return [ami_response(request, "Success", "Command output follows", output)]

    def _endpoint_fields(self, agent: FakeAgent) -> list[tuple[str, str]]:
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

    def _pjsip_show_endpoints(self, request: AmiMessage) -> list[AmiMessage]:
        aid = request.action_id
        if not self.agents:
            return [ami_response(request, "Error", "No endpoints found")]
        out = [
            ami_response(
                request,
                message="A listing of Endpoints follows, presented as EndpointList events",
                event_list="start",
            )
        ]
        out += [
            ami_event("EndpointList", self._endpoint_fields(a), action_id=aid or "")
            for a in self.agents.values()
        ]
        out.append(list_complete("EndpointListComplete", request, len(self.agents)))
        return out

    def _pjsip_show_endpoint(self, request: AmiMessage) -> list[AmiMessage]:
        name = request.get("Endpoint") or ""
        agent = self.agents.get(name)
        if agent is None:
            return [ami_response(request, "Error", f"Unable to retrieve endpoint {name}")]
        aid = request.action_id or ""
        fields = self._endpoint_fields(agent)
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
                ami_event("ContactStatusDetail", self._contact_status(agent), action_id=aid)
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

    def _contact_status(self, agent: FakeAgent) -> list[tuple[str, str]]:
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

    def _pjsip_show_contacts(self, request: AmiMessage) -> list[AmiMessage]:
        registered = [a for a in self.agents.values() if a.registered]
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

    def _device_state_list(self, request: AmiMessage) -> list[AmiMessage]:
        aid = request.action_id or ""
        events = [
            ami_event(
                "DeviceStateChange",
                [("Device", a.device), ("State", a.device_state)],
                action_id=aid,
            )
            for a in self.agents.values()
        ]
        return [
            ami_response(request, message="Device State Changes will follow", event_list="start"),
            *events,
            list_complete("DeviceStateListComplete", request, len(events)),
        ]

    def _core_show_channels(self, request: AmiMessage) -> list[AmiMessage]:
        aid = request.action_id or ""
        now = time.monotonic()
        events = []
        for channel in self.channels.values():
            seconds = int(now - channel.created_at)
            duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            events.append(
                ami_event(
                    "CoreShowChannel",
                    [
                        *channel.fields(),
                        ("BridgeId", self.bridges.get(channel.name, "")),
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

    def _hangup(self, request: AmiMessage) -> list[AmiMessage]:
        name = request.get("Channel") or ""
        if name not in self.channels:
            return [ami_response(request, "Error", "No such channel")]
        for call in list(self.active_calls):
            if call.channel.name == name:
                call._caller_hangup()
                return [ami_response(request, message="Channel Hungup")]
        for agent in self.agents.values():
            if agent.call is not None and name.startswith(f"{agent.device}-"):
                agent.hangup_now.set()
        return [ami_response(request, message="Channel Hungup")]

    def _originate(self, request: AmiMessage) -> list[AmiMessage]:
        if not request.get("Channel"):
            return [ami_response(request, "Error", "Channel not specified")]
        if request.get("Context") and not request.get("Application"):
            self._spawn(self._originate_to_context(request), "fake-originate-context")
            return [ami_response(request, message="Originate successfully queued")]
        match = _CALLERID.fullmatch(request.get("CallerID") or "")
        name, number = (match.group(1), match.group(2)) if match else ("", "5551234")
        data = request.get("Data") or ""
        script = (
            data.split("/", 3)[3]
            if data.startswith("agi://") and data.count("/") >= 3
            else ("inbound?queue=support")
        )
        if self.agi_port:
            self._spawn(self._originated_call(script, number, name), "fake-originate")
        return [ami_response(request, message="Originate successfully queued")]

    async def _originated_call(self, script: str, number: str, name: str) -> None:
        await self.place_call(script, caller_id=number, caller_name=name)

    async def _originate_to_context(self, request: AmiMessage) -> None:
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
            self.emit("OriginateResponse", [
                ("ActionID", request.action_id or ""),
                ("Response", "Success" if success else "Failure"),
                ("Channel", channel), ("Context", request.get("Context") or ""),
                ("Exten", request.get("Exten") or ""), ("Reason", reason),
                ("Uniqueid", "<null>"), ("CallerIDNum", "<unknown>"),
                ("CallerIDName", "<unknown>"),
            ])

        agent = self.agents.get(endpoint)
        if agent is None or not agent.registered or agent.behaviour == AgentBehaviour.UNREACHABLE:
            self.originates.append((endpoint, False, time.monotonic()))
            respond(False, "0")
            return
        if agent.call is not None or agent.private_call or agent.behaviour == AgentBehaviour.BUSY:
            self.originates.append((endpoint, False, time.monotonic()))
            respond(False, "5")
            return
        agent.private_call = True
        self._device_state(agent)
        try:
            answers = agent.behaviour == AgentBehaviour.ANSWER and agent.ring_delay < timeout
            await asyncio.sleep(agent.ring_delay if answers else timeout)
            self.originates.append((endpoint, answers, time.monotonic()))
            if not answers:
                respond(False, "3")
                return
            respond(True, "4")
            if request.get("Context") == "acd-callback":
                call = await self.place_call(
                    f"callback?call={variables.get('ACD_CALLBACK', '')}", caller_id=endpoint,
                    caller_name=f"Agent {endpoint}",
                )
                await call._done.wait()
        finally:
            agent.private_call = False
            self._device_state(agent)
            self._agents_changed.set()


#: Actions of modules that a booting Asterisk has not loaded yet.
_NEED_MODULES = frozenset(
    {"devicestatelist", "pjsipshowcontacts", "pjsipshowendpoints", "pjsipshowendpoint"}
)

_ACTIONS = {
    "corestatus": FakeAsterisk._core_status,
    "coresettings": FakeAsterisk._core_settings,
    "command": FakeAsterisk._command,
    "pjsipshowendpoint": FakeAsterisk._pjsip_show_endpoint,
    "pjsipshowendpoints": FakeAsterisk._pjsip_show_endpoints,
    "pjsipshowcontacts": FakeAsterisk._pjsip_show_contacts,
    "devicestatelist": FakeAsterisk._device_state_list,
    "coreshowchannels": FakeAsterisk._core_show_channels,
    "hangup": FakeAsterisk._hangup,
    "originate": FakeAsterisk._originate,
}


def traffic_stats(calls: Sequence[FakeCall]) -> TrafficStats:
    """Summarise simulated calls."""
    by = {outcome: 0 for outcome in CallOutcome}
    waits: list[float] = []
    unfinished = late = 0
    for call in calls:
        if not call.done or call.outcome is None:
            unfinished += 1
            continue
        by[call.outcome] += 1
        if call.outcome == CallOutcome.ANSWERED and call.wait_seconds is not None:
            waits.append(call.wait_seconds)
        if call.hung_up_at is not None and not call.closed_promptly:
            late += 1
    return TrafficStats(
        placed=len(calls),
        answered=by[CallOutcome.ANSWERED],
        abandoned=by[CallOutcome.ABANDONED],
        hung_up_by_acd=by[CallOutcome.HUNG_UP_BY_ACD],
        closed=by[CallOutcome.CLOSED],
        failed=by[CallOutcome.FAILED],
        unfinished=unfinished,
        not_closed_promptly=late,
        mean_wait_answered=sum(waits) / len(waits) if waits else None,
        max_wait_answered=max(waits) if waits else None,
    )
