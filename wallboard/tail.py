"""``acd wallboard tail``: the wallboard's numbers in a terminal.

Connects to ``/ws`` with the ``websockets`` client library, applies the
stream's deltas (:mod:`wallboard.delta`), redraws on every update and once a
second (waits and times in state keep ticking), or prints one snapshot with
``--once``. Formats match the TV page (``m:ss``, whole
percent, "—" for no value).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from acd.core.settings import Threshold
from wallboard import delta as deltas_codec
from wallboard import figures, i18n

NONE = "—"

_ANSI = {"green": "\x1b[32m", "amber": "\x1b[33;1m", "red": "\x1b[97;41;1m"}
_RESET = "\x1b[0m"
_STATE_ORDER = ("logged_in", "available", "ringing", "on_call", "wrap_up", "paused")


def format_duration(seconds: float | None) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above; "—" for no value."""
    if seconds is None:
        return NONE
    total = max(0, math.floor(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_percent(share: float | None) -> str:
    """Whole percent, halves rounded up (as the page's Math.round)."""
    return NONE if share is None else f"{math.floor(share * 100 + 0.5)}%"


def format_count(n: int | None) -> str:
    return NONE if n is None else str(n)


def _safe(text: object) -> str:
    """Names come from callers and agents: no control or escape sequences reach
    the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def _paint(text: str, level: str | None, colour: bool) -> str:
    if not colour or level not in _ANSI:
        return text
    return f"{_ANSI[level]}{text}{_RESET}"


def render(snapshot: Mapping[str, Any], now: float, *, colour: bool = False) -> str:
    """The terminal text of one snapshot at time ``now`` (server clock)."""
    try:
        zone: dt.tzinfo = ZoneInfo(str(snapshot.get("timezone") or "UTC"))
    except (KeyError, ValueError):
        zone = dt.UTC
    clock = dt.datetime.fromtimestamp(now, zone).strftime("%H:%M:%S")
    title = _safe(snapshot.get("board", {}).get("title") or "Wallboard")
    lines = [f"{title}  {clock} ({_safe(snapshot.get('timezone', 'UTC'))})", ""]
    header = (
        f"{'QUEUE':<14}{'WAIT':>5}{'LONGEST':>9}{'SL TODAY':>10}{'SL 60M':>8}{'OFFERED':>9}"
        f"{'ANSWERED':>10}{'ABANDONED':>13}{'ASA':>8}{'AHT':>8}{'MEDIAN':>8}"
        f"  AGENTS in/avail/ring/call/wrap/pause"
    )
    lines.append(header)
    thresholds = snapshot.get("thresholds", {})
    for q in snapshot.get("queues", []):
        levels = q.get("levels", {})
        oldest = q.get("oldest_arrival")
        longest = None if oldest is None else max(0.0, now - oldest)
        longest_level = _level(longest, thresholds.get("longest_wait_seconds"))
        abandoned = f"{format_count(q.get('abandoned'))} ({format_percent(q.get('abandon_rate'))})"
        agents = q.get("agents", {})
        cells = [
            (f"{_safe(q.get('name'))[:13]:<14}", None),
            (f"{format_count(q.get('waiting')):>5}", levels.get("waiting")),
            (f"{format_duration(longest):>9}", longest_level),
            (f"{format_percent(q.get('service_level')):>10}", levels.get("service_level")),
            (f"{format_percent(q.get('service_level_hour')):>8}", levels.get("service_level_hour")),
            (f"{format_count(q.get('offered')):>9}", None),
            (f"{format_count(q.get('answered')):>10}", None),
            (f"{abandoned:>13}", levels.get("abandon_rate")),
            (f"{format_duration(q.get('asa_seconds')):>8}", levels.get("asa_seconds")),
            (f"{format_duration(q.get('aht_seconds')):>8}", levels.get("aht_seconds")),
            (
                f"{format_duration(q.get('median_wait_seconds')):>8}",
                levels.get("median_wait_seconds"),
            ),
            ("  " + "/".join(str(agents.get(s, 0)) for s in _STATE_ORDER), None),
        ]
        lines.append("".join(_paint(text, level, colour) for text, level in cells))
        derived = [
            f"{i18n.ENGLISH.get(str(f['label']), str(f['label']))} "
            f"{figures.format_value(str(f['format']), q.get(str(f['name'])))}"
            for f in snapshot.get("metrics", []) if f.get("derived")
        ]
        if derived:
            lines.append(" " * 14 + " · ".join(derived))
    agents_shown = [a for a in snapshot.get("agents", []) if a.get("state") != "logged_out"]
    lines += ["", f"{'AGENT':<20}{'STATE':<12}{'TIME':>8}  DETAIL"]
    for a in agents_shown:
        since = a.get("state_since")
        detail = a.get("pause_reason") or " ".join(
            x for x in (a.get("current_queue", ""), a.get("caller", "")) if x
        )
        if not a.get("reachable", True):
            detail = "phone offline"
        lines.append(
            f"{_safe(a.get('name', ''))[:19]:<20}{_safe(a.get('state', '')):<12}"
            f"{format_duration(None if since is None else now - since):>8}  {_safe(detail)}"
        )
    if not agents_shown:
        lines.append("(no agents logged in)")
    return "\n".join(lines)


def _level(value: float | None, threshold: Mapping[str, Any] | None) -> str | None:
    if value is None or not threshold:
        return None
    return Threshold(
        amber=float(threshold["amber"]),
        red=float(threshold["red"]),
        higher_is_better=bool(threshold.get("higher_is_better")),
    ).level(value)


def websocket_url(url: str) -> str:
    """``http://host:8080`` -> ``ws://host:8080/ws`` (a ws:// URL is kept as given)."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path
    if scheme in ("ws", "wss") and parts.scheme in ("http", "https"):
        path = path.rstrip("/") + "/ws"
    elif not path:
        path = "/ws"
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def run_tail(
    url: str,
    token: str | None,
    *,
    once: bool = False,
    out: TextIO | None = None,
    max_updates: int | None = None,
) -> int:
    """Show the board in the terminal. Exit code 0, or 1 with a one-line message
    on standard error when the wallboard cannot be reached or goes away."""
    stream = out if out is not None else sys.stdout
    target = websocket_url(url)
    headers: Sequence[tuple[str, str]] | None = (
        [("Authorization", f"Bearer {token}")] if token else None
    )
    interactive = stream.isatty() and not once
    try:
        with connect(
            target,
            additional_headers=headers,
            open_timeout=5,
            close_timeout=1,
            compression=None,
            max_size=16 * 1024 * 1024,
        ) as ws:
            snapshot: dict[str, Any] | None = None
            offset = 0.0  # server clock minus local clock
            updates = 0
            while True:
                try:
                    raw = ws.recv(timeout=1.0)
                except TimeoutError:
                    raw = None
                if raw is not None:
                    message = json.loads(raw)
                    if message.get("type") == "heartbeat":
                        offset = float(message["at"]) - time.time()
                        continue
                    if message.get("type") == "delta":
                        try:
                            if snapshot is None:
                                raise deltas_codec.DeltaError("no snapshot yet")
                            snapshot = deltas_codec.apply(snapshot, message)
                        except deltas_codec.DeltaError:
                            # A gap: ask for the whole board again.
                            ws.send(json.dumps({"type": "resync"}))
                            continue
                    elif message.get("type") == "snapshot":
                        snapshot = message
                    else:
                        continue
                    offset = float(message["generated_at"]) - time.time()
                    updates += 1
                if snapshot is None:
                    continue
                text = render(snapshot, time.time() + offset, colour=interactive)
                if once:
                    print(text, file=stream)
                    return 0
                if interactive:
                    stream.write("\x1b[H\x1b[2J" + text + "\n")
                elif raw is not None:
                    stream.write(text + "\n\n")
                stream.flush()
                if max_updates is not None and updates >= max_updates:
                    return 0
    except KeyboardInterrupt:
        return 0
    except InvalidHandshake as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        why = f"HTTP {status}" if status else str(exc)
        if status == 401:
            why += " (a token is needed: --token)"
        print(f"acd wallboard tail: {target} refused the connection: {why}", file=sys.stderr)
    except ConnectionClosed:
        print(f"acd wallboard tail: connection to {target} lost", file=sys.stderr)
    except (OSError, TimeoutError, InvalidURI) as exc:
        print(f"acd wallboard tail: cannot connect to {target}: {exc}", file=sys.stderr)
    return 1
