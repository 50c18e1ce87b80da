"""The ACD service of one process: call flow, agents, presence, timers.

Owns its background tasks (offer listener, sweeper/heartbeat); the
composition root (``callcenter``) gives it a Redis client, attaches an AMI
client and serves :meth:`AcdService.routes` over FastAGI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from acd.agents import AgentCommands, AgentFeatureCodes
from acd.call_flow import CallFlow
from acd.config import Config
from acd.dispatcher import Dispatcher
from acd.models import AgentState, CallState
from acd.presence import agents_by_endpoint, parse_answer, parse_presence
from acd.store import Store
from telephony.agi_server import AgiSession
from telephony.ami_client import AmiClient
from telephony.ami_codec import AmiMessage
from telephony.errors import AmiActionFailed, AmiError

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]

PRESENCE_RESYNC_SECONDS = 60.0


class AcdService:
    """Everything one ACD process does, minus the sockets it is given."""

    def __init__(
        self,
        config: Config,
        redis: aioredis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        instance_id: str | None = None,
        lost_after: float = 15.0,
        sweep_interval: float = 0.5,
        heartbeat_interval: float = 2.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.store = Store(redis, config.redis)
        self.dispatcher = Dispatcher(self.store, config, self.instance_id, clock)
        self.commands = AgentCommands(self.store, self.dispatcher, clock)
        self.flow = CallFlow(
            config,
            self.store,
            self.dispatcher,
            clock,
            self._wake_at,
            self._agent_free,
            self._phone_unreachable,
        )
        self.features = AgentFeatureCodes(config, self.commands)
        self._by_endpoint = agents_by_endpoint({a.id: a.endpoint for a in config.agents})
        self._lost_after = lost_after
        self._sweep_interval = sweep_interval
        self._heartbeat_interval = heartbeat_interval
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._matches: set[asyncio.Task[None]] = set()
        # Last reachability written per agent by this process: repeated
        # device-state events then cost no Redis round trip.
        self._reachable: dict[str, bool] = {}
        self._timers: list[asyncio.TimerHandle] = []
        self.ami: AmiClient | None = None
        self.agi_listening = False
        self._closing = False

    # ---- wiring ------------------------------------------------------------

    def routes(self) -> dict[str, Handler]:
        routes: dict[str, Handler] = {"inbound": self.flow.handle}
        routes.update(self.features.routes())  # type: ignore[arg-type]
        return routes

    def attach_ami(self, client: AmiClient) -> None:
        self.ami = client
        client.on_event(None, self._on_ami_event)
        client.on_reconnect(self.resync)

    def health(self) -> Mapping[str, str]:
        ami = "n/a" if self.ami is None else ("up" if self.ami.connected else "down")
        return {"ami": ami, "fastagi": "up" if self.agi_listening else "down"}

    async def start(self) -> None:
        await self.store.ensure_agents(self.config.agents, self.clock())
        await self.store.heartbeat(self.instance_id, self.clock())
        self._tasks.append(asyncio.create_task(self._offer_listener(), name="acd-offers"))
        self._tasks.append(asyncio.create_task(self._wrap_ups(), name="acd-wrap-ups"))
        self._tasks.append(asyncio.create_task(self._sweeper(), name="acd-sweeper"))

    async def close(self) -> None:
        """Stop background work; record this process's live calls as lost."""
        self._closing = True
        for timer in self._timers:
            timer.cancel()
        for task in [*self._tasks, *self._matches]:
            task.cancel()
        for task in [*self._tasks, *self._matches]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(RedisError, OSError):
            await self._lose_calls_of(self.instance_id)
            await self.store.forget_instance(self.instance_id)

    # ---- timers and sweeping ----------------------------------------------

    def _phone_unreachable(self, agent_id: str) -> None:
        """Dial found the phone unreachable: forget the cached presence so the
        next "Reachable" from AMI is applied, not skipped as a repeat."""
        self._reachable[agent_id] = False

    def _agent_free(self, agent_id: str) -> None:
        """Match a freed agent in a task this service owns."""
        if self._closing:
            return
        task = asyncio.get_running_loop().create_task(self._match_agent(agent_id))
        self._matches.add(task)
        task.add_done_callback(self._matches.discard)

    async def _match_agent(self, agent_id: str) -> None:
        try:
            await self.dispatcher.match_agent(agent_id)
        except (RedisError, OSError) as exc:
            log.warning("matching agent %s failed: %s (the sweeper retries)", agent_id, exc)

    async def _expire_wrap_up(self, agent_id: str, now: float) -> None:
        if await self.store.wrap_up_expired(agent_id, now):
            await self.dispatcher.match_agent(agent_id)

    def _wake_at(self, _agent_id: str, at: float) -> None:
        delay = max(0.0, at - self.clock())
        loop = asyncio.get_running_loop()
        self._timers = [t for t in self._timers if not t.cancelled()]
        self._timers.append(loop.call_later(delay, self._wake.set))

    async def _wrap_ups(self) -> None:
        """Wrap-up ends, woken by timers (and checked every sweep interval, so
        wrap-ups started by a process that has since died end too)."""
        backoff = self._sweep_interval
        pause = self._sweep_interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
            self._wake.clear()
            try:
                now = self.clock()
                due = await self.store.due_wrapups(now)
                if due:  # concurrently: one slow match must not delay the others
                    await asyncio.gather(*(self._expire_wrap_up(a, now) for a in due))
                # Sleep until the next wrap-up ends: a timer that fires a hair
                # early (monotonic vs wall clock) must not cost a whole interval.
                next_end = await self.store.next_wrapup_end()
                pause = self._sweep_interval
                if next_end is not None:
                    pause = min(pause, max(0.001, next_end - self.clock()))
                backoff = self._sweep_interval
            except (RedisError, OSError) as exc:
                log.warning("wrap-ups: Redis unavailable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _sweeper(self) -> None:
        """The periodic full sweep (skill relaxation, anything missed),
        heartbeats, the batched offer check and dead-process reaping; in its
        own task so it never delays a wrap-up's match."""
        next_beat = 0.0
        next_presence = self.clock() + PRESENCE_RESYNC_SECONDS
        backoff = self._sweep_interval
        while not self._closing:
            await asyncio.sleep(self._sweep_interval)
            try:
                now = self.clock()
                await self.dispatcher.sweep()
                if now >= next_beat:
                    await self._check_owned_calls()
                    await self.store.heartbeat(self.instance_id, now)
                    await self._reap_dead_instances(now)
                    next_beat = now + self._heartbeat_interval
                if now >= next_presence:
                    # Self-healing presence: a phone marked unreachable by a
                    # failed Dial comes back even if AMI reports no change.
                    next_presence = now + PRESENCE_RESYNC_SECONDS
                    if self.ami is not None and self.ami.connected:
                        await self.resync()
                backoff = self._sweep_interval
            except (RedisError, OSError) as exc:
                log.warning("sweeper: Redis unavailable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _check_owned_calls(self) -> None:
        """One batched read of this process's calls: delivers any reservation
        whose pub/sub notification was lost (e.g. across a Redis restart)."""
        for call_id, state, agent in await self.store.owned_call_states(self.instance_id):
            if state == "ringing" and agent:
                self.dispatcher.deliver(call_id, agent)

    async def _reap_dead_instances(self, now: float) -> None:
        for instance, beat in (await self.store.instances()).items():
            if instance != self.instance_id and now - beat > self._lost_after:
                log.warning(
                    "ACD instance %s silent for %.0f s: recording its calls", instance, now - beat
                )
                await self._lose_calls_of(instance)
                await self.store.forget_instance(instance)
                await self._check_devices()

    async def _lose_calls_of(self, instance: str) -> None:
        """Calls whose FastAGI socket died with an ACD process: the dialplan
        fallback took those callers; record them so nothing is left hanging."""
        now = self.clock()
        for call in await self.store.owned_calls(instance):
            queue = self.config.queue(call.queue)
            short = queue.short_abandon_seconds if queue else 5
            if call.state in (CallState.WAITING, CallState.RINGING):
                await self.store.leave(call.id, "lost", short, now)
                if call.agent:
                    await self.dispatcher.match_agent(call.agent)
        # on-call ones end when the agent's device goes idle (see _device_idle)

    # ---- offers from other processes --------------------------------------

    async def _offer_listener(self) -> None:
        channel = self.store.keys.offers(self.instance_id)
        while not self._closing:
            pubsub = self.store.redis.pubsub()
            try:
                await pubsub.subscribe(channel)
                while not self._closing:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is None or msg.get("type") != "message":
                        continue
                    call_id = str(msg["data"])
                    call = await self.store.call(call_id)
                    if call is not None and call.state is CallState.RINGING and call.agent:
                        self.dispatcher.deliver(call_id, call.agent)
            except (RedisError, OSError) as exc:
                log.warning("offer listener: Redis unavailable (%s); resubscribing", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    # ---- AMI ---------------------------------------------------------------

    def _agent_for(self, endpoint: str) -> str | None:
        return self._by_endpoint.get(endpoint.lower())

    async def _on_ami_event(self, msg: AmiMessage) -> None:
        try:
            update = parse_presence(msg)
            if update is not None:
                agent_id = self._agent_for(update.endpoint)
                if agent_id is None:
                    return
                now = self.clock()
                if (
                    update.reachable is not None
                    and self._reachable.get(agent_id) is not update.reachable
                ):
                    changed = await self.store.set_reachable(agent_id, update.reachable, now)
                    self._reachable[agent_id] = update.reachable
                    if changed and update.reachable:
                        await self.dispatcher.match_agent(agent_id)
                if update.in_use is False:
                    await self._device_idle(agent_id)
                return
            answer = parse_answer(msg)
            if answer is not None:
                agent_id = self._agent_for(answer.endpoint)
                if agent_id is not None:
                    # Idempotent: only the ringing agent of exactly this call.
                    await self.store.agent_answered(agent_id, answer.call_id, self.clock())
        except (RedisError, OSError) as exc:
            log.warning("AMI event %s not applied: Redis unavailable (%s)", msg.event, exc)

    async def _device_idle(self, agent_id: str) -> None:
        state, _, call_id = await self.store.agent_routing_state(agent_id)
        if state != AgentState.ON_CALL or not call_id:
            return
        call = await self.store.call_for_routing(call_id)
        if call is None:
            return
        alive = await self.store.instances()
        if call.owner in alive and call.owner:
            return  # the owning process will see the Dial end
        if await self.store.orphan_ended(call.id, agent_id, self.clock()):
            await self.dispatcher.match_agent(agent_id)

    async def _check_devices(self) -> None:
        """Apply current device states (ends calls of dead ACD processes)."""
        if self.ami is None or not self.ami.connected:
            return
        try:
            _, devices = await self.ami.action_list("DeviceStateList")
        except AmiError as exc:
            log.warning("DeviceStateList failed: %s", exc)
            return
        for event in devices:
            update = parse_presence(event)
            if update is None:
                continue
            agent_id = self._agent_for(update.endpoint)
            if agent_id is None:
                continue
            if update.in_use is False:
                await self._device_idle(agent_id)

    async def resync(self) -> None:
        """Rebuild presence after an AMI (re)connect: contacts, then device states."""
        if self.ami is None:
            return
        try:
            try:
                _, contacts = await self.ami.action_list("PJSIPShowContacts")
            except AmiActionFailed as exc:
                # Asterisk answers an empty list with an error ("No Contacts found").
                log.info("PJSIPShowContacts: %s", exc.message)
                contacts = []
            reachable: set[str] = set()
            for event in contacts:
                update = parse_presence(event)
                if update is not None and update.reachable:
                    reachable.add(update.endpoint.lower())
            now = self.clock()
            for agent in self.config.agents:
                is_reachable = agent.endpoint.lower() in reachable
                await self.store.set_reachable(agent.id, is_reachable, now)
                self._reachable[agent.id] = is_reachable
            await self._check_devices()
            await self.dispatcher.sweep()
            log.info(
                "AMI resync: %d of %d agent phones reachable",
                len(reachable),
                len(self.config.agents),
            )
        except AmiError as exc:
            log.warning("AMI resync failed: %s", exc)
        except (RedisError, OSError) as exc:
            log.warning("AMI resync: Redis unavailable (%s)", exc)
