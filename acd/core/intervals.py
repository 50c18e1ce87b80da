"""Statistics intervals: the 15-minute buckets every counter is kept in, the
wait-time histogram, and the counter names (the interval export's columns
are built from them)."""

from __future__ import annotations

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


def interval_start(epoch: float, interval: int = INTERVAL_SECONDS) -> int:
    """Start (UTC epoch seconds) of the interval holding ``epoch``."""
    return int(epoch // interval) * interval


def wait_bucket_field(wait_seconds: float) -> str:
    """Histogram counter field for one answered call's wait."""
    for bound in WAIT_BUCKETS:
        if wait_seconds <= bound:
            return f"wait_le_{bound}"
    return f"wait_gt_{WAIT_BUCKETS[-1]}"
