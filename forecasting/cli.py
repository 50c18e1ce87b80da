"""``acd forecast ...`` subcommands: erlang, plan, backtest, simulate,
sample-history, shifts, intraday.

Exit codes: 0 success, 2 bad input (arguments, unusable history). Errors are
one clear line on stderr naming the flag, never a traceback (argparse itself
exits 2 with its usage line for unparsable values). Warnings (numbers a
planner should not trust blindly) and progress go to stderr, so stdout stays
machine-readable. ``erlang`` and ``plan`` share one set of defaults
(:mod:`forecasting.plan`), printed with every result.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forecasting.errors import ForecastError, InvalidInput
from forecasting.plan import (
    DEFAULT_MAX_ABANDON,
    DEFAULT_MAX_OCCUPANCY,
    DEFAULT_SERVICE_LEVEL,
    DEFAULT_SHRINKAGE,
    DEFAULT_TARGET_SECONDS,
    DEFAULT_TEAM_LEADER_RATIO,
)

#: internal field names -> the flag a user typed
FLAGS = {
    "calls": "--calls",
    "interval_seconds": "--interval",
    "interval": "--interval",
    "aht_seconds": "--aht",
    "traffic": "--calls",
    "agents": "--agents",
    "target_seconds": "--target-seconds",
    "service_level": "--service-level",
    "asa_seconds": "--asa",
    "shrinkage": "--shrinkage",
    "unplanned_shrinkage": "--unplanned-shrinkage",
    "max_occupancy": "--max-occupancy",
    "patience_seconds": "--patience",
    "max_abandon": "--max-abandon",
    "team_leader_ratio": "--team-leader-ratio",
    "contract_hours": "--contract-hours",
    "contract_days": "--contract-days",
    "handle_cv": "--handle-cv",
    "seed": "--seed",
    "start": "--start",
}


def register(subparsers: Any) -> None:
    """Add the ``forecast`` command and its subcommands to the ``acd`` CLI."""
    forecast = subparsers.add_parser("forecast", help="Erlang staffing forecasts")
    sub = forecast.add_subparsers(dest="forecast_what", required=True, metavar="WHAT")

    erlang = sub.add_parser(
        "erlang", help="agents for one interval (Erlang C, or A with --patience)"
    )
    erlang.add_argument("--calls", type=float, required=True, help="calls offered in the interval")
    erlang.add_argument("--interval", type=float, default=1800.0, help="interval seconds (1800)")
    erlang.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    _target_args(erlang, per_queue=False)
    erlang.add_argument("--asa", type=float, default=None, help="also require ASA <= SECONDS")
    erlang.add_argument("--agents", type=int, default=None, help="evaluate this staffing instead")
    erlang.add_argument(
        "--table", action="store_true", help="SL, ASA, abandon, occupancy for a range of agents"
    )
    erlang.add_argument("--agents-from", type=int, default=None, help="first row of --table")
    erlang.add_argument("--agents-to", type=int, default=None, help="last row of --table")
    erlang.add_argument("--json", action="store_true", help="one JSON object on stdout")

    plan = sub.add_parser("plan", help="staffing plan per interval and queue from history")
    _history_args(plan)
    plan.add_argument("--start", required=True, help="first planned day, YYYY-MM-DD")
    plan.add_argument("--days", type=int, required=True, help="number of days")
    _target_args(plan, per_queue=True)
    plan.add_argument("--out", required=True, help="plan CSV")
    plan.add_argument("--floor-out", default=None, help="floor CSV (all queues per interval)")
    plan.add_argument("--chart", default=None, help="PNG chart")
    plan.add_argument("--html", default=None, help="self-contained HTML page")

    backtest = sub.add_parser(
        "backtest", help="rolling-origin accuracy (calls, AHT) vs naive and seasonal average"
    )
    _history_args(backtest)
    backtest.add_argument("--weeks", type=int, default=4, help="held-out weeks (4)")
    backtest.add_argument("--json", action="store_true")

    sim = sub.add_parser("simulate", help="discrete-event check of one interval's staffing")
    sim.add_argument("--calls", type=float, required=True)
    sim.add_argument("--interval", type=float, default=1800.0)
    sim.add_argument("--aht", type=float, required=True)
    sim.add_argument("--agents", type=int, required=True)
    sim.add_argument("--target-seconds", type=float, default=DEFAULT_TARGET_SECONDS)
    sim.add_argument("--patience", type=float, default=None)
    sim.add_argument("--handle", choices=["exponential", "lognormal"], default="exponential")
    sim.add_argument("--handle-cv", type=float, default=1.0, help="lognormal CV (1.0)")
    sim.add_argument(
        "--sim-calls", type=int, default=None, help="callers to simulate (default: sized to load)"
    )
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--json", action="store_true")

    sample = sub.add_parser("sample-history", help="write a realistic 9-week, 3-queue history")
    sample.add_argument("--out", required=True, help="interval CSV to write")
    sample.add_argument("--calendar-out", default=None, help="also write its special days (TOML)")
    sample.add_argument("--shifts-out", default=None, help="also write sample shift templates")
    sample.add_argument("--timezone", default="Europe/Warsaw", help="site zone (Europe/Warsaw)")
    sample.add_argument("--start", default=None, help="first day (2026-02-02)")
    sample.add_argument("--weeks", type=int, default=9)
    sample.add_argument("--seed", type=int, default=1)

    shifts = sub.add_parser("shifts", help="agents per shift covering a plan (integer program)")
    shifts.add_argument("--plan", required=True, help="plan CSV from 'acd forecast plan'")
    shifts.add_argument("--shifts", required=True, help="shift templates (TOML)")
    shifts.add_argument(
        "--queue", action="append", default=None, help="only this queue (repeatable)"
    )
    shifts.add_argument(
        "--absence",
        type=float,
        default=0.0,
        help="unplanned shrinkage to cover on top (breaks are placed explicitly) (0)",
    )
    shifts.add_argument("--time-limit", type=float, default=60.0, help="solver seconds (60)")
    shifts.add_argument("--out", default=None, help="schedule CSV (shifts and breaks)")
    shifts.add_argument("--chart", default=None, help="coverage chart PNG")
    shifts.add_argument("--json", action="store_true")

    intra = sub.add_parser("intraday", help="today's actuals vs the plan; re-forecast the rest")
    intra.add_argument("--plan", required=True, help="plan CSV from 'acd forecast plan'")
    intra.add_argument(
        "--actual", required=True, help="today's interval CSV ('acd export intervals')"
    )
    intra.add_argument("--now", default=None, help="ISO time with offset (default: now)")
    intra.add_argument(
        "--snapshot", default=None, help="wallboard /api/snapshot JSON (agents logged in)"
    )
    intra.add_argument("--json", action="store_true")


def _target_args(p: argparse.ArgumentParser, *, per_queue: bool) -> None:
    where = " (default: per queue from the history, else 120)" if per_queue else " (120)"
    p.add_argument(
        "--target-seconds", type=float, default=None, help="answer within T seconds" + where
    )
    p.add_argument(
        "--service-level",
        type=float,
        default=None,
        help=f"target fraction ({DEFAULT_SERVICE_LEVEL:g})",
    )
    p.add_argument(
        "--shrinkage",
        type=float,
        default=None,
        help=f"planned shrinkage: breaks, meetings ({DEFAULT_SHRINKAGE:g})",
    )
    p.add_argument(
        "--max-occupancy", type=float, default=None, help=f"cap ({DEFAULT_MAX_OCCUPANCY:g})"
    )
    p.add_argument("--patience", type=float, default=None, help="mean patience s: Erlang A")
    p.add_argument(
        "--max-abandon",
        type=float,
        default=None,
        help=f"Erlang A abandon cap ({DEFAULT_MAX_ABANDON:g})",
    )
    if per_queue:
        p.add_argument("--unplanned-shrinkage", type=float, default=None, help="absence, added (0)")
        p.add_argument(
            "--team-leader-ratio",
            type=int,
            default=None,
            help=f"agents per leader, 8-15, pooled over queues ({DEFAULT_TEAM_LEADER_RATIO})",
        )
        p.add_argument("--contract-hours", type=float, default=None, help="per week, FTE (40)")
        p.add_argument("--contract-days", type=int, default=None, help="per week, FTE (5)")
        p.add_argument("--targets", default=None, help="per-queue targets file (TOML)")


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--history", required=True, help="interval CSV or Asterisk queue_log")
    p.add_argument("--format", choices=["auto", "csv", "queue_log"], default="auto")
    p.add_argument("--interval", type=int, default=1800, help="planning interval seconds (1800)")
    p.add_argument("--holidays", default="", help="comma-separated YYYY-MM-DD closed days")
    p.add_argument("--calendar", default=None, help="special days file (TOML)")
    p.add_argument(
        "--timezone",
        default=None,
        help="site time zone, IANA name (e.g. Europe/Warsaw); default: the history's offset",
    )
    p.add_argument("--wrapup", type=float, default=None, help="queue_log wrap-up s per call")
    p.add_argument("--queue-log-target", type=int, default=120, help="queue_log SL target s")
    p.add_argument(
        "--acd-config",
        default=None,
        help="ACD config (config/acd.toml): queue targets, holidays, time zone, wrap-up",
    )


def _flag_message(exc: ForecastError) -> str:
    msg = exc.message
    fld = str(exc.data.get("field", ""))
    flag = FLAGS.get(fld)
    if flag is None:
        return msg
    if msg.startswith(fld):
        return flag + msg[len(fld) :]
    if flag in msg:
        return msg
    return f"{msg} ({flag})"


def run(args: argparse.Namespace) -> int:
    """Execute ``acd forecast <what>``; returns the process exit code."""
    commands = {
        "erlang": _erlang,
        "plan": _plan,
        "backtest": _backtest,
        "simulate": _simulate,
        "sample-history": _sample_history,
        "shifts": _shifts,
        "intraday": _intraday,
    }
    try:
        return commands[args.forecast_what](args)
    except ForecastError as exc:
        print(f"acd forecast {args.forecast_what}: error: {_flag_message(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"acd forecast {args.forecast_what}: error: {exc.filename or ''}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _finite(**values: float | None) -> None:
    for name, v in values.items():
        if v is not None and not math.isfinite(v):
            raise InvalidInput(f"--{name.replace('_', '-')} must be a finite number")


def _json_number(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _erlang(args: argparse.Namespace) -> int:
    from forecasting import erlang as ec
    from forecasting import erlang_a as ea

    _finite(
        calls=args.calls,
        interval=args.interval,
        aht=args.aht,
        target_seconds=args.target_seconds,
        service_level=args.service_level,
        asa=args.asa,
        shrinkage=args.shrinkage,
        max_occupancy=args.max_occupancy,
        patience=args.patience,
        max_abandon=args.max_abandon,
    )
    if args.agents is not None and args.agents < 0:
        raise InvalidInput("--agents must be >= 0")
    sl_t = _or(args.service_level, DEFAULT_SERVICE_LEVEL)
    t_sec = _or(args.target_seconds, DEFAULT_TARGET_SECONDS)
    shrink = _or(args.shrinkage, DEFAULT_SHRINKAGE)
    occ_cap = _or(args.max_occupancy, DEFAULT_MAX_OCCUPANCY)
    ab_cap = _or(args.max_abandon, DEFAULT_MAX_ABANDON) if args.patience is not None else None
    if args.patience is None and args.max_abandon is not None:
        raise InvalidInput("--max-abandon needs --patience (abandons are an Erlang A figure)")
    if args.patience is not None and args.asa is not None:
        raise InvalidInput("--asa is an Erlang C target; with --patience use --max-abandon")
    if args.patience is not None and not args.patience > 0:
        raise InvalidInput("--patience must be > 0 seconds")
    ec.scheduled_agents(0, shrink)  # validates --shrinkage before any work
    a = float(ec.traffic_erlangs(args.calls, args.interval, args.aht))
    targets = ec.Targets(sl_t, t_sec, args.asa, occ_cap)
    targets.validate()
    if args.patience is None:
        n = (
            args.agents
            if args.agents is not None
            else int(ec.required_agents(a, args.aht, targets))
        )
    else:
        n = (
            args.agents
            if args.agents is not None
            else int(
                ea.required_agents_erlang_a(
                    a,
                    args.aht,
                    args.patience,
                    service_level=sl_t,
                    target_seconds=t_sec,
                    max_abandon=ab_cap,
                    max_occupancy=occ_cap,
                )
            )
        )
    metrics = _metrics(n, a, args.aht, t_sec, args.patience)
    out: dict[str, Any] = {
        "model": "erlang_c" if args.patience is None else "erlang_a",
        "calls": args.calls,
        "interval_seconds": args.interval,
        "aht_seconds": args.aht,
        "traffic_erlangs": a,
        "target_seconds": t_sec,
        "service_level_target": sl_t,
        "max_occupancy": occ_cap,
        "agents": n,
        **metrics,
        "agents_scheduled": int(ec.scheduled_agents(n, shrink)),
        "shrinkage": shrink,
    }
    if args.patience is not None:
        out["patience_seconds"] = args.patience
        out["max_abandon"] = ab_cap
    warnings = _erlang_warnings(out, args.agents is not None)
    out["warnings"] = warnings
    if args.table:
        lo = args.agents_from if args.agents_from is not None else max(math.floor(a) - 2, 0)
        hi = args.agents_to if args.agents_to is not None else max(n + 6, lo + 8)
        if lo < 0 or hi < lo or hi - lo > 2000:
            raise InvalidInput(
                "--agents-from/--agents-to must give 0 <= from <= to, at most 2000 rows"
            )
        table = [
            {"agents": k, **_metrics(k, a, args.aht, t_sec, args.patience)}
            for k in range(lo, hi + 1)
        ]
        out["table"] = table
    if args.json:
        print(json.dumps(out, sort_keys=True))
        for w in warnings:
            _warn(w)
        return 0
    asa = out["asa_seconds"]
    model = "Erlang C" if args.patience is None else f"Erlang A (patience {args.patience:g} s)"
    lines = [
        ("model", model),
        (
            "targets",
            f"{sl_t:.0%} within {t_sec:g} s, occupancy <= {occ_cap:.0%}"
            + ("" if ab_cap is None else f", abandon <= {ab_cap:.0%}")
            + ("" if args.asa is None else f", ASA <= {args.asa:g} s"),
        ),
        ("traffic", f"{a:.3f} Erlangs"),
        ("agents on the phones", str(n)),
        (f"agents scheduled ({shrink:.0%} shrinkage)", str(out["agents_scheduled"])),
        (f"service level ({t_sec:g} s)", f"{out['service_level']:.1%}"),
        ("probability of waiting", f"{out['probability_wait']:.1%}"),
        ("ASA", "unbounded (agents <= traffic)" if asa is None else f"{asa:.1f} s"),
        ("occupancy", f"{out['occupancy']:.1%}"),
    ]
    if "probability_abandon" in out:
        lines.append(("probability of abandoning", f"{out['probability_abandon']:.1%}"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    if args.table:
        print()
        head = (
            f"{'agents':>6}  {'SL':>7}  {'ASA s':>8}  {'P(wait)':>7}  {'abandon':>7}  "
            f"{'occupancy':>9}"
        )
        print(head)
        for row in out["table"]:
            asa_t = "inf" if row["asa_seconds"] is None else f"{row['asa_seconds']:.1f}"
            ab = row.get("probability_abandon")
            mark = "  <- recommended" if row["agents"] == n else ""
            print(
                f"{row['agents']:>6}  {row['service_level']:>7.1%}  {asa_t:>8}  "
                f"{row['probability_wait']:>7.1%}  {'-' if ab is None else f'{ab:.1%}':>7}  "
                f"{row['occupancy']:>9.1%}{mark}"
            )
    for w in warnings:
        _warn(w)
    return 0


def _metrics(n: int, a: float, aht: float, t_sec: float, patience: float | None) -> dict[str, Any]:
    from forecasting import erlang as ec
    from forecasting import erlang_a as ea

    if patience is None:
        return {
            "service_level": float(ec.service_level(n, a, aht, t_sec)),
            "probability_wait": float(ec.erlang_c(n, a)),
            "asa_seconds": _json_number(float(ec.asa_seconds(n, a, aht))),
            "occupancy": float(ec.occupancy(n, a)),
        }
    m = ea.erlang_a(n, a, aht, patience, t_sec)
    return {
        "service_level": float(m.service_level),
        "probability_wait": float(m.probability_wait),
        "asa_seconds": _json_number(float(ea.asa_seconds(n, a, aht, patience))),
        "occupancy": float(m.occupancy),
        "probability_abandon": float(m.probability_abandon),
    }


def _erlang_warnings(out: dict[str, Any], evaluated: bool) -> list[str]:
    w: list[str] = []
    what = "this staffing" if evaluated else "the recommended staffing"
    ab = out.get("probability_abandon")
    if ab is not None and ab > DEFAULT_MAX_ABANDON + 1e-12:
        w.append(f"{what} loses {ab:.1%} of callers to abandons (above {DEFAULT_MAX_ABANDON:.0%})")
    if out["traffic_erlangs"] > 0 and out["occupancy"] > DEFAULT_MAX_OCCUPANCY + 1e-12:
        w.append(
            f"{what} keeps agents {out['occupancy']:.1%} occupied (above "
            f"{DEFAULT_MAX_OCCUPANCY:.0%}): not sustainable for a shift"
        )
    if out["traffic_erlangs"] > 0 and out["agents"] <= out["traffic_erlangs"] and ab is None:
        w.append(f"{what} is below the traffic: the queue grows without bound")
    return w


# --- history ---------------------------------------------------------------


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{flag} must be a date YYYY-MM-DD, got {text!r}") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r} (an IANA name such as Europe/Warsaw)"
        ) from None


class _Loaded:
    def __init__(self) -> None:
        self.grids: list[Any] = []
        self.calendar: Any = None
        self.notes: list[str] = []
        self.acd: Any = None
        self.tz: tzinfo | None = None


def _load(args: argparse.Namespace) -> _Loaded:
    from forecasting.arrivals import history_zone, to_grid
    from forecasting.calendar import Calendar, closed_days, load_calendar
    from forecasting.history import HistoryFormat, iter_queues, load_history
    from forecasting.targets import load_acd_config

    out = _Loaded()
    acd = load_acd_config(args.acd_config) if getattr(args, "acd_config", None) else None
    out.acd = acd
    zone_name = args.timezone or (acd.timezone if acd is not None else None)
    tz: tzinfo | None = _zone(zone_name) if zone_name else None
    holidays = [_parse_day(d, "--holidays") for d in args.holidays.split(",") if d.strip()]
    if args.interval <= 0 or 86400 % args.interval:
        raise InvalidInput("--interval must divide a day (e.g. 900, 1800, 3600)")
    wrapup = args.wrapup
    if wrapup is None and acd is not None and len(acd.queues) == 1:
        wrapup = next(iter(acd.queues.values())).wrap_up_seconds
    if wrapup is not None and not (math.isfinite(wrapup) and wrapup >= 0):
        raise InvalidInput("--wrapup must be >= 0 seconds")
    load = load_history(
        args.history,
        HistoryFormat(args.format),
        interval_seconds=args.interval,
        target_seconds=args.queue_log_target,
        wrapup_seconds=wrapup or 0.0,
        tz=tz if tz is not None else ZoneInfo("UTC"),
    )
    print(f"history: {load.summary()}", file=sys.stderr)
    out.notes += list(load.warnings)
    if not load.records:
        raise InvalidInput(f"no usable intervals in {args.history}")
    zero = load.zero_handle_time()
    if zero:
        shown = "; ".join(
            (f"line {r.line} " if r.line else "") + f"{r.queue} {r.start.isoformat()}"
            for r in zero[:5]
        )
        raise InvalidInput(
            f"{len(zero)} interval(s) have answered calls but handle_seconds 0 (an AHT of 0 s "
            f"cannot be planned): {shown}{' ...' if len(zero) > 5 else ''}; the export must "
            "hold talk + hold + wrap-up"
        )
    if tz is None:
        tz, zone_warning = history_zone(load.records)
        if zone_warning:
            out.notes.append(zone_warning)
    out.tz = tz
    calendar = load_calendar(args.calendar) if args.calendar else Calendar()
    calendar = calendar.merged(closed_days(holidays, "holiday (--holidays)"))
    if acd is not None:
        for q in acd.queues.values():
            calendar = calendar.merged(closed_days(q.holidays, "holiday (ACD config)", q.name))
    out.calendar = calendar
    out.grids = [to_grid(q, recs, args.interval, tz) for q, recs in iter_queues(load.records)]
    return out


def _plan(args: argparse.Namespace) -> int:
    from forecasting.arrivals import fit
    from forecasting.charts import write_html, write_png
    from forecasting.plan import (
        daily_totals,
        floor_days,
        floor_intervals,
        floor_weeks,
        plan_days,
        write_floor_csv,
        write_plan_csv,
    )
    from forecasting.targets import load_targets, settings_per_queue

    start = _parse_day(args.start, "--start")
    if not 1 <= args.days <= 366:
        raise InvalidInput("--days must be 1 to 366")
    flags = {
        "service_level": args.service_level,
        "target_seconds": args.target_seconds,
        "shrinkage": args.shrinkage,
        "unplanned_shrinkage": args.unplanned_shrinkage,
        "max_occupancy": args.max_occupancy,
        "team_leader_ratio": args.team_leader_ratio,
        "patience_seconds": args.patience,
        "max_abandon": args.max_abandon,
        "contract_hours": args.contract_hours,
        "contract_days": args.contract_days,
    }
    _finite(**{k: v for k, v in flags.items() if isinstance(v, float)})
    targets_file = load_targets(args.targets) if args.targets else None
    # Validate the flags alone first, so a bad flag is named before any history is read.
    settings_per_queue([], history_targets={}, targets=None, flags=flags)
    loaded = _load(args)
    grids = loaded.grids
    base, per_queue, source = settings_per_queue(
        [g.queue for g in grids],
        history_targets={g.queue: g.target_seconds for g in grids},
        acd=loaded.acd,
        targets=targets_file,
        flags=flags,
    )
    notes = list(loaded.notes)
    models = []
    for g in grids:
        special = loaded.calendar.for_queue(g.queue)
        model = fit(g, special.keys())
        models.append((model, special))
        notes += model.notes()
    last_day = max(g.day(g.days - 1) for g in grids)
    if (start - last_day).days > 56:
        notes.append(
            f"--start {start} is {(start - last_day).days} days after the history ends "
            f"({last_day}): the trend is held within +-50% and the forecast is a guess"
        )
    forecasts = []
    for d in range(args.days):
        day = start + timedelta(days=d)
        for model, special in models:
            forecasts.append(model.forecast(day, special.get(day)))
    plan = plan_days(forecasts, base, per_queue)
    rows = plan.rows
    totals = daily_totals(rows)
    floor = floor_intervals(rows, base.team_leader_ratio)
    fdays = floor_days(floor, base)
    fweeks = floor_weeks(floor, base)
    write_plan_csv(rows, args.out)
    if args.floor_out:
        write_floor_csv(floor, args.floor_out)
    if args.chart:
        write_png(rows, args.chart)
    if args.html:
        write_html(plan, totals, args.html, fdays, fweeks, [*notes])
    print("targets per queue:", file=sys.stderr)
    for q in sorted(per_queue):
        s = per_queue[q]
        model_text = (
            "Erlang C"
            if s.patience_seconds is None
            else (
                f"Erlang A, patience {s.patience_seconds:g} s, abandon <= "
                f"{(s.max_abandon or 1.0):.0%}"
            )
        )
        print(
            f"  {q}: {s.service_level:.0%} in {s.target_seconds:g} s (from {source[q]}), "
            f"occupancy <= {s.max_occupancy:.0%}, shrinkage {s.shrinkage:.0%}"
            f"{f' + {s.unplanned_shrinkage:.0%} unplanned' if s.unplanned_shrinkage else ''}, "
            f"{model_text}",
            file=sys.stderr,
        )
    for text in [*notes, *plan.warnings]:
        _warn(text)
    specials = sorted({(r.start.date(), r.queue, r.note) for r in rows if r.note})
    for sday, q, note in specials:
        print(f"special day: {sday} {q}: {note}", file=sys.stderr)
    print(f"{'day':<10}  {'queue':<12}  {'calls':>8}  {'req agent-h':>11}  {'sched agent-h':>13}")
    for t in totals:
        print(
            f"{t.day!s:<10}  {t.queue:<12}  {t.forecast_calls:>8.0f}  "
            f"{t.required_agent_hours:>11.1f}  {t.scheduled_agent_hours:>13.1f}"
        )
    print()
    print(
        f"{'floor':<18}  {'calls':>8}  {'sched agent-h':>13}  {'FTE':>6}  {'leader-h':>8}  "
        f"{'peak agents':>11}  {'peak leaders':>12}"
    )
    for p in [*fdays, *fweeks]:
        print(
            f"{p.label:<18}  {p.forecast_calls:>8.0f}  {p.scheduled_agent_hours:>13.1f}  "
            f"{p.fte:>6.1f}  {p.team_leader_hours:>8.1f}  {p.peak_agents:>11}  "
            f"{p.peak_team_leaders:>12}"
        )
    print(
        f"wrote {args.out}"
        + "".join(f", {p}" for p in (args.floor_out, args.chart, args.html) if p),
        file=sys.stderr,
    )
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from forecasting.arrivals import LEVELS, METHODS, backtest

    if not 1 <= args.weeks <= 52:
        raise InvalidInput("--weeks must be 1 to 52")
    loaded = _load(args)
    for n in loaded.notes:
        _warn(n)
    results = [
        backtest(g, loaded.calendar.for_queue(g.queue).keys(), weeks=args.weeks)
        for g in loaded.grids
    ]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "queue": r.queue,
                        "held_out_from": r.first_day.isoformat(),
                        "origins": [o.isoformat() for o in r.origins],
                        "days": r.days_scored,
                        "actual_calls": r.actual_calls,
                        "model_wape": r.model_wape,
                        "naive_wape": r.naive_wape,
                        "scores": [
                            {
                                "series": s.series,
                                "level": s.level,
                                "method": s.method,
                                "wape": _json_number(s.wape),
                                "bias": _json_number(s.bias),
                            }
                            for s in r.scores
                        ],
                    }
                    for r in results
                ]
            )
        )
        return 0
    for r in results:
        print(
            f"queue {r.queue}: {len(r.origins)} held-out week(s) from "
            f"{', '.join(str(o) for o in r.origins)}; {r.days_scored} days, "
            f"{r.actual_calls:,.0f} calls scored"
        )
        print(f"  {'':<14}" + "".join(f"{m:>22}" for m in METHODS))
        for series in ("calls", "aht"):
            for level in LEVELS:
                cells = []
                for m in METHODS:
                    s = r.score(series, level, m)
                    cells.append(f"{s.wape:>8.1%} bias {s.bias:>+7.1%}")
                print(f"  {series + ' ' + level:<14}" + "".join(f"{c:>22}" for c in cells))
        print("  (WAPE = sum |forecast - actual| / sum actual; bias > 0 over-forecasts)")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from forecasting import erlang as ec
    from forecasting.simulation import HandleTimes, simulate_queue

    _finite(
        calls=args.calls,
        interval=args.interval,
        aht=args.aht,
        patience=args.patience,
        target_seconds=args.target_seconds,
        handle_cv=args.handle_cv,
    )
    if args.seed < 0:
        raise InvalidInput("--seed must be >= 0")
    if not args.handle_cv > 0:
        raise InvalidInput("--handle-cv must be > 0 (the spread of lognormal handle times)")
    if args.sim_calls is not None and args.sim_calls < 200:
        raise InvalidInput("--sim-calls must be at least 200")
    if args.agents < 1:
        raise InvalidInput("--agents must be >= 1")
    a = float(ec.traffic_erlangs(args.calls, args.interval, args.aht))
    if a <= 0:
        raise InvalidInput("--calls must be > 0 to simulate")
    sim = simulate_queue(
        traffic=a,
        aht_seconds=args.aht,
        agents=args.agents,
        target_seconds=args.target_seconds,
        patience_seconds=args.patience,
        handle=HandleTimes(args.handle),
        handle_cv=args.handle_cv,
        calls=args.sim_calls,
        seed=args.seed,
    )
    model = _metrics(args.agents, a, args.aht, args.target_seconds, args.patience)
    model.setdefault("probability_abandon", 0.0)
    simulated = {
        "service_level": sim.service_level,
        "service_level_halfwidth": sim.service_level_halfwidth,
        "asa_seconds": sim.asa_seconds,
        "asa_halfwidth": sim.asa_halfwidth,
        "probability_abandon": sim.probability_abandon,
        "abandon_halfwidth": sim.abandon_halfwidth,
        "occupancy": sim.occupancy,
        "calls": sim.calls,
    }
    warnings = []
    if sim.service_level_halfwidth > 0.02:
        warnings.append(
            f"the simulation has not settled (service level +- {sim.service_level_halfwidth:.1%}): "
            "near full occupancy the queue wanders for a long time; treat it as indicative "
            "or raise --sim-calls"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "traffic_erlangs": a,
                    "agents": args.agents,
                    "erlang": model,
                    "simulation": simulated,
                    "warnings": warnings,
                },
                sort_keys=True,
            )
        )
        for w in warnings:
            _warn(w)
        return 0
    name = "Erlang C" if args.patience is None else "Erlang A"
    asa_model = model["asa_seconds"]
    print(
        f"{a:.2f} Erlangs on {args.agents} agents, {sim.calls} simulated callers "
        f"({args.handle} handle times)"
    )
    print(f"{'':<22}{name:>12}  {'simulation (95% CI)':>22}")
    print(
        f"{'service level':<22}{model['service_level']:>12.1%}  "
        f"{sim.service_level:>13.1%} ± {sim.service_level_halfwidth:.1%}"
    )
    asa_text = "inf" if asa_model is None else f"{asa_model:.1f} s"
    print(f"{'ASA':<22}{asa_text:>12}  {sim.asa_seconds:>11.1f} s ± {sim.asa_halfwidth:.1f} s")
    print(
        f"{'abandon rate':<22}{model['probability_abandon']:>12.1%}  "
        f"{sim.probability_abandon:>13.1%} ± {sim.abandon_halfwidth:.1%}"
    )
    for w in warnings:
        _warn(w)
    return 0


def _sample_history(args: argparse.Namespace) -> int:
    from forecasting.history import write_interval_csv
    from forecasting.sample import (
        SAMPLE_SHIFTS_TOML,
        SAMPLE_START,
        sample_calendar_toml,
        sample_history,
    )

    tz = _zone(args.timezone)
    start = _parse_day(args.start, "--start") if args.start else SAMPLE_START
    if not 1 <= args.weeks <= 104:
        raise InvalidInput("--weeks must be 1 to 104")
    if args.seed < 0:
        raise InvalidInput("--seed must be >= 0")
    records = sample_history(tz, start=start, weeks=args.weeks, seed=args.seed)
    with Path(args.out).open("w", encoding="utf-8", newline="") as fh:
        write_interval_csv(records, fh)
    if args.calendar_out:
        Path(args.calendar_out).write_text(sample_calendar_toml(), encoding="utf-8")
    if args.shifts_out:
        Path(args.shifts_out).write_text(SAMPLE_SHIFTS_TOML, encoding="utf-8")
    last = start + timedelta(days=7 * args.weeks - 1)
    print(
        f"wrote {args.out}: {len(records)} intervals, queues sales, support, billing, "
        f"{start} to {last} ({args.timezone})"
        + "".join(f", {p}" for p in (args.calendar_out, args.shifts_out) if p),
        file=sys.stderr,
    )
    return 0


def _shifts(args: argparse.Namespace) -> int:
    from forecasting.charts import write_coverage_png
    from forecasting.plan import read_plan_csv
    from forecasting.shifts import (
        floor_requirement,
        greedy_cover,
        load_templates,
        solve_schedule,
        write_schedule_csv,
    )

    if not (math.isfinite(args.absence) and 0 <= args.absence < 1):
        raise InvalidInput("--absence must be at least 0 and below 1")
    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise InvalidInput("--time-limit must be > 0 seconds")
    rows = read_plan_csv(args.plan)
    templates = load_templates(args.shifts)
    req = floor_requirement(rows, args.queue, args.absence)
    def solving(part: int, parts: int, first: datetime) -> None:
        # A week of shifts takes seconds: say what is being solved meanwhile.
        print(f"solving part {part + 1} of {parts} ({first:%a %Y-%m-%d}) ...",
              file=sys.stderr, flush=True)

    schedule = solve_schedule(req, templates, time_limit=args.time_limit, progress=solving)
    greedy = greedy_cover(req, templates)
    if args.out:
        write_schedule_csv(schedule, args.out)
    if args.chart:
        queues = ", ".join(args.queue) if args.queue else "all queues"
        write_coverage_png(
            req.starts,
            req.interval_seconds,
            req.required.tolist(),
            schedule.coverage.tolist(),
            args.chart,
            f"Shift coverage, {queues}: {schedule.agents} agent-shifts, "
            f"{schedule.paid_hours:,.1f} paid "
            f"hours (greedy: {greedy.agents}, {greedy.paid_hours:,.1f} h); "
            f"absence {args.absence:.0%}; local time {req.starts[0].tzinfo}",
        )
    summary = {
        "status": schedule.status,
        "agents": schedule.agents,
        "paid_hours": schedule.paid_hours,
        "required_agent_hours": req.agent_hours,
        "over_staffed_agent_hours": schedule.over_hours,
        "under_staffed_agent_hours": schedule.under_hours,
        "solve_seconds": schedule.seconds,
        "greedy_agents": greedy.agents,
        "greedy_paid_hours": greedy.paid_hours,
        "shifts": [
            {
                "template": s.template,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "agents": s.agents,
                "breaks": [
                    {"start": b.start.isoformat(), "minutes": b.minutes, "agents": b.agents}
                    for b in s.breaks
                ],
            }
            for s in schedule.shifts
        ],
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
        return 0
    print(
        f"{schedule.status}: {schedule.agents} agent-shifts on {len(schedule.shifts)} "
        "shift starts, "
        f"{schedule.paid_hours:,.1f} paid hours for {req.agent_hours:,.1f} required agent-hours "
        f"(over-staffed {schedule.over_hours:,.1f} h, under {schedule.under_hours:,.1f} h), "
        f"solved in {schedule.seconds:.2f} s"
    )
    print(
        f"greedy cover: {greedy.agents} agent-shifts, {greedy.paid_hours:,.1f} paid hours "
        f"({greedy.paid_hours - schedule.paid_hours:+,.1f} h against the integer program)"
    )
    print(f"{'day':<10}  {'shift':<12}  {'start':>5}  {'end':>5}  {'agents':>6}  breaks")
    for s in schedule.shifts:
        br = ", ".join(f"{b.agents}x {b.start:%H:%M} ({b.minutes} min)" for b in s.breaks)
        print(
            f"{s.start.date()!s:<10}  {s.template:<12}  {s.start:%H:%M}  {s.end:%H:%M}  "
            f"{s.agents:>6}  {br}"
        )
    if schedule.under_hours > 0:
        _warn(
            f"the shift templates cannot cover every interval: {schedule.under_hours:,.1f} "
            "agent-hours short (widen the start windows or add a template)"
        )
    return 0


def _intraday(args: argparse.Namespace) -> int:
    from forecasting.history import HistoryFormat, load_history
    from forecasting.intraday import compare, needs_now, read_snapshot
    from forecasting.plan import read_plan_csv

    rows = read_plan_csv(args.plan)
    tz = rows[0].start.tzinfo
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            raise InvalidInput(f"--now must be an ISO time with offset, got {args.now!r}") from None
        if now.utcoffset() is None:
            raise InvalidInput("--now needs a UTC offset (e.g. 2026-04-08T11:20:00+02:00)")
    else:
        now = datetime.now(tz)
    load = load_history(args.actual, HistoryFormat.CSV)
    print(f"actual: {load.summary()}", file=sys.stderr)
    logged_in = read_snapshot(args.snapshot) if args.snapshot else {}
    report = compare(rows, list(load.records), now)
    needs = needs_now(report, now, logged_in)
    if args.json:
        print(json.dumps(report.to_json(needs), sort_keys=True))
        for w in report.warnings:
            _warn(w)
        return 0
    print(f"intraday at {now:%Y-%m-%d %H:%M %Z} ({report.day})")
    print(
        f"{'queue':<12}  {'plan calls':>10}  {'actual':>8}  {'ratio':>6}  {'plan AHT':>8}  "
        f"{'actual AHT':>10}  {'rest of day: plan':>17}  {'re-forecast':>11}"
    )
    for q in report.queues:
        print(
            f"{q.queue:<12}  {q.planned_calls_so_far:>10.0f}  {q.actual_calls_so_far:>8.0f}  "
            f"{q.calls_ratio:>6.2f}  {q.planned_aht:>8.0f}  {q.actual_aht:>10.0f}  "
            f"{q.planned_calls_rest:>17.0f}  {q.reforecast_calls_rest:>11.0f}"
        )
    print()
    print(
        f"{'queue':<12}  {'interval':>8}  {'needed (plan)':>13}  {'needed now':>10}  "
        f"{'logged in':>9}"
    )
    for n in needs:
        li = "-" if n.logged_in is None else str(n.logged_in)
        print(
            f"{n.queue:<12}  {n.interval_start:%H:%M}  {n.planned_agents:>13}  "
            f"{n.needed_agents:>10}  {li:>9}"
        )
    for w in report.warnings:
        _warn(w)
    return 0
