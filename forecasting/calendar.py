"""Special days: holidays and events the planner knows about in advance.

A special day is left out of the forecast fit (it is not a normal day) and,
when it is planned, changes that day's forecast:

- ``closed``: no calls at all;
- ``factor``: the normal forecast times a number (0.3 for a bridge day, 1.5
  for a marketing campaign);
- ``like``: the day is forecast as another weekday (``"saturday"``) or as a
  past date of the history (``"2024-12-24"``: that day's volume relative to
  its trend, and its intraday profile); a ``factor`` then scales it.

The planner edits a TOML file::

    [[day]]
    date = "2025-04-21"
    name = "Easter Monday"
    closed = true

    [[day]]
    date = "2025-05-02"
    name = "bridge day"
    factor = 0.3
    queues = ["sales"]          # optional: only these queues

    [[day]]
    dates = ["2025-12-24", "2025-12-31"]
    like = "saturday"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from forecasting.errors import InvalidInput

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """One special date, for all queues or some."""

    day: date
    name: str = ""
    closed: bool = False
    factor: float = 1.0
    #: weekday 0..6 (Monday 0) the day is forecast like
    like_weekday: int | None = None
    #: a past date whose volume and profile the day is forecast like
    like_date: date | None = None
    #: ``None``: every queue
    queues: frozenset[str] | None = None

    def applies_to(self, queue: str) -> bool:
        """Whether this entry concerns ``queue``."""
        return self.queues is None or queue in self.queues

    def describe(self) -> str:
        """``Easter Monday (closed)``, ``bridge day (x0.3)``, ``like saturday``."""
        if self.closed:
            how = "closed"
        else:
            parts = []
            if self.like_weekday is not None:
                parts.append(f"like {WEEKDAYS[self.like_weekday]}")
            if self.like_date is not None:
                parts.append(f"like {self.like_date}")
            if self.factor != 1.0:
                parts.append(f"x{self.factor:g}")
            how = ", ".join(parts) or "special day"
        return f"{self.name} ({how})" if self.name else how


@dataclass(frozen=True, slots=True)
class Calendar:
    """Special days by date; looked up per queue."""

    days: tuple[SpecialDay, ...] = ()

    def for_queue(self, queue: str) -> dict[date, SpecialDay]:
        """The special days that concern ``queue`` (a queue-specific entry wins)."""
        out: dict[date, SpecialDay] = {}
        for d in self.days:
            if d.applies_to(queue) and (d.day not in out or d.queues is not None):
                out[d.day] = d
        return out

    def merged(self, more: Iterable[SpecialDay]) -> Calendar:
        """This calendar plus ``more`` entries."""
        return Calendar((*self.days, *more))


def closed_days(
    dates: Iterable[date], name: str = "holiday", queue: str | None = None
) -> list[SpecialDay]:
    """Closed special days (e.g. ``--holidays`` or the ACD's queue holidays)."""
    queues = None if queue is None else frozenset({queue})
    return [SpecialDay(day=d, name=name, closed=True, queues=queues) for d in dates]


def _date(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput(f"{where}: expected a date YYYY-MM-DD, got {value!r}")


def parse_calendar(data: Mapping[str, Any], source: str = "calendar") -> Calendar:
    """Build a :class:`Calendar` from parsed TOML (``[[day]]`` tables)."""
    unknown = set(data) - {"day"}
    if unknown:
        raise InvalidInput(
            f"{source}: unknown key {sorted(unknown)[0]!r} (expected [[day]] tables)"
        )
    entries = data.get("day", [])
    if not isinstance(entries, list):
        raise InvalidInput(f"{source}: 'day' must be an array of tables ([[day]])")
    out: list[SpecialDay] = []
    allowed = {"date", "dates", "name", "closed", "factor", "like", "queues"}
    for i, entry in enumerate(entries, start=1):
        where = f"{source}: day #{i}"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: expected a table")
        bad = set(entry) - allowed
        if bad:
            raise InvalidInput(
                f"{where}: unknown key {sorted(bad)[0]!r} (expected {', '.join(sorted(allowed))})"
            )
        if ("date" in entry) == ("dates" in entry):
            raise InvalidInput(f"{where}: give exactly one of 'date' or 'dates'")
        raw_dates: Sequence[object] = (
            [entry["date"]] if "date" in entry else list(entry.get("dates") or [])
        )
        if not raw_dates:
            raise InvalidInput(f"{where}: 'dates' is empty")
        name = str(entry.get("name", ""))
        closed = entry.get("closed", False)
        if not isinstance(closed, bool):
            raise InvalidInput(f"{where}: 'closed' must be true or false")
        factor = entry.get("factor", 1.0)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not (0.0 <= float(factor) <= 100.0)
        ):
            raise InvalidInput(f"{where}: 'factor' must be a number from 0 to 100, got {factor!r}")
        like_weekday: int | None = None
        like_date: date | None = None
        like = entry.get("like")
        if like is not None:
            text = str(like).strip().lower()
            if text in WEEKDAYS:
                like_weekday = WEEKDAYS.index(text)
            else:
                try:
                    like_date = _date(like, where)
                except InvalidInput:
                    raise InvalidInput(
                        f"{where}: 'like' must be a weekday (monday..sunday) or a date "
                        f"YYYY-MM-DD, got {like!r}"
                    ) from None
        if closed and (like is not None or factor != 1.0):
            raise InvalidInput(f"{where}: a closed day takes no 'factor' or 'like'")
        queues_raw = entry.get("queues")
        queues: frozenset[str] | None = None
        if queues_raw is not None:
            if not isinstance(queues_raw, list) or not all(isinstance(q, str) for q in queues_raw):
                raise InvalidInput(f"{where}: 'queues' must be a list of queue names")
            queues = frozenset(queues_raw)
        for raw in raw_dates:
            out.append(
                SpecialDay(
                    day=_date(raw, where),
                    name=name,
                    closed=closed or float(factor) == 0.0,
                    factor=float(factor),
                    like_weekday=like_weekday,
                    like_date=like_date,
                    queues=queues,
                )
            )
    return Calendar(tuple(out))


def load_calendar(path: str | Path) -> Calendar:
    """Read a special-day TOML file; a bad file fails with the file and the entry."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read calendar {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    return parse_calendar(data, str(path))
