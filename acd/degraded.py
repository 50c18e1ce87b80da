"""What is degraded, since when, and how often it failed: one log line per
failure kind, not a traceback per call.

During a Redis outage every call session fails the same way; logging each one
buries the operator. :class:`Degraded` logs the first failure of a kind at
WARNING, counts the rest, writes one summary line per ``summary_every``
seconds while the failures go on, and one line when the component recovers.
``/healthz`` reads :meth:`Degraded.report`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from acd.core.text import log_safe

log = logging.getLogger("acd.degraded")


def describe(exc: BaseException) -> str:
    """``ConnectionError: Error 111 connecting to ...`` on one line, no control characters."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return log_safe(text, 300)


@dataclass(slots=True)
class _Kind:
    since: float  # wall clock, for /healthz
    first: str
    count: int = 0
    since_summary: int = 0
    last_summary: float = 0.0  # monotonic


class Degraded:
    """Failure bookkeeping for one process (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        summary_every: float = 10.0,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._summary_every = summary_every
        self._kinds: dict[str, _Kind] = {}
        self.notes: dict[str, str] = {}  # lasting facts for /healthz, e.g. a Redis reset

    def failed(self, component: str, what: str, exc: BaseException) -> None:
        """One failure of ``component`` (e.g. "redis") while doing ``what``."""
        now = self._monotonic()
        kind = self._kinds.get(component)
        if kind is None:
            kind = self._kinds[component] = _Kind(
                since=self._clock(), first=describe(exc), last_summary=now
            )
            log.warning("%s unavailable (%s) while %s; further failures are counted",
                        component, kind.first, what)
        kind.count += 1
        kind.since_summary += 1
        if now - kind.last_summary >= self._summary_every:
            log.warning("%s still unavailable: %d failure(s) in the last %.0f s (%s)",
                        component, kind.since_summary, now - kind.last_summary, describe(exc))
            kind.since_summary = 0
            kind.last_summary = now

    def recovered(self, component: str) -> bool:
        """``component`` works again; True when it had been failing."""
        kind = self._kinds.pop(component, None)
        if kind is None:
            return False
        log.warning("%s back after %.1f s (%d failure(s))", component,
                    max(0.0, self._clock() - kind.since), kind.count)
        return True

    def is_down(self, component: str) -> bool:
        return component in self._kinds

    def report(self) -> dict[str, str]:
        """``{"redis": "down since 2026-12-01T21:00:03Z (41 failures): ConnectionError ..."}``."""
        out = {}
        for component, kind in self._kinds.items():
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(kind.since))
            out[component] = f"down since {stamp} ({kind.count} failures): {kind.first}"
        out.update(self.notes)
        return out
