"""Redis key layout, in one place.

Every process (ACD instances, wallboard, exporter) builds keys through
:class:`Keys` so the layout can only change here.

Layout (prefix ``{acd}:`` by default; a configured prefix without a
``{hash tag}`` gets one, ``acd:`` -> ``{acd}:``, so every key of one
installation hashes to one Redis Cluster slot and every Lua script can run on
Redis Cluster and cluster-mode managed Redis):

- ``agents``                 set of agent ids known to the store
- ``agent:{id}``             hash, fields in docs/contracts.md
- ``call:{id}``              hash, fields in docs/contracts.md
- ``queue:{q}:waiting``      sorted set of waiting call ids, score = routing order
                             (arrival - priority * 1e6: higher priority first,
                             then earliest arrival)
- ``queue:{q}:arrivals``     sorted set of the same call ids, score = arrival epoch
                             (longest wait = now - lowest score)
- ``queue:{q}:callbacks``    set of the waiting call ids that are callbacks
- ``ringing``                set of agents holding a reservation (ringing)
- ``calls:active``           set of call ids alive (waiting, ringing, on call)
- ``stats:{q}:{epoch}``      hash of interval counters, epoch = interval start (UTC
                             seconds, a multiple of 900); fields:
                             :data:`acd.core.intervals.COUNTER_FIELDS`
- ``stats:index:{q}``        sorted set of interval epochs that have counters
- ``queues``                 set of queue names seen
- ``events``                 stream: contact records and state changes
- ``changes``                pub/sub channel: one small JSON message per change
- ``instances``              set of ACD instance ids that registered
- ``instance:{id}``          the instance's lease: a key with a TTL (PX), renewed
                             by its heartbeat; gone = the process is dead
- ``resv:{agent}``           an agent's reservation lease while ringing: the call
                             id, with a TTL a little longer than the ring timeout
- ``generation``             random id written once; missing = Redis came back empty
- ``contact:{call}``         a finished contact's summary (90 days), for histories
- ``history:{caller id}``    sorted set of the caller's last 20 contacts, by arrival
- ``last_assigned:{q}``     the agent the queue offered a call to last (round robin)
- ``available``              sorted set of agents available and reachable,
                             score = idle_since (longest idle first)
- ``wrapups``                sorted set agent id -> wrap-up end epoch
- ``owner:{instance}``       set of call ids whose FastAGI socket that ACD
                             process holds
- ``offers:{instance}``      pub/sub channel: call ids reserved for an agent,
                             for the process that owns the call
- ``session:{id}``           hash: one agent-desk sign-in (wallboard), with a TTL
- ``signin:{user}:{ip}``     failed sign-ins of one user from one address (TTL)
"""

from __future__ import annotations

from dataclasses import dataclass


def hash_tagged(prefix: str) -> str:
    """``acd:`` -> ``{acd}:``; a prefix that already has a ``{tag}`` is kept."""
    if "{" in prefix and "}" in prefix.split("{", 1)[1]:
        return prefix
    core = prefix.rstrip(":") or "acd"
    return "{" + core + "}:"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "{acd}:"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", hash_tagged(self.prefix))

    @property
    def agents(self) -> str:
        return f"{self.prefix}agents"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def call(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    def waiting(self, queue: str) -> str:
        return f"{self.prefix}queue:{queue}:waiting"

    def arrivals(self, queue: str) -> str:
        return f"{self.prefix}queue:{queue}:arrivals"

    def waiting_callbacks(self, queue: str) -> str:
        return f"{self.prefix}queue:{queue}:callbacks"

    @property
    def ringing(self) -> str:
        return f"{self.prefix}ringing"

    @property
    def active_calls(self) -> str:
        return f"{self.prefix}calls:active"

    def stats(self, queue: str, interval_start: int) -> str:
        return f"{self.prefix}stats:{queue}:{interval_start}"

    def stats_index(self, queue: str) -> str:
        return f"{self.prefix}stats:index:{queue}"

    @property
    def queues(self) -> str:
        return f"{self.prefix}queues"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def changes(self) -> str:
        return f"{self.prefix}changes"

    @property
    def instances(self) -> str:
        return f"{self.prefix}instances"

    def instance(self, instance_id: str) -> str:
        return f"{self.prefix}instance:{instance_id}"

    def reservation(self, agent_id: str) -> str:
        return f"{self.prefix}resv:{agent_id}"

    def contact(self, call_id: str) -> str:
        return f"{self.prefix}contact:{call_id}"

    def history(self, caller_id: str) -> str:
        return f"{self.prefix}history:{caller_id}"

    def last_assigned(self, queue: str) -> str:
        return f"{self.prefix}last_assigned:{queue}"

    @property
    def generation(self) -> str:
        return f"{self.prefix}generation"

    @property
    def available(self) -> str:
        return f"{self.prefix}available"

    @property
    def wrapups(self) -> str:
        return f"{self.prefix}wrapups"

    def owner_calls(self, instance_id: str) -> str:
        return f"{self.prefix}owner:{instance_id}"

    def offers(self, instance_id: str) -> str:
        return f"{self.prefix}offers:{instance_id}"

    def session(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def signin_failures(self, user: str, address: str) -> str:
        return f"{self.prefix}signin:{user}:{address}"
