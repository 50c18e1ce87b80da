"""Each agent's day so far, from the ACD's event stream.

The stream's ids are Redis millisecond timestamps, so today starts at
``XRANGE events <local midnight ms>-0 +``. One :class:`AgentDay` per app
keeps a cursor and the running totals of every agent: the first read scans
today once (in pages), every later one reads only the entries added since,
so a panel update costs the few events since the previous one, however many
panels are open.

From ``agent_state`` events: seconds in each state (the segment running now
included), calls (entries into ``on_call``) and the handle time of finished
calls (``on_call`` + ``wrap_up``, the AHT of DESIGN.md). From
``call_answered``: the agent's last answered call (its disposition can still
be recorded after the wrap-up ended).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from acd.core import metrics
from acd.core.settings import RedisConfig
from acd.store.keys import Keys
from acd.store.store import Store

PAGE = 5000
_HANDLING = frozenset({"on_call", "wrap_up"})
STATES_SHOWN = ("available", "ringing", "on_call", "wrap_up", "paused")


@dataclass(slots=True)
class _Ledger:
    state: str = ""
    since: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    open_handle: float = 0.0  # handle time of the call in progress
    last_call: str = ""


@dataclass(frozen=True, slots=True)
class DayFigures:
    calls: int
    handled: int
    aht_seconds: float | None
    seconds: Mapping[str, float]
    last_call: str

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "handled": self.handled,
            "aht_seconds": None if self.aht_seconds is None else round(self.aht_seconds, 1),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


class AgentDay:
    """Running per-agent totals since local midnight (see the module doc)."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, timezone: str, clock: Callable[[], float]
    ) -> None:
        self._store = Store(redis, RedisConfig(key_prefix=keys.prefix))
        self._timezone = timezone
        self._clock = clock
        self._day_start = -1.0
        self._cursor = ""
        self._ledgers: dict[str, _Ledger] = {}
        self._lock = asyncio.Lock()

    async def refresh(self) -> float:
        """Read the stream up to now; returns the day's start (local midnight)."""
        async with self._lock:
            now = self._clock()
            start = metrics.local_day_start(now, self._timezone)
            if start != self._day_start:
                self._day_start = start
                self._cursor = f"{int(start * 1000)}-0"
                self._ledgers = {}
                rows = await self._store.event_page(self._cursor, PAGE)
            else:
                rows = await self._store.event_page(self._cursor, PAGE, after=True)
            while True:
                for entry_id, fields in rows:
                    self._apply(fields)
                    self._cursor = entry_id
                if len(rows) < PAGE:
                    return start
                rows = await self._store.event_page(self._cursor, PAGE, after=True)

    def _apply(self, event: Mapping[str, str]) -> None:
        kind = event.get("type")
        agent = event.get("agent", "")
        if not agent:
            return
        if kind == "call_answered":
            self._ledgers.setdefault(agent, _Ledger()).last_call = event.get("call", "")
            return
        if kind != "agent_state":
            return
        try:
            at = float(event.get("at", ""))
        except ValueError:
            return
        ledger = self._ledgers.get(agent)
        if ledger is None:
            # The first change today: it was in "from" since midnight.
            ledger = self._ledgers[agent] = _Ledger(
                state=event.get("from", "logged_out"), since=self._day_start
            )
        elapsed = max(0.0, at - ledger.since)
        ledger.seconds[ledger.state] = ledger.seconds.get(ledger.state, 0.0) + elapsed
        if ledger.state in _HANDLING:
            ledger.open_handle += elapsed
        to = event.get("to", "")
        if ledger.state in _HANDLING and to not in _HANDLING:
            ledger.handled += 1
            ledger.handle_seconds += ledger.open_handle
            ledger.open_handle = 0.0
        if to == "on_call" and ledger.state != "on_call":
            ledger.calls += 1
        ledger.state, ledger.since = to, at

    def figures(self, agent_id: str, state: str, state_since: float | None) -> DayFigures:
        """The agent's day; ``state``/``state_since`` (from the agent hash) fill
        in an agent with no change today."""
        now = self._clock()
        ledger = self._ledgers.get(agent_id)
        if ledger is None:
            since = max(self._day_start, state_since or self._day_start)
            ledger = _Ledger(state=state, since=since)
        seconds = {s: ledger.seconds.get(s, 0.0) for s in STATES_SHOWN}
        if ledger.state in seconds:
            seconds[ledger.state] += max(0.0, now - ledger.since)
        aht = ledger.handle_seconds / ledger.handled if ledger.handled else None
        return DayFigures(ledger.calls, ledger.handled, aht, seconds, ledger.last_call)

