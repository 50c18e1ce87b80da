"""The figures a board shows, one registry entry each.

An entry says how the figure is labelled (a key of every catalogue in
:mod:`wallboard.i18n`), formatted (count, duration, percent, number), where
the TV page places it (big tiles, small tiles, the outcome strip, a queue's
row, the totals strip), whether it is live (only live figures flash red or
sound) and which threshold colours it. The snapshot sends the entries with
the board, so the page and ``acd wallboard tail`` lay figures out from them.

A figure derived from today's counters is one function registered with
:func:`figure`; the snapshot computes it for every queue and for the whole
board. The figures the snapshot core computes itself (waits, service level,
counts) are entries without a function (:func:`shown`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from acd.core import metrics


class Fmt(enum.StrEnum):
    COUNT = "count"  # whole number
    DURATION = "dur"  # seconds, shown m:ss or h:mm:ss
    PERCENT = "pct"  # a share 0..1, shown as whole percent
    NUMBER = "num"  # one decimal


class Place(enum.StrEnum):
    BIG = "big"  # the big tiles of a 1-3 queue board
    SMALL = "small"  # the small tiles under them
    OUTCOMES = "outcomes"  # the one-line outcome strip of a tile
    ROW = "row"  # a queue's row on a 4+ queue board
    TOTALS = "totals"  # the centre-wide totals strip


@dataclass(frozen=True, slots=True)
class Facts:
    """What a derived figure may use: one queue's (or the board's) day."""

    counters: metrics.IntervalCounters  # today's counters summed
    idle_seconds: float  # available idle time today, the ongoing idle included
    logged_in: int  # agents logged in now
    outcomes: Mapping[str, float] = field(default_factory=dict)  # dispositions, CSAT...


@dataclass(frozen=True, slots=True)
class Figure:
    name: str  # the snapshot field
    label: str  # catalogue key
    fmt: Fmt
    places: tuple[Place, ...]
    level: str | None = None  # the snapshot field whose level colours it
    live: bool = False
    compute: Callable[[Facts], float | None] | None = None
    digits: int = 4  # rounding of the value in the snapshot

    def descriptor(self) -> dict[str, object]:
        return {
            "name": self.name, "label": self.label, "format": self.fmt.value,
            "places": [p.value for p in self.places], "level": self.level,
            "live": self.live, "derived": self.compute is not None,
        }


FIGURES: list[Figure] = []


def shown(name: str, label: str, fmt: Fmt, *places: Place, level: str | None = None,
          live: bool = False) -> None:
    """Register a figure the snapshot core computes."""
    FIGURES.append(Figure(name, label, fmt, places, level, live))


def figure(
    name: str, label: str, fmt: Fmt, *places: Place, level: str | None = None, digits: int = 4
) -> Callable[[Callable[[Facts], float | None]], Callable[[Facts], float | None]]:
    """Register a figure derived from today's counters by the decorated function."""

    def register(compute: Callable[[Facts], float | None]) -> Callable[[Facts], float | None]:
        FIGURES.append(Figure(name, label, fmt, places, level, compute=compute, digits=digits))
        return compute

    return register


BIG, SMALL, STRIP, ROW, TOTALS = Place.BIG, Place.SMALL, Place.OUTCOMES, Place.ROW, Place.TOTALS

shown("waiting", "waiting", Fmt.COUNT, BIG, ROW, TOTALS, level="waiting", live=True)
shown("vip_waiting", "vip", Fmt.COUNT, SMALL, ROW)
shown("callbacks_waiting", "callbacks_waiting", Fmt.COUNT, STRIP, ROW)
shown("longest_wait_seconds", "longest_wait", Fmt.DURATION, BIG, ROW, TOTALS,
      level="longest_wait_seconds", live=True)
shown("expected_wait_seconds", "expected_wait", Fmt.DURATION, SMALL, ROW,
      level="expected_wait_seconds", live=True)
shown("service_level", "sl_today", Fmt.PERCENT, BIG, ROW, TOTALS, level="service_level")
shown("service_level_hour", "sl_hour", Fmt.PERCENT, BIG, ROW, level="service_level_hour")
shown("offered", "offered", Fmt.COUNT, SMALL, ROW, TOTALS)
shown("answered", "answered", Fmt.COUNT, SMALL, ROW, TOTALS)
shown("abandoned", "abandoned", Fmt.COUNT, SMALL, ROW, TOTALS, level="abandon_rate")
shown("timed_out", "timed_out", Fmt.COUNT, SMALL, ROW, TOTALS)
shown("lost", "lost", Fmt.COUNT, SMALL, ROW, TOTALS)
shown("asa_seconds", "asa", Fmt.DURATION, SMALL, ROW, level="asa_seconds")
shown("aht_seconds", "aht", Fmt.DURATION, SMALL, ROW, level="aht_seconds")
shown("median_wait_seconds", "median_wait", Fmt.DURATION, SMALL, level="median_wait_seconds")


@figure("occupancy", "occupancy", Fmt.PERCENT, SMALL)
def occupancy(f: Facts) -> float | None:
    """Handle time / (handle time + available idle time), today: 100 % for a
    team busy all day, unknown only before any handle or idle second."""
    return metrics.occupancy(f.counters.handle_seconds, f.idle_seconds)


@figure("calls_per_agent", "calls_per_agent", Fmt.NUMBER, SMALL, digits=1)
def calls_per_agent(f: Facts) -> float | None:
    """Calls answered today per agent logged in now."""
    return f.counters.answered / f.logged_in if f.logged_in else None


@figure("resolution_rate", "resolution_rate", Fmt.PERCENT, STRIP, ROW)
def resolution_rate(f: Facts) -> float | None:
    """Resolved / handled today."""
    handled = f.counters.handled
    return f.outcomes.get("resolved", 0.0) / handled if handled else None


@figure("csat", "csat", Fmt.PERCENT, STRIP, ROW)
def csat(f: Facts) -> float | None:
    """Share of 4 and 5 among today's survey answers."""
    answers = f.outcomes.get("csat_answers", 0.0)
    return f.outcomes.get("csat_good", 0.0) / answers if answers else None


def format_value(fmt: str, value: object) -> str:
    """A figure as text (the terminal view; the page formats the same way)."""
    if not isinstance(value, int | float):
        return "—"
    if fmt == Fmt.PERCENT:
        return f"{math.floor(value * 100 + 0.5):.0f}%"
    if fmt == Fmt.DURATION:
        whole = int(value)
        h, rest = divmod(whole, 3600)
        return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
    if fmt == Fmt.NUMBER:
        return f"{value:.1f}"
    return f"{round(value):d}"


def descriptors() -> list[dict[str, object]]:
    return [f.descriptor() for f in FIGURES]


def computed(facts: Facts) -> dict[str, float | None]:
    """Every derived figure for one queue or the board, rounded for the snapshot."""
    out: dict[str, float | None] = {}
    for f in FIGURES:
        if f.compute is not None:
            value = f.compute(facts)
            out[f.name] = None if value is None else round(value, f.digits)
    return out


LIVE_FIELDS: frozenset[str] = frozenset(f.name for f in FIGURES if f.live)
SHARE_FIELDS: frozenset[str] = frozenset(f.name for f in FIGURES if f.fmt is Fmt.PERCENT)
