"""Wallboard deltas: what changed between two snapshots of one board.

A 200-agent, 12-queue snapshot is about 70 KB; one agent changing state
changes a few hundred bytes of it. The live stream sends a full snapshot on
connect (and when asked), then only deltas, each numbered: a viewer applies
a delta whose ``base`` is the version it shows and asks for a full snapshot
(``{"type": "resync"}``) on a gap.

Delta message (``type: "delta"``)::

    {"generated_at": ..., "last_change_at": ..., "type": "delta",
     "version": 8, "base": 7,
     "set": {<top-level fields that changed, replaced whole>},
     "queues": [{"name": ..., <queue fields that changed, replaced whole>}],
     "agents": [<agent objects that changed, whole>]}

Queues and agents are matched by ``name`` and ``id`` in board order; when
the list of either changes (a queue added, an agent appearing), :func:`diff`
gives None and a full snapshot is sent instead. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JsonObject = dict[str, Any]

# Always carried at the top of every message (latency probes read them there).
_HEAD = ("generated_at", "last_change_at")
_LISTS = ("queues", "agents")


class DeltaError(ValueError):
    """A delta that does not fit the snapshot it is applied to."""


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> JsonObject | None:
    """The changes taking ``old`` to ``new`` (``set``, ``queues``, ``agents``),
    or None when only a full snapshot can say it."""
    if set(old) != set(new):
        return None
    old_queues, new_queues = old.get("queues", []), new.get("queues", [])
    old_agents, new_agents = old.get("agents", []), new.get("agents", [])
    if [q.get("name") for q in old_queues] != [q.get("name") for q in new_queues]:
        return None
    if [a.get("id") for a in old_agents] != [a.get("id") for a in new_agents]:
        return None
    changed = {
        k: v for k, v in new.items() if k not in _LISTS and k not in _HEAD and old.get(k) != v
    }
    queues: list[JsonObject] = []
    for before, after in zip(old_queues, new_queues, strict=True):
        if set(before) != set(after):
            return None
        fields = {k: v for k, v in after.items() if before.get(k) != v}
        if fields:
            queues.append({"name": after["name"], **fields})
    agents = [a for b, a in zip(old_agents, new_agents, strict=True) if a != b]
    return {"set": changed, "queues": queues, "agents": agents}


def message(
    delta: Mapping[str, Any], new: Mapping[str, Any], version: int, base: int
) -> JsonObject:
    """The delta as sent: head fields first, then type, versions and changes."""
    return {
        **{k: new.get(k) for k in _HEAD},
        "type": "delta",
        "version": version,
        "base": base,
        **delta,
    }


def full(snapshot: Mapping[str, Any], version: int) -> JsonObject:
    """A full snapshot as sent on the live stream: with its version."""
    head = {k: snapshot.get(k) for k in _HEAD}
    return {**head, "version": version, **{k: v for k, v in snapshot.items() if k not in head}}


def apply(snapshot: Mapping[str, Any], delta: Mapping[str, Any]) -> JsonObject:
    """A new snapshot: ``snapshot`` with ``delta`` applied (the input is not
    changed). Raises :class:`DeltaError` when the delta's base is not the
    snapshot's version or it names a queue or agent the snapshot lacks."""
    if snapshot.get("version") != delta.get("base"):
        raise DeltaError(f"delta for version {delta.get('base')}, have {snapshot.get('version')}")
    result: JsonObject = dict(snapshot)
    for key in _HEAD:
        result[key] = delta.get(key)
    result["version"] = delta["version"]
    result.update(delta.get("set", {}))
    queues = [dict(q) for q in snapshot.get("queues", [])]
    by_name = {q["name"]: q for q in queues}
    for change in delta.get("queues", []):
        target = by_name.get(change.get("name"))
        if target is None:
            raise DeltaError(f"no queue {change.get('name')!r} on this board")
        target.update(change)
    agents = list(snapshot.get("agents", []))
    index = {a["id"]: i for i, a in enumerate(agents)}
    for change in delta.get("agents", []):
        i = index.get(change.get("id"))
        if i is None:
            raise DeltaError(f"no agent {change.get('id')!r} on this board")
        agents[i] = change
    result["queues"] = queues
    result["agents"] = agents
    return result
