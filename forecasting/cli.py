"""``acd forecast ...`` subcommands: erlang, plan, backtest, simulate.

Exit codes: 0 success, 2 bad input (arguments, unusable history). Errors are
one clear line on stderr, never a traceback (argparse itself exits 2 with its
usage line for unparsable values). Progress of long plans goes to
stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forecasting.errors import ForecastError, InvalidInput


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
    erlang.add_argument("--target-seconds", type=float, default=120.0, help="answer within T (120)")
    erlang.add_argument("--service-level", type=float, default=0.8, help="target fraction (0.8)")
    erlang.add_argument("--asa", type=float, default=None, help="also require ASA <= SECONDS")
    erlang.add_argument("--shrinkage", type=float, default=0.0, help="fraction lost to breaks etc.")
    erlang.add_argument("--max-occupancy", type=float, default=1.0, help="cap, e.g. 0.85")
    erlang.add_argument("--patience", type=float, default=None, help="mean patience s: Erlang A")
    erlang.add_argument("--max-abandon", type=float, default=None, help="Erlang A abandon cap")
    erlang.add_argument("--agents", type=int, default=None, help="evaluate this staffing instead")
    erlang.add_argument("--json", action="store_true", help="one JSON object on stdout")

    plan = sub.add_parser("plan", help="staffing plan per interval and queue from history")
    _history_args(plan)
    plan.add_argument("--start", required=True, help="first planned day, YYYY-MM-DD")
    plan.add_argument("--days", type=int, required=True, help="number of days")
    plan.add_argument("--service-level", type=float, default=0.8)
    plan.add_argument("--target-seconds", type=float, default=120.0)
    plan.add_argument("--shrinkage", type=float, default=0.3)
    plan.add_argument("--max-occupancy", type=float, default=0.85)
    plan.add_argument("--team-leader-ratio", type=int, default=12, help="agents per leader, 8-15")
    plan.add_argument("--patience", type=float, default=None, help="plan with Erlang A")
    plan.add_argument("--max-abandon", type=float, default=None)
    plan.add_argument("--out", required=True, help="plan CSV")
    plan.add_argument("--chart", default=None, help="PNG chart")
    plan.add_argument("--html", default=None, help="self-contained HTML page")

    backtest = sub.add_parser("backtest", help="WAPE on the last week vs same-week-last-week")
    _history_args(backtest)
    backtest.add_argument("--json", action="store_true")

    sim = sub.add_parser("simulate", help="discrete-event check of one interval's staffing")
    sim.add_argument("--calls", type=float, required=True)
    sim.add_argument("--interval", type=float, default=1800.0)
    sim.add_argument("--aht", type=float, required=True)
    sim.add_argument("--agents", type=int, required=True)
    sim.add_argument("--target-seconds", type=float, default=120.0)
    sim.add_argument("--patience", type=float, default=None)
    sim.add_argument("--handle", choices=["exponential", "lognormal"], default="exponential")
    sim.add_argument("--handle-cv", type=float, default=1.0, help="lognormal CV (1.0)")
    sim.add_argument("--sim-calls", type=int, default=200_000, help="callers to simulate")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--json", action="store_true")


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--history", required=True, help="interval CSV or Asterisk queue_log")
    p.add_argument("--format", choices=["auto", "csv", "queue_log"], default="auto")
    p.add_argument("--interval", type=int, default=1800, help="planning interval seconds (1800)")
    p.add_argument("--holidays", default="", help="comma-separated YYYY-MM-DD days to ignore")
    p.add_argument("--timezone", default="UTC", help="queue_log local time zone (UTC)")
    p.add_argument("--wrapup", type=float, default=0.0, help="queue_log wrap-up s per call")
    p.add_argument("--queue-log-target", type=int, default=120, help="queue_log SL target s")


def run(args: argparse.Namespace) -> int:
    """Execute ``acd forecast <what>``; returns the process exit code."""
    try:
        if args.forecast_what == "erlang":
            return _erlang(args)
        if args.forecast_what == "plan":
            return _plan(args)
        if args.forecast_what == "backtest":
            return _backtest(args)
        if args.forecast_what == "simulate":
            return _simulate(args)
    except ForecastError as exc:
        print(f"acd forecast {args.forecast_what}: error: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled forecast command {args.forecast_what}")


def _finite(**values: float | None) -> None:
    for name, v in values.items():
        if v is not None and not math.isfinite(v):
            raise InvalidInput(f"--{name.replace('_', '-')} must be a finite number")


def _json_number(v: float) -> float | None:
    return v if math.isfinite(v) else None


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
    a = float(ec.traffic_erlangs(args.calls, args.interval, args.aht))
    targets = ec.Targets(args.service_level, args.target_seconds, args.asa, args.max_occupancy)
    targets.validate()
    out: dict[str, Any] = {
        "model": "erlang_c" if args.patience is None else "erlang_a",
        "calls": args.calls,
        "interval_seconds": args.interval,
        "aht_seconds": args.aht,
        "traffic_erlangs": a,
        "target_seconds": args.target_seconds,
        "service_level_target": args.service_level,
    }
    if args.patience is None:
        n = (
            args.agents
            if args.agents is not None
            else int(ec.required_agents(a, args.aht, targets))
        )
        out |= {
            "agents": n,
            "service_level": float(ec.service_level(n, a, args.aht, args.target_seconds)),
            "probability_wait": float(ec.erlang_c(n, a)),
            "asa_seconds": _json_number(float(ec.asa_seconds(n, a, args.aht))),
            "occupancy": float(ec.occupancy(n, a)),
        }
    else:
        if args.asa is not None:
            raise InvalidInput("--asa is an Erlang C target; with --patience use --max-abandon")
        n = (
            args.agents
            if args.agents is not None
            else int(
                ea.required_agents_erlang_a(
                    a,
                    args.aht,
                    args.patience,
                    service_level=args.service_level,
                    target_seconds=args.target_seconds,
                    max_abandon=args.max_abandon,
                    max_occupancy=args.max_occupancy,
                )
            )
        )
        m = ea.erlang_a(n, a, args.aht, args.patience, args.target_seconds)
        out |= {
            "agents": n,
            "service_level": float(m.service_level),
            "probability_wait": float(m.probability_wait),
            "asa_seconds": _json_number(float(ea.asa_seconds(n, a, args.aht, args.patience))),
            "occupancy": float(m.occupancy),
            "probability_abandon": float(m.probability_abandon),
            "patience_seconds": args.patience,
        }
    out["agents_scheduled"] = int(ec.scheduled_agents(n, args.shrinkage))
    out["shrinkage"] = args.shrinkage
    if args.json:
        print(json.dumps(out, sort_keys=True))
        return 0
    asa = out["asa_seconds"]
    lines = [
        (
            "model",
            "Erlang C" if args.patience is None else f"Erlang A (patience {args.patience:g} s)",
        ),
        ("traffic", f"{a:.3f} Erlangs"),
        ("agents on the phones", str(n)),
        (f"agents scheduled ({args.shrinkage:.0%} shrinkage)", str(out["agents_scheduled"])),
        (f"service level ({args.target_seconds:g} s)", f"{out['service_level']:.1%}"),
        ("probability of waiting", f"{out['probability_wait']:.1%}"),
        ("ASA", "unbounded (agents <= traffic)" if asa is None else f"{asa:.1f} s"),
        ("occupancy", f"{out['occupancy']:.1%}"),
    ]
    if "probability_abandon" in out:
        lines.append(("probability of abandoning", f"{out['probability_abandon']:.1%}"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    return 0


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{flag} must be a date YYYY-MM-DD, got {text!r}") from None


def _load(args: argparse.Namespace) -> tuple[list[Any], list[date]]:
    from forecasting.arrivals import to_grid
    from forecasting.history import HistoryFormat, iter_queues, load_history

    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {args.timezone!r}") from None
    holidays = [_parse_day(d, "--holidays") for d in args.holidays.split(",") if d.strip()]
    if args.interval <= 0 or 86400 % args.interval:
        raise InvalidInput("--interval must divide a day (e.g. 900, 1800, 3600)")
    load = load_history(
        args.history,
        HistoryFormat(args.format),
        interval_seconds=args.interval,
        target_seconds=args.queue_log_target,
        wrapup_seconds=args.wrapup,
        tz=tz,
    )
    print(f"history: {load.summary()}", file=sys.stderr)
    if not load.records:
        raise InvalidInput(f"no usable intervals in {args.history}")
    grids = [to_grid(q, recs, args.interval) for q, recs in iter_queues(load.records)]
    return grids, holidays


def _progress(done: int, total: int, label: str) -> None:
    print(
        f"\rplanning {done}/{total} ({label})", end="\n" if done == total else "", file=sys.stderr
    )


def _plan(args: argparse.Namespace) -> int:
    from forecasting.arrivals import fit
    from forecasting.charts import write_html, write_png
    from forecasting.plan import PlanSettings, daily_totals, plan_days, write_plan_csv

    start = _parse_day(args.start, "--start")
    if not 1 <= args.days <= 366:
        raise InvalidInput("--days must be 1 to 366")
    settings = PlanSettings(
        service_level=args.service_level,
        target_seconds=args.target_seconds,
        shrinkage=args.shrinkage,
        max_occupancy=args.max_occupancy,
        team_leader_ratio=args.team_leader_ratio,
        patience_seconds=args.patience,
        max_abandon=args.max_abandon,
    )
    settings.validate()
    grids, holidays = _load(args)
    models = [fit(g, holidays) for g in grids]
    forecasts = [m.forecast(start + timedelta(days=d)) for d in range(args.days) for m in models]
    rows = plan_days(forecasts, settings, progress=_progress if len(forecasts) > 1 else None)
    totals = daily_totals(rows)
    try:
        write_plan_csv(rows, args.out)
        if args.chart:
            write_png(rows, args.chart)
        if args.html:
            write_html(rows, totals, args.html)
    except OSError as exc:
        raise InvalidInput(f"cannot write output: {exc}") from None
    print(
        f"{'day':<10}  {'queue':<12}  {'calls':>8}  {'req agent-h':>11}  {'sched agent-h':>13}  "
        f"{'leader-h':>8}"
    )
    for t in totals:
        print(
            f"{t.day!s:<10}  {t.queue:<12}  {t.forecast_calls:>8.0f}  "
            f"{t.required_agent_hours:>11.1f}  {t.scheduled_agent_hours:>13.1f}  "
            f"{t.team_leader_hours:>8.1f}"
        )
    print(
        f"wrote {args.out}" + "".join(f", {p}" for p in (args.chart, args.html) if p),
        file=sys.stderr,
    )
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from forecasting.arrivals import backtest

    grids, holidays = _load(args)
    results = [backtest(g, holidays) for g in grids]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "queue": r.queue,
                        "held_out_from": r.first_day.isoformat(),
                        "days": r.days,
                        "actual_calls": r.actual_calls,
                        "model_wape": r.model_wape,
                        "naive_wape": r.naive_wape,
                    }
                    for r in results
                ]
            )
        )
        return 0
    print(
        f"{'queue':<12}  {'held-out week':<13}  {'calls':>8}  "
        f"{'model WAPE':>10}  {'naive WAPE':>10}"
    )
    for r in results:
        print(
            f"{r.queue:<12}  {r.first_day!s:<13}  {r.actual_calls:>8.0f}  {r.model_wape:>10.1%}  "
            f"{r.naive_wape:>10.1%}"
        )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from forecasting import erlang as ec
    from forecasting import erlang_a as ea
    from forecasting.simulation import HandleTimes, simulate_queue

    _finite(
        calls=args.calls,
        interval=args.interval,
        aht=args.aht,
        patience=args.patience,
        target_seconds=args.target_seconds,
        handle_cv=args.handle_cv,
    )
    a = float(ec.traffic_erlangs(args.calls, args.interval, args.aht))
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
    if args.patience is None:
        model = {
            "service_level": float(ec.service_level(args.agents, a, args.aht, args.target_seconds)),
            "asa_seconds": _json_number(float(ec.asa_seconds(args.agents, a, args.aht))),
            "probability_abandon": 0.0,
        }
    else:
        m = ea.erlang_a(args.agents, a, args.aht, args.patience, args.target_seconds)
        model = {
            "service_level": float(m.service_level),
            "asa_seconds": _json_number(
                float(ea.asa_seconds(args.agents, a, args.aht, args.patience))
            ),
            "probability_abandon": float(m.probability_abandon),
        }
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
    if args.json:
        print(
            json.dumps(
                {
                    "traffic_erlangs": a,
                    "agents": args.agents,
                    "erlang": model,
                    "simulation": simulated,
                },
                sort_keys=True,
            )
        )
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
    return 0
