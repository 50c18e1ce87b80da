"""Per-queue planning targets: from the history, the ACD's configuration, a
targets file and command-line flags.

Precedence, most specific last (later wins): built-in defaults, the
history's ``target_seconds`` (most recent row of the queue), the ACD
configuration's ``service_level_seconds`` for the queue, the targets file's
``[default]``, command-line flags, the targets file's ``[queue.NAME]``.

Targets file (TOML)::

    [default]
    service_level = 0.8
    shrinkage = 0.25            # planned: breaks, meetings, training
    unplanned_shrinkage = 0.08  # absence
    max_occupancy = 0.85
    [[default.shrinkage_window]]
    from = "12:00"
    to = "14:00"
    planned = 0.40              # lunch

    [queue.sales]
    service_level = 0.9
    target_seconds = 20
    patience_seconds = 90       # plan this queue with Erlang A
    max_abandon = 0.03

The ACD configuration (``config/acd.toml``) is read as data, never imported:
``[[queues]]`` give ``service_level_seconds``, ``wrap_up_seconds``,
``holidays`` and ``timezone``; ``[wallboard] timezone`` is the site's zone.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, time
from pathlib import Path
from typing import Any

from forecasting.errors import InvalidInput
from forecasting.plan import PlanSettings, ShrinkageWindow

_KEYS = {
    "service_level": float,
    "target_seconds": float,
    "shrinkage": float,
    "unplanned_shrinkage": float,
    "max_occupancy": float,
    "patience_seconds": float,
    "max_abandon": float,
    "team_leader_ratio": int,
    "contract_hours": float,
    "contract_days": int,
}


@dataclass(frozen=True, slots=True)
class AcdQueue:
    """What planning takes from one ``[[queues]]`` entry of the ACD config."""

    name: str
    service_level_seconds: float | None = None
    wrap_up_seconds: float | None = None
    holidays: tuple[date, ...] = ()
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class AcdConfig:
    """The planning-relevant part of the ACD configuration."""

    timezone: str | None = None
    queues: Mapping[str, AcdQueue] = field(default_factory=dict)


def _read_toml(path: str | Path, what: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None


def load_acd_config(path: str | Path) -> AcdConfig:
    """Read queue targets, wrap-up, holidays and time zones from the ACD's TOML."""
    data = _read_toml(path, "ACD configuration")
    wall = data.get("wallboard", {})
    tz = wall.get("timezone") if isinstance(wall, dict) else None
    queues: dict[str, AcdQueue] = {}
    for i, q in enumerate(data.get("queues", []) or [], start=1):
        if not isinstance(q, dict) or not isinstance(q.get("name"), str):
            raise InvalidInput(f"{path}: queues #{i}: expected a table with a name")
        hol: list[date] = []
        for d in q.get("holidays", []) or []:
            try:
                hol.append(d if isinstance(d, date) else date.fromisoformat(str(d)))
            except ValueError:
                raise InvalidInput(
                    f"{path}: queues.{q['name']}.holidays: expected YYYY-MM-DD, got {d!r}"
                ) from None
        sls = q.get("service_level_seconds")
        wrap = q.get("wrap_up_seconds")
        queues[q["name"]] = AcdQueue(
            name=q["name"],
            service_level_seconds=float(sls) if isinstance(sls, int | float) else None,
            wrap_up_seconds=float(wrap) if isinstance(wrap, int | float) else None,
            holidays=tuple(hol),
            timezone=q.get("timezone") if isinstance(q.get("timezone"), str) else None,
        )
    return AcdConfig(tz if isinstance(tz, str) else None, queues)


def _clock(value: object, where: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{where}: expected a time HH:MM, got {value!r}") from None


def _section(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a table")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "shrinkage_window":
            if not isinstance(value, list):
                raise InvalidInput(f"{where}.shrinkage_window: expected [[...]] tables")
            wins = []
            for j, w in enumerate(value, start=1):
                wh = f"{where}.shrinkage_window #{j}"
                if not isinstance(w, dict) or set(w) != {"from", "to", "planned"}:
                    raise InvalidInput(f"{wh}: expected keys from, to, planned")
                planned = w["planned"]
                if isinstance(planned, bool) or not isinstance(planned, int | float):
                    raise InvalidInput(f"{wh}.planned: expected a number")
                wins.append(
                    ShrinkageWindow(
                        _clock(w["from"], f"{wh}.from"), _clock(w["to"], f"{wh}.to"), float(planned)
                    )
                )
            out["shrinkage_windows"] = tuple(wins)
            continue
        kind = _KEYS.get(key)
        if kind is None:
            raise InvalidInput(
                f"{where}.{key}: unknown key (expected {', '.join(sorted(_KEYS))}, "
                "shrinkage_window)"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where}.{key}: expected a number, got {value!r}")
        out[key] = kind(value)
    return out


@dataclass(frozen=True, slots=True)
class TargetsFile:
    """A parsed targets file: defaults and per-queue overrides."""

    default: Mapping[str, Any] = field(default_factory=dict)
    queues: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def load_targets(path: str | Path) -> TargetsFile:
    """Read a targets TOML file (``[default]``, ``[queue.NAME]``)."""
    data = _read_toml(path, "targets file")
    bad = set(data) - {"default", "queue"}
    if bad:
        raise InvalidInput(f"{path}: unknown section {sorted(bad)[0]!r} (expected default, queue)")
    default = _section(data.get("default", {}), f"{path}: default")
    queues_raw = data.get("queue", {})
    if not isinstance(queues_raw, dict):
        raise InvalidInput(f"{path}: queue: expected [queue.NAME] tables")
    queues = {q: _section(v, f"{path}: queue.{q}") for q, v in queues_raw.items()}
    return TargetsFile(default, queues)


_SETTING_NAMES = {f.name for f in fields(PlanSettings)}


def settings_per_queue(
    queues: list[str],
    *,
    history_targets: Mapping[str, int | None],
    acd: AcdConfig | None = None,
    targets: TargetsFile | None = None,
    flags: Mapping[str, Any] | None = None,
) -> tuple[PlanSettings, dict[str, PlanSettings], dict[str, str]]:
    """Settings for every queue; also the source of each queue's target seconds."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None and k in _SETTING_NAMES}
    targets = targets or TargetsFile()
    base = replace(PlanSettings(), **targets.default)
    base = replace(base, **flags)
    per: dict[str, PlanSettings] = {}
    source: dict[str, str] = {}
    for q in queues:
        s = PlanSettings()
        src = "default"
        ht = history_targets.get(q)
        if ht is not None and ht > 0:
            s, src = replace(s, target_seconds=float(ht)), "history"
        aq = acd.queues.get(q) if acd is not None else None
        if aq is not None and aq.service_level_seconds is not None:
            s, src = replace(s, target_seconds=aq.service_level_seconds), "ACD config"
        s = replace(s, **targets.default)
        if "target_seconds" in targets.default:
            src = "targets file"
        s = replace(s, **flags)
        if "target_seconds" in flags:
            src = "--target-seconds"
        own = targets.queues.get(q, {})
        s = replace(s, **own)
        if "target_seconds" in own:
            src = f"targets file [queue.{q}]"
        s.validate()
        per[q] = s
        source[q] = src
    unknown = sorted(set(targets.queues) - set(queues))
    if unknown:
        raise InvalidInput(
            f"targets file names queue(s) not in the history: {', '.join(unknown)} "
            f"(history has {', '.join(queues)})"
        )
    return base, per, source
