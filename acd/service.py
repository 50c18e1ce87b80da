"""The ACD service of one process: call flow, agents, presence, timers, and
the reconciler that makes Redis converge to the truth after any fault.

Owns its background tasks (offer listener, wrap-ups, sweeper, reconciler),
each supervised: a task that dies is logged once and restarted. The
composition root (``callcenter``) gives it a Redis client, attaches an AMI
client and serves :meth:`AcdService.routes` over FastAGI.

Self-healing, level-triggered: every ``lease / 3`` seconds the reconciler
renews this process's lease, notices a Redis that came back empty (the
generation marker is gone), retries call exits Redis did not take, frees
agents whose reservation lease ran out, re-queues live callers Redis lost,
settles calls this process owns but no longer holds, reaps processes whose
lease expired (only after this process has itself seen Redis healthy for a
whole lease, so an outage alone never reaps a healthy peer), and ends
wrap-ups and orphaned conversations. After a Redis or AMI reconnect it also
re-reads presence and device states from Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from acd.agents import AgentCommands, AgentFeatureCodes
from acd.call_flow import REQUEUE, CallFlow
from acd.callbacks import Callbacks
from acd.core.models import LIVE_CALL_STATES, AgentState, CallState
from acd.core.settings import Config
from acd.degraded import Degraded
from acd.dispatcher import Dispatcher
from acd.presence import agents_by_endpoint, parse_answer, parse_presence
from acd.store.store import Store
from telephony.agi_server import AgiSession
from telephony.ami_client import AmiClient
from telephony.ami_codec import AmiMessage
from telephony.errors import AmiActionFailed, AmiError

log = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]

PRESENCE_RESYNC_SECONDS = 60.0
AGENT_SCAN_SECONDS = 2.0  # how often every agent's state is checked against timers
PRUNE_SECONDS = 10.0  # how often waiting sets are checked against their calls
# After a Redis restart every peer needs a moment to reconnect and renew its
# lease; none is judged dead before Redis has been up 2 leases plus this.
REAP_GRACE_SECONDS = 5.0


class AcdService:
    """Everything one ACD process does, minus the sockets it is given."""

    def __init__(
        self,
        config: Config,
        redis: aioredis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        instance_id: str | None = None,
        lease: float | None = None,
        sweep_interval: float = 0.5,
    ) -> None:
        self.config = config
        self.clock = clock
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.store = Store(redis, config.redis)
        self.degraded = Degraded(clock=clock)
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
            degraded=self.degraded,
        )
        self.callbacks = Callbacks(
            config, self.store, self.flow, clock, self._spawn_task, lambda: self.ami,
            self.degraded, self.instance_id,
        )
        self.dispatcher.on_callback = self.callbacks.start
        self.features = AgentFeatureCodes(config, self.commands)
        self._by_endpoint = agents_by_endpoint({a.id: a.endpoint for a in config.agents})
        self.lease = lease if lease is not None else config.redis.instance_lease_seconds
        self._sweep_interval = sweep_interval
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._matches: set[asyncio.Task[None]] = set()
        # Last reachability / phone-in-use written per agent by this process:
        # repeated device-state events then cost no Redis round trip.
        self._reachable: dict[str, bool] = {}
        self._busy: dict[str, bool] = {}
        # One timer for the earliest wrap-up end: constant size whatever the uptime.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self.ami: AmiClient | None = None
        self.agi_listening = False
        self._closing = False
        self._generation = ""
        # monotonic time since Redis has answered without a break (None: failing)
        self._redis_ok_since: float | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_wanted = asyncio.Event()
        self._last_prune = -float("inf")
        self.prune_interval = PRUNE_SECONDS
        self.resyncs = 0  # presence resyncs completed
        self._passes = 0
        self.reaped: list[str] = []  # instances this process reaped (for operators/tests)

    # ---- wiring ------------------------------------------------------------

    def routes(self) -> dict[str, Handler]:
        routes: dict[str, Handler] = {
            "inbound": self.flow.handle,
            "callback": self.callbacks.handle,
        }
        routes.update(self.features.routes())  # type: ignore[arg-type]
        return routes

    def attach_ami(self, client: AmiClient) -> None:
        self.ami = client
        client.on_event(None, self._on_ami_event)
        client.on_reconnect(self._on_ami_reconnect)

    async def _on_ami_reconnect(self) -> None:
        self.request_resync()

    def health(self) -> Mapping[str, str]:
        ami = "n/a" if self.ami is None else ("up" if self.ami.connected else "down")
        out = {"ami": ami, "fastagi": "up" if self.agi_listening else "down"}
        out["redis"] = "up"
        out.update(self.degraded.report())
        return out

    async def start(self) -> None:
        self._generation = await self.store.claim_generation(uuid.uuid4().hex)
        await self.store.ensure_agents(self.config.agents, self.clock())
        await self.store.heartbeat(self.instance_id, self.lease, self.clock())
        self._redis_ok_since = self._monotonic()
        self._spawn("acd-offers", self._offer_listener)
        self._spawn("acd-wrap-ups", self._wrap_ups)
        self._spawn("acd-sweeper", self._sweeper)
        self._spawn("acd-reconciler", self._reconciler)
        self._spawn("acd-resync", self._resyncer)

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Stop background work (bounded); record this process's waiting
        callers as lost (their sockets close: the dialplan fallback has them)."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        tasks = [*self._tasks, *self._matches]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._tasks.clear()
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(timeout):
                await self.flow.settle_pending()
                # Dropping the lease now (not waiting for it to expire) lets the
                # other processes end this one's conversations from device states.
                await self.store.forget_instance(self.instance_id)

    # ---- supervision -------------------------------------------------------

    @staticmethod
    def _monotonic() -> float:
        return asyncio.get_running_loop().time()

    def _spawn(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._supervise(name, body), name=name))

    async def _supervise(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run a service loop; if it dies, log it once and start it again."""
        delay = 0.5
        while not self._closing:
            try:
                await body()
                return
            except (RedisError, OSError) as exc:
                self._redis_failed(name, exc)
            except Exception:
                log.exception("%s died; restarting it in %.1f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _redis_failed(self, what: str, exc: BaseException) -> None:
        self._redis_ok_since = None
        self.degraded.failed("redis", what, exc)

    # ---- timers and sweeping ----------------------------------------------

    def _phone_unreachable(self, agent_id: str) -> None:
        """Dial found the phone unreachable: forget the cached presence so the
        next "Reachable" from AMI is applied, not skipped as a repeat."""
        self._reachable[agent_id] = False

    def _agent_free(self, agent_id: str) -> None:
        """Match a freed agent in a task this service owns."""
        self._spawn_task(self._match_agent(agent_id))

    def _spawn_task(self, coro: Coroutine[Any, Any, None]) -> None:
        """A short job (a match, a callback) in a task this service owns."""
        if self._closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._matches.add(task)
        task.add_done_callback(self._matches.discard)

    async def _match_agent(self, agent_id: str) -> None:
        try:
            await self.dispatcher.match_agent(agent_id)
        except (RedisError, OSError) as exc:
            self._redis_failed("matching a freed agent", exc)

    async def _expire_wrap_up(self, agent_id: str, now: float) -> None:
        if await self.store.wrap_up_expired(agent_id, now):
            await self.dispatcher.match_agent(agent_id)

    def _wake_at(self, _agent_id: str, at: float) -> None:
        """Wake the wrap-up loop at ``at`` (one timer: the earliest asked for)."""
        if at >= self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, at - self.clock())
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        self._wake.set()

    async def _wrap_ups(self) -> None:
        """Wrap-up ends, woken by the timer (and checked every sweep interval,
        so wrap-ups started by a process that has since died end too)."""
        pause = self._sweep_interval
        loop = asyncio.get_running_loop()
        while not self._closing:
            # A timer sets the event: a plain wait, so a cancel is never lost
            # in a race with a timeout (Python 3.11's asyncio.timeout can).
            timer = loop.call_later(pause, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
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
            except (RedisError, OSError) as exc:
                self._redis_failed("ending wrap-ups", exc)
                pause = min(max(pause * 2, self._sweep_interval), 5.0)

    async def _sweeper(self) -> None:
        """The periodic full sweep (skill relaxation, anything missed) and the
        periodic presence resync, in its own task so it never delays a
        wrap-up's match."""
        next_presence = self._monotonic() + PRESENCE_RESYNC_SECONDS
        pause = self._sweep_interval
        while not self._closing:
            await asyncio.sleep(pause)
            try:
                await self.dispatcher.sweep()
                if self._monotonic() >= next_presence:
                    # Self-healing presence: a phone marked unreachable by a
                    # failed Dial comes back even if AMI reports no change.
                    next_presence = self._monotonic() + PRESENCE_RESYNC_SECONDS
                    self.request_resync()
                pause = self._sweep_interval
            except (RedisError, OSError) as exc:
                self._redis_failed("sweeping queues", exc)
                pause = min(pause * 2, 5.0)

    # ---- reconciliation ----------------------------------------------------

    async def _reconciler(self) -> None:
        interval = max(0.05, self.lease / 3)
        next_scan = 0.0
        while not self._closing:
            try:
                await self.reconcile(full=self._monotonic() >= next_scan)
                if self._monotonic() >= next_scan:
                    next_scan = self._monotonic() + AGENT_SCAN_SECONDS
                await asyncio.sleep(interval)
            except (RedisError, OSError) as exc:
                self._redis_failed("renewing the instance lease", exc)
                await asyncio.sleep(min(interval, 0.5))

    async def reconcile(self, *, full: bool = True) -> None:
        """One pass of the reconciler (see the module docstring)."""
        now = self.clock()
        beat = await self.store.heartbeat(self.instance_id, self.lease, now)
        recovered = self.degraded.recovered("redis")
        if self._redis_ok_since is None:
            self._redis_ok_since = self._monotonic()
        if beat.generation != self._generation:
            await self._redis_reset(beat.generation)
        elif beat.reregistered and not recovered:
            log.warning("this ACD instance %s had been reaped as dead (a long pause or a "
                        "partition); its live callers are queued again", self.instance_id)
        await self.flow.settle_pending()
        self._passes += 1
        if recovered or self._passes % 3 == 0:
            # before the reservations below are judged: this process's own
            # Dials in flight are the truth about them
            await self.flow.reassert()
        for agent_id in await self.store.expire_reservations(now):
            log.warning("agent %s: reservation lease ran out; freed", agent_id)
            self._agent_free(agent_id)
        await self._check_owned_calls(now)
        await self._reap_dead_instances(now)
        if full:
            await self._scan_agents(now)
            if self._monotonic() - self._last_prune >= self.prune_interval:
                self._last_prune = self._monotonic()
                for queue in self.config.queues:
                    pruned = await self.store.prune_waiting(queue.name, now)
                    if pruned:
                        log.warning("queue %s: %d waiting entries without a waiting call "
                                    "removed", queue.name, pruned)
        if recovered:
            log.info("Redis reachable again: re-reading presence and device states")
            self.request_resync()

    async def _redis_reset(self, seen: str) -> None:
        """The generation marker changed or is gone: Redis lost its data."""
        if seen:
            self._generation = seen  # a peer noticed first and re-created the agents
        else:
            self._generation = await self.store.claim_generation(uuid.uuid4().hex)
        await self.store.ensure_agents(self.config.agents, self.clock())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))
        log.error(
            "Redis came back EMPTY (generation marker gone): state and today's counters "
            "were lost; %d configured agents re-created, logged out; live callers are "
            "queued again. Production Redis needs persistence (appendonly yes) or a "
            "replica (Sentinel): see docs/asterisk.md", len(self.config.agents))
        self.degraded.notes["redis_reset"] = (
            f"Redis came back empty at {stamp}: agents re-created logged out"
        )
        self.request_resync()

    async def _check_owned_calls(self, now: float) -> None:
        """Compare the calls Redis says this process owns with the sockets it
        holds: deliver reservations whose notification was lost, re-queue
        live callers Redis no longer has, settle calls nobody holds."""
        owned = {cid: (st, ag) for cid, st, ag in
                 await self.store.owned_call_states(self.instance_id)}
        for call_id, (state, agent) in owned.items():
            if call_id in self.flow.live:
                if state is CallState.RINGING and agent:
                    self.dispatcher.deliver(call_id, agent)
                continue
            if call_id in self.flow.unsettled:
                continue
            queue = self.config.queue(await self._queue_of(call_id))
            if queue is not None and state in LIVE_CALL_STATES:
                log.warning("call %s is %s in Redis but this process holds no socket for "
                            "it: settled", call_id, state)
                await self.flow.settle(call_id, queue, False, now)
        waiting = [cid for cid, live in self.flow.live.items() if live.waiting]
        if not waiting:
            return
        rows = await self.store.call_rows(waiting, "state", "owner")
        for call_id in waiting:
            row = rows.get(call_id, {})
            if row.get("state") in LIVE_CALL_STATES and row.get("owner") == self.instance_id:
                continue
            self.dispatcher.deliver(call_id, REQUEUE)

    async def _queue_of(self, call_id: str) -> str:
        call = await self.store.call_for_routing(call_id)
        return call.queue if call is not None else ""

    async def _reap_dead_instances(self, now: float) -> None:
        # Peers are judged only once Redis has been up for two leases and a
        # grace (its own clock: after a Redis restart every peer needs a moment
        # to reconnect and renew), and only by a process that reaches Redis now.
        if self._redis_ok_since is None:
            return
        others = [i for i in await self.store.instance_ids() if i != self.instance_id]
        if not others:
            return
        dead = [i for i, alive in (await self.store.alive(others)).items() if not alive]
        if not dead or await self.store.redis_uptime() < self.lease * 2 + REAP_GRACE_SECONDS:
            return
        bridged = await self._bridged_channels()
        for instance in dead:
            # Conversations the dead process connected but never recorded (the
            # answer came after it died): Asterisk shows the caller bridged.
            for call_id, state, agent in await self.store.owned_call_states(instance):
                if state is CallState.RINGING and agent and call_id in bridged:
                    if await self.store.agent_answered(agent, call_id, now):
                        log.info("call %s of dead instance %s is bridged to agent %s: "
                                 "recorded answered", call_id, instance, agent)
            freed = await self.store.reap_instance(instance, now)
            if freed is None:
                continue
            self.reaped.append(instance)
            log.warning("ACD instance %s lost its lease: its waiting callers went to the "
                        "dialplan fallback (recorded lost), %d agent(s) freed",
                        instance, len(freed))
            for agent_id in freed:
                self._agent_free(agent_id)
            self.request_resync()  # device states end its conversations

    async def _bridged_channels(self) -> set[str]:
        """Uniqueids of the channels Asterisk has in a bridge now (empty when
        AMI is down: then nothing is claimed answered)."""
        if self.ami is None or not self.ami.connected:
            return set()
        try:
            _, channels = await self.ami.action_list("CoreShowChannels")
        except AmiError as exc:
            log.info("CoreShowChannels failed: %s", exc)
            return set()
        return {ch.get("Uniqueid") or "" for ch in channels if ch.get("BridgeId")}

    async def _scan_agents(self, now: float) -> None:
        """Every agent against the clocks: wrap-ups whose timer was lost end,
        conversations of calls that are over free their agent."""
        ids = [a.id for a in self.config.agents]
        rows = await self.store.agent_rows(ids, "state", "call_id", "wrap_until", "phone_busy")
        for agent_id, row in rows.items():
            state = row.get("state", "")
            if state == AgentState.WRAP_UP:
                try:
                    until = float(row.get("wrap_until") or 0)
                except ValueError:
                    until = 0.0
                if until <= now:
                    await self._expire_wrap_up(agent_id, now)
            elif state == AgentState.ON_CALL and row.get("phone_busy") != "1":
                await self._device_idle(agent_id)

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
                self._redis_failed("listening for offers", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    # ---- AMI ---------------------------------------------------------------

    def _agent_for(self, endpoint: str) -> str | None:
        return self._by_endpoint.get(endpoint.lower())

    async def _on_ami_event(self, msg: AmiMessage) -> None:
        try:
            if (msg.event or "").lower() == "originateresponse":
                await self.callbacks.on_originate_response(msg)
                return
            if (msg.event or "").lower() == "fullybooted":
                # Sent with every login, and when a restarted Asterisk has
                # loaded its modules (a resync before that fails and is retried).
                self.request_resync()
                return
            update = parse_presence(msg)
            if update is not None:
                agent_id = self._agent_for(update.endpoint)
                if agent_id is None:
                    return
                now = self.clock()
                freed = False
                if (
                    update.reachable is not None
                    and self._reachable.get(agent_id) is not update.reachable
                ):
                    changed = await self.store.set_reachable(agent_id, update.reachable, now)
                    self._reachable[agent_id] = update.reachable
                    freed = changed and update.reachable
                if update.in_use is not None and self._busy.get(agent_id) is not update.in_use:
                    changed = await self.store.set_phone_busy(agent_id, update.in_use, now)
                    self._busy[agent_id] = update.in_use
                    freed = freed or (changed and not update.in_use)
                if update.in_use is False:
                    await self._device_idle(agent_id)
                if freed:
                    await self.dispatcher.match_agent(agent_id)
                return
            answer = parse_answer(msg)
            if answer is not None:
                agent_id = self._agent_for(answer.endpoint)
                if agent_id is not None:
                    # Idempotent: only the ringing agent of exactly this call.
                    await self.store.agent_answered(agent_id, answer.call_id, self.clock())
        except (RedisError, OSError) as exc:
            # The reconnect resync re-reads device states, so nothing stays wrong.
            self._redis_failed(f"applying AMI {msg.event}", exc)
            self._reachable.clear()
            self._busy.clear()

    async def _device_idle(self, agent_id: str) -> None:
        """The agent's phone is idle: a conversation Redis still shows, whose
        call no live process handles any more, is over."""
        state, _, call_id = await self.store.agent_routing_state(agent_id)
        if state != AgentState.ON_CALL:
            return
        call = await self.store.call_for_routing(call_id) if call_id else None
        if call is not None and call.state is CallState.ON_CALL and call.owner:
            if call.owner == self.instance_id:
                if call_id in self.flow.live or call_id in self.flow.unsettled:
                    return  # this process's session will see the Dial end
            elif (await self.store.alive([call.owner])).get(call.owner):
                return  # the owning process will see the Dial end
        if await self.store.orphan_ended(call_id, agent_id, self.clock()):
            log.info("agent %s: conversation %s ended with no ACD session; agent freed",
                     agent_id, call_id)
            await self.dispatcher.match_agent(agent_id)

    async def _check_devices(self) -> None:
        """Apply current device states (phones in use; conversations of dead
        ACD processes that are over)."""
        if self.ami is None or not self.ami.connected:
            return
        _, devices = await self.ami.action_list("DeviceStateList")
        now = self.clock()
        for event in devices:
            update = parse_presence(event)
            if update is None:
                continue
            agent_id = self._agent_for(update.endpoint)
            if agent_id is None:
                continue
            if update.in_use is not None:
                if await self.store.set_phone_busy(agent_id, update.in_use, now) \
                        and not update.in_use:
                    self._agent_free(agent_id)
                self._busy[agent_id] = update.in_use
            if update.in_use is False:
                await self._device_idle(agent_id)

    def request_resync(self) -> None:
        """Ask for a presence and device-state resync (after an AMI or Redis
        reconnect, a reaped peer, Asterisk booting); retried until it works."""
        self._resync_wanted.set()

    async def _resyncer(self) -> None:
        delay = 0.2
        while not self._closing:
            await self._resync_wanted.wait()
            self._resync_wanted.clear()
            if await self.resync():
                delay = 0.2
                continue
            # Asterisk still booting (DeviceStateList refused), AMI or Redis
            # down: try again, backing off, until it works.
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
            if self.ami is not None:
                self._resync_wanted.set()

    async def resync(self) -> bool:
        """Rebuild presence from AMI: contacts, then device states. True when done."""
        if self.ami is None or not self.ami.connected:
            return False
        try:
            try:
                _, contacts = await self.ami.action_list("PJSIPShowContacts")
            except AmiActionFailed as exc:
                # Asterisk answers an empty list with an error ("No Contacts found").
                if "no contacts" not in (exc.message or "").lower():
                    raise
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
            self.resyncs += 1
            log.info(
                "AMI resync: %d of %d agent phones reachable",
                len(reachable),
                len(self.config.agents),
            )
            return True
        except AmiError as exc:
            log.warning("AMI resync failed (%s); retrying", exc)
        except (RedisError, OSError) as exc:
            self._redis_failed("resynchronising presence", exc)
        return False
