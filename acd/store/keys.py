"""Redis key layout, in one place.

Every process (ACD instances, wallboard, exporter) builds keys through
:class:`Keys` so the layout can only change here.

Layout (prefix ``{acd}:`` by default; a configured prefix without a
``{hash tag}`` gets one, ``acd:`` -> ``{acd}:``, so every key of one
installation hashes to one Redis Cluster slot and every Lua script can run on
Redis Cluster and cluster-mode managed Redis):

- ``agents``                 set of agent ids known to the store
- ``agent:{id}``             hash, see :data:`AGENT_FIELDS`
- ``call:{id}``              hash, see :data:`CALL_FIELDS`
- ``queue:{q}:waiting``      sorted set of waiting call ids, score = routing order
                             (arrival - priority * 1e6: higher priority first,
                             then earliest arrival)
- ``queue:{q}:arrivals``     sorted set of the same call ids, score = arrival epoch
                             (longest wait = now - lowest score)
- ``calls:active``           set of call ids alive (waiting, ringing, on call)
- ``stats:{q}:{epoch}``      hash of interval counters, epoch = interval start (UTC
                             seconds, a multiple of 900); see :data:`COUNTER_FIELDS`
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

INTERVAL_SECONDS = 900

# Wait-time histogram buckets (upper bounds, seconds) for the median wait.
# Counter field names are ``wait_le_{bound}``; waits above the last bound go
# to ``wait_gt_{last}``.
WAIT_BUCKETS: tuple[int, ...] = (
    *range(5, 121, 5),  # 5 s resolution up to the 120 s target
    *range(130, 301, 10),
    *range(330, 601, 30),
    900,
    1200,
    1800,
    3600,
)

COUNTER_FIELDS: tuple[str, ...] = (
    "offered",
    "answered",
    "answered_within_target",
    "abandoned",  # all abandons, short ones included
    "short_abandoned",
    "timed_out",  # left by max wait / full queue (overflow or exit)
    "lost",  # an ACD process died holding the caller: the dialplan fallback took it
    "handle_seconds",  # talk + wrap-up, over answered calls
    "talk_seconds",
    "wrap_seconds",
    "wait_seconds",  # total wait of answered calls
    "abandon_wait_seconds",
    "handled",  # calls whose wrap-up finished (AHT denominator)
    "dispositioned",  # answered calls whose agent recorded a disposition
    "resolved",  # ... with a disposition that counts as resolved
    "csat_answers",  # post-call surveys answered (1-5)
    "csat_good",  # ... with 4 or 5
    "callback_requested",  # callers who left the line to be called back
    "callback_answered",  # callbacks that reached the caller (also in "answered")
    "callback_failed",  # callbacks given up after the last attempt
)

AGENT_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "state",  # logged_out | available | ringing | on_call | wrap_up | paused
    "state_since",  # epoch seconds (float)
    "pause_reason",
    "queue",  # current call's queue, "" when none
    "call_id",
    "reachable",  # "1" softphone registered/reachable, "0" not
    "missed",  # consecutive missed rings
    "idle_since",  # epoch the agent last became available (longest idle)
    "calls",  # calls answered since login
    "talk_seconds",
    "wrap_until",  # epoch wrap-up ends, "" when not in wrap-up
    "endpoint",  # dial string, e.g. PJSIP/1001
    "pending",  # "pause" or "logout" once the current call is over
    "pending_reason",
    "phone_busy",  # "1": the phone is in use on a call the ACD did not make
)

CALL_FIELDS: tuple[str, ...] = (
    "id",
    "queue",
    "caller_id",
    "caller_name",
    "arrival",  # epoch when the caller first entered any queue
    "queue_arrival",  # epoch when it entered the current queue
    "priority",
    "state",  # waiting | ringing | on_call | wrap_up | done
    "agent",
    "owner",  # ACD instance id holding the FastAGI socket
    "tried",  # comma-separated agents who missed this call
    "answered",  # epoch answered
    "wait",  # seconds from arrival to answer (or to leaving)
    "talk",
    "wrap",
    "outcome",  # answered | abandoned | short_abandoned | timed_out | overflowed | lost
    "ended",
)


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


def interval_start(epoch: float, interval: int = INTERVAL_SECONDS) -> int:
    """Start (UTC epoch seconds) of the interval holding ``epoch``."""
    return int(epoch // interval) * interval


def wait_bucket_field(wait_seconds: float) -> str:
    """Histogram counter field for one answered call's wait."""
    for bound in WAIT_BUCKETS:
        if wait_seconds <= bound:
            return f"wait_le_{bound}"
    return f"wait_gt_{WAIT_BUCKETS[-1]}"
