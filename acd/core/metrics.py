"""Contact-center metrics: the one place they are computed.

Pure functions over per-queue interval counters (see :mod:`acd.store.keys`), with
the definitions of docs/metrics.md. The wallboard, the terminal view and the exports
all call these, so a number means the same thing everywhere.

A metric whose denominator is zero ("no calls yet") is ``None``: JSON ``null``
and "—" on screen, never NaN and never a division error.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from zoneinfo import ZoneInfo

from acd.core.intervals import INTERVAL_SECONDS, WAIT_BUCKETS, interval_start

ROLLING_WINDOW_SECONDS = 3600

_OVERFLOW_FIELD = f"wait_gt_{WAIT_BUCKETS[-1]}"
_BUCKET_FIELDS: tuple[str, ...] = (*(f"wait_le_{b}" for b in WAIT_BUCKETS), _OVERFLOW_FIELD)
_BUCKET_INDEX: dict[str, int] = {name: i for i, name in enumerate(_BUCKET_FIELDS)}


class ServiceLevelVariant(enum.StrEnum):
    """Which calls the service-level denominator counts (the numerator is always
    calls answered within the target T)."""

    # answered + abandoned after the short-abandon threshold + timed out (docs/metrics.md)
    DEFAULT = "default"
    # answered calls only (abandons ignored)
    ANSWERED = "answered"
    # every offered call, short abandons included
    OFFERED = "offered"


def parse_numbers(raw: Mapping[str, str] | Mapping[bytes, bytes]) -> dict[str, float]:
    """The numeric fields of a counter hash (str or bytes); unparsable values
    and NaN are left out, so they count as zero."""
    parsed: dict[str, float] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else key
        try:
            number = float(value)
        except ValueError:
            continue
        if number == number:  # NaN never enters a sum
            parsed[name] = number
    return parsed


@dataclass(frozen=True, slots=True)
class IntervalCounters:
    """Counters of one queue over one or more intervals.

    Values are floats because the rolling 60-minute window weights its oldest
    interval by the share of it inside the window; counts read from Redis are
    whole numbers. ``wait_histogram`` has one count per bound of
    :data:`acd.store.keys.WAIT_BUCKETS` plus a last count for waits above it.
    """

    offered: float = 0.0
    answered: float = 0.0
    answered_within_target: float = 0.0
    abandoned: float = 0.0  # all abandons, short ones included
    short_abandoned: float = 0.0
    timed_out: float = 0.0
    handle_seconds: float = 0.0
    talk_seconds: float = 0.0
    wrap_seconds: float = 0.0
    wait_seconds: float = 0.0
    abandon_wait_seconds: float = 0.0
    handled: float = 0.0
    wait_histogram: tuple[float, ...] = (0.0,) * len(_BUCKET_FIELDS)

    @classmethod
    def from_hash(cls, raw: Mapping[str, str] | Mapping[bytes, bytes]) -> IntervalCounters:
        """Parse one ``stats:{q}:{epoch}`` hash (str or bytes keys and values).

        Unknown fields are ignored (a newer ACD may count more); unparsable
        values count as zero rather than hiding the whole board.
        """
        return cls.from_values(parse_numbers(raw))

    @classmethod
    def from_values(cls, parsed: Mapping[str, float]) -> IntervalCounters:
        """The counters among already parsed hash fields (others ignored)."""
        values: dict[str, float] = {}
        histogram = [0.0] * len(_BUCKET_FIELDS)
        for name, number in parsed.items():
            index = _BUCKET_INDEX.get(name)
            if index is not None:
                histogram[index] = number
            elif name in _COUNTER_NAMES:
                values[name] = number
        return cls(**values, wait_histogram=tuple(histogram))

    def __add__(self, other: IntervalCounters) -> IntervalCounters:
        summed: dict[str, float] = {
            name: getattr(self, name) + getattr(other, name) for name in _COUNTER_NAMES
        }
        histogram = tuple(
            a + b for a, b in zip(self.wait_histogram, other.wait_histogram, strict=True)
        )
        return IntervalCounters(**summed, wait_histogram=histogram)

    def scaled(self, factor: float) -> IntervalCounters:
        """Every counter multiplied by ``factor`` (share of an interval)."""
        scaled: dict[str, float] = {name: getattr(self, name) * factor for name in _COUNTER_NAMES}
        return replace(
            self, **scaled, wait_histogram=tuple(v * factor for v in self.wait_histogram)
        )


_COUNTER_NAMES: frozenset[str] = frozenset(
    f.name for f in fields(IntervalCounters) if f.name != "wait_histogram"
)

EMPTY = IntervalCounters()


def total(counters: Iterable[IntervalCounters]) -> IntervalCounters:
    """Sum of several intervals' counters."""
    result = EMPTY
    for c in counters:
        result = result + c
    return result


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator <= 0:
        return None
    return numerator / denominator


def service_level(
    c: IntervalCounters, variant: ServiceLevelVariant = ServiceLevelVariant.DEFAULT
) -> float | None:
    """Share (0..1) of calls answered within the target, or None with no calls.

    Clamped to 1.0: counters are written at event time by several processes,
    and a board showing 104 % helps nobody.
    """
    if variant is ServiceLevelVariant.DEFAULT:
        denominator = c.answered + (c.abandoned - c.short_abandoned) + c.timed_out
    elif variant is ServiceLevelVariant.ANSWERED:
        denominator = c.answered
    else:
        denominator = c.offered
    value = _ratio(c.answered_within_target, denominator)
    return None if value is None else min(1.0, max(0.0, value))


def abandon_rate(c: IntervalCounters) -> float | None:
    """Abandoned after the short-abandon threshold / offered."""
    return _ratio(c.abandoned - c.short_abandoned, c.offered)


def asa_seconds(c: IntervalCounters) -> float | None:
    """Average speed of answer: total wait of answered calls / answered."""
    return _ratio(c.wait_seconds, c.answered)


def aht_seconds(c: IntervalCounters) -> float | None:
    """Average handle time: (talk + hold + wrap-up) / handled."""
    return _ratio(c.handle_seconds, c.handled)


def occupancy(handle_seconds: float, idle_seconds: float) -> float | None:
    """Handle time / (handle time + available idle time)."""
    return _ratio(handle_seconds, handle_seconds + idle_seconds)


def wait_quantile(c: IntervalCounters, q: float) -> float | None:
    """Quantile ``q`` (0..1) of answered calls' waits from the histogram.

    Linear interpolation inside the bucket holding the rank (waits assumed
    spread evenly within a bucket); the first bucket starts at 0 s. A rank in
    the open last bucket gives its lower bound (the wait is at least that).
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {q}")
    count = sum(c.wait_histogram)
    if count <= 0:
        return None
    rank = q * count
    below = 0.0
    lower = 0.0
    for bound, in_bucket in zip(WAIT_BUCKETS, c.wait_histogram, strict=False):
        if in_bucket > 0 and below + in_bucket >= rank:
            return lower + (rank - below) / in_bucket * (bound - lower)
        below += in_bucket
        lower = float(bound)
    return float(WAIT_BUCKETS[-1])


def median_wait_seconds(c: IntervalCounters) -> float | None:
    """Median wait of answered calls (the planning goal: under 120 s)."""
    return wait_quantile(c, 0.5)


def longest_wait_seconds(oldest_arrival: float | None, now: float) -> float | None:
    """now - arrival of the caller waiting longest; None when nobody waits."""
    if oldest_arrival is None:
        return None
    return max(0.0, now - oldest_arrival)


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The metrics of one queue over one period, ready to show or export."""

    offered: int
    answered: int
    abandoned: int  # after the short-abandon threshold
    short_abandoned: int
    timed_out: int
    service_level: float | None
    abandon_rate: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    median_wait_seconds: float | None


def figures(
    c: IntervalCounters, variant: ServiceLevelVariant = ServiceLevelVariant.DEFAULT
) -> QueueFigures:
    """All the per-period metrics of one queue at once."""
    return QueueFigures(
        offered=round(c.offered),
        answered=round(c.answered),
        abandoned=round(c.abandoned - c.short_abandoned),
        short_abandoned=round(c.short_abandoned),
        timed_out=round(c.timed_out),
        service_level=service_level(c, variant),
        abandon_rate=abandon_rate(c),
        asa_seconds=asa_seconds(c),
        aht_seconds=aht_seconds(c),
        median_wait_seconds=median_wait_seconds(c),
    )


# --- periods -----------------------------------------------------------------


def local_day_start(now: float, timezone: str) -> float:
    """Epoch of the local midnight that starts the day holding ``now``.

    Built from the local date rather than by subtracting hours, so days of 23
    or 25 hours (DST changes) start at the right instant; where midnight does
    not exist (a DST gap at 00:00), the day starts when the clocks jump.
    """
    zone = ZoneInfo(timezone)
    local_date = dt.datetime.fromtimestamp(now, zone).date()
    return dt.datetime.combine(local_date, dt.time(0), tzinfo=zone).timestamp()


def today_interval_starts(now: float, timezone: str, interval: int = INTERVAL_SECONDS) -> list[int]:
    """Starts of the intervals from local midnight up to the current one.

    Every real time zone is offset from UTC by a multiple of 15 minutes, so a
    local midnight is an interval boundary; the first start is rounded down
    to one all the same, to be safe with odd zones.
    """
    first = interval_start(local_day_start(now, timezone), interval)
    last = interval_start(now, interval)
    return list(range(first, last + 1, interval))


def rolling_window_weights(
    now: float, window: int = ROLLING_WINDOW_SECONDS, interval: int = INTERVAL_SECONDS
) -> list[tuple[int, float]]:
    """(interval start, weight) pairs covering the last ``window`` seconds.

    Counters are kept per interval, so the oldest interval that straddles the
    window's start counts by the share of it inside the window (calls assumed
    spread evenly over it): the figure moves smoothly instead of jumping at
    each interval boundary.
    """
    begin = now - window
    pairs: list[tuple[int, float]] = []
    start = interval_start(begin, interval)
    current = interval_start(now, interval)
    while start <= current:
        overlap = min(start + interval, now) - max(start, begin)
        if start == current:
            pairs.append((start, 1.0))  # the current interval counts in full
        elif overlap > 0:
            pairs.append((start, min(1.0, overlap / interval)))
        start += interval
    return pairs


def window_total(
    counters_by_start: Mapping[int, IntervalCounters], weights: Iterable[tuple[int, float]]
) -> IntervalCounters:
    """Weighted sum of interval counters (missing intervals count as empty)."""
    result = EMPTY
    for start, weight in weights:
        c = counters_by_start.get(start)
        if c is not None:
            result = result + (c if weight == 1.0 else c.scaled(weight))
    return result
