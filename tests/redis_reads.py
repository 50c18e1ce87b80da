"""Typed reads of the raw Redis layout, for tests that look behind the Store.

redis-py annotates its replies as wide unions (``bytes | str``, ``... | None``,
``Awaitable[...]``) because one signature serves every client flavour. A test
that checks what the ACD wrote wants ``dict[str, str]``: these helpers read
the key, decode what needs decoding and fail loudly on any other shape, so a
wrong assumption about the layout is a test failure, never a silent cast.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from acd.store.keys import Keys


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode()
    raise AssertionError(f"expected a Redis string, got {type(value).__name__}: {value!r}")


async def hash_of(redis: aioredis.Redis, key: str) -> dict[str, str]:
    """Every field of the hash at ``key`` (empty when there is no such key)."""
    raw = await redis.hgetall(key)
    return {_text(field): _text(value) for field, value in raw.items()}


async def hash_field(redis: aioredis.Redis, key: str, field: str) -> str | None:
    """One field of the hash at ``key``, or None when it is not set."""
    raw = await redis.hget(key, field)
    return None if raw is None else _text(raw)


async def stream_entries(redis: aioredis.Redis, key: str) -> list[dict[str, str]]:
    """The fields of every entry of the stream at ``key``, oldest first."""
    raw = await redis.xrange(key)
    entries: list[dict[str, str]] = []
    for entry_id, fields in raw or []:
        assert fields is not None, f"stream {key} entry {entry_id!r} has no fields"
        entries.append({_text(name): _text(value) for name, value in fields.items()})
    return entries


async def sorted_members(redis: aioredis.Redis, key: str) -> list[str]:
    """The members of the sorted set at ``key``, lowest score first."""
    return [_text(member) for member in await redis.zrange(key, 0, -1)]


async def stats_totals(redis: aioredis.Redis, keys: Keys, queue: str) -> dict[str, float]:
    """A queue's interval counters summed over every interval recorded."""
    total: dict[str, float] = {}
    for epoch in await sorted_members(redis, keys.stats_index(queue)):
        for name, value in (await hash_of(redis, keys.stats(queue, int(epoch)))).items():
            total[name] = total.get(name, 0.0) + float(value)
    return total
