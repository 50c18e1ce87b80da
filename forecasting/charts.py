"""Plan charts: a matplotlib PNG and a self-contained offline HTML page.

Both show, per queue and interval: forecast calls, agents required and
scheduled, and the predicted service level against its target (not drawn
while the queue is closed), on a real time axis in the queue's local time,
with the legend outside the data and the plan's settings in the title. The
HTML page draws inline SVG by hand: no script, no CDN, so it opens from a
file on an offline laptop. The coverage chart of a shift schedule
(required vs scheduled per interval, under- and over-staffing marked) is
here too.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from forecasting.plan import DailyTotal, FloorPeriod, Plan, PlanRow, PlanSettings

_CALLS, _REQ, _SCHED, _SL, _TARGET, _AB = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#b279a2",
    "#7f3c8d",
    "#e45756",
)


def _by_queue(rows: Sequence[PlanRow]) -> list[tuple[str, list[PlanRow]]]:
    by: dict[str, list[PlanRow]] = {}
    for r in rows:
        by.setdefault(r.queue, []).append(r)
    return [(q, sorted(by[q], key=lambda r: r.start)) for q in sorted(by)]


def _range_pct(values: Sequence[float]) -> str:
    return f"{values[0]:.0%}" if len(values) == 1 else f"{values[0]:.0%}-{values[-1]:.0%}"


def settings_text(qrows: Sequence[PlanRow]) -> str:
    """``80% in 20 s, occupancy <= 85%, shrinkage 30%, Erlang C`` for one queue."""
    r = qrows[0]
    shrink_text = _range_pct(sorted({round(x.shrinkage, 3) for x in qrows}))
    model = (
        "Erlang C" if r.patience_seconds is None else f"Erlang A, patience {r.patience_seconds:g} s"
    )
    return (
        f"target {r.service_level_target:.0%} in {r.target_seconds:g} s, "
        f"occupancy <= {r.max_occupancy:.0%}, shrinkage {shrink_text}, {model}"
    )


def _special_spans(qrows: Sequence[PlanRow]) -> list[tuple[str, datetime, datetime]]:
    """(note, first start, last end) of each run of rows on a special day."""
    out: list[tuple[str, datetime, datetime]] = []
    for r in qrows:
        if not r.note:
            continue
        end = r.start + timedelta(seconds=r.interval_seconds)
        if out and out[-1][0] == r.note and out[-1][2] == r.start:
            out[-1] = (r.note, out[-1][1], end)
        else:
            out.append((r.note, r.start, end))
    return out


def _sl_values(qrows: Sequence[PlanRow]) -> list[float]:
    """Service level in %, NaN while closed (nothing to serve: no line)."""
    return [r.service_level * 100 if r.is_open else math.nan for r in qrows]


def _step_edges(qrows: Sequence[PlanRow]) -> list[datetime]:
    """Interval starts plus the end of the last one (for step plots)."""
    return [r.start for r in qrows] + [
        qrows[-1].start + timedelta(seconds=qrows[-1].interval_seconds)
    ]


def write_png(rows: Sequence[PlanRow], path: str | Path, title: str = "Staffing plan") -> None:
    """Render the plan with matplotlib's Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    groups = _by_queue(rows)
    fig = Figure(figsize=(13, 3.4 * max(len(groups), 1) + 0.8), dpi=100)
    handles: list[Any] = []
    labels: list[str] = []
    for i, (queue, qrows) in enumerate(groups, start=1):
        ax = fig.add_subplot(len(groups), 1, i)
        tz = qrows[0].start.tzinfo
        edges: Any = _step_edges(qrows)
        mids: Any = [r.start + timedelta(seconds=r.interval_seconds / 2) for r in qrows]
        ax.plot(mids, [r.forecast_calls for r in qrows], color=_CALLS, label="forecast calls")
        req = [r.agents_required for r in qrows]
        sched = [r.agents_scheduled for r in qrows]
        ax.stairs(req, edges, color=_REQ, label="agents required (on the phones)", lw=1.5)
        ax.stairs(sched, edges, color=_SCHED, label="agents scheduled (after shrinkage)", lw=1.5)
        ax.set_title(f"queue {queue}: {settings_text(qrows)}", fontsize=10, loc="left")
        for note, first, last in _special_spans(qrows):
            span: Any = (first, last)
            ax.axvspan(*span, color="#999999", alpha=0.12, lw=0)
            x_at: Any = first
            ax.text(
                x_at,
                0.97,
                f" {note}",
                transform=ax.get_xaxis_transform(),
                fontsize=8,
                va="top",
                color="#444444",
            )
        ax.set_ylabel("calls / agents")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        locator = mdates.AutoDateLocator(  # type: ignore[no-untyped-call]
            tz=tz, minticks=4, maxticks=12
        )
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(
            mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
                locator, tz=tz
            )
        )
        ax.set_xlim(edges[0], edges[-1])
        sl_ax = ax.twinx()
        sl_ax.plot(mids, _sl_values(qrows), color=_SL, ls=":", lw=1.5, label="service level %")
        sl_ax.axhline(
            qrows[0].service_level_target * 100,
            color=_TARGET,
            ls="--",
            lw=0.8,
            label="service-level target",
        )
        if any(r.probability_abandon is not None for r in qrows):
            sl_ax.plot(
                mids,
                [(r.probability_abandon or 0.0) * 100 if r.is_open else math.nan for r in qrows],
                color=_AB,
                ls="-.",
                lw=1.0,
                label="abandon %",
            )
        sl_ax.set_ylim(0, 105)
        sl_ax.set_ylabel("%")
        for a in (ax, sl_ax):
            h, lab = a.get_legend_handles_labels()
            for hh, ll in zip(h, lab, strict=True):
                if ll not in labels:
                    handles.append(hh)
                    labels.append(ll)
    tz_name = str(groups[0][1][0].start.tzinfo) if groups else ""
    fig.suptitle(f"{title} (local time, {tz_name})", fontsize=12)
    fig.legend(
        handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=9, frameon=False
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(str(path), format="png")


# --- HTML -------------------------------------------------------------------


def _x(t: datetime, t0: datetime, span: float, w: float) -> float:
    return (t - t0).total_seconds() / span * w


def _time_ticks(t0: datetime, t1: datetime) -> list[tuple[datetime, str, bool]]:
    """Ticks in local time: midnight of each day (labelled with the date), and
    every few hours in between when the span is short enough to read them."""
    tz = t0.tzinfo
    days = (t1 - t0).total_seconds() / 86400
    step_h = 3 if days <= 1.5 else 6 if days <= 3.5 else 12 if days <= 8 else 0
    out: list[tuple[datetime, str, bool]] = []
    day = t0.date()
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        if midnight > t1:
            break
        if midnight >= t0:
            out.append((midnight, f"{midnight:%a %d %b}", True))
        if step_h:
            for h in range(step_h, 24, step_h):
                t = midnight + timedelta(hours=h)
                if t0 <= t <= t1:
                    out.append((t, f"{h:02d}:00", False))
        day += timedelta(days=1)
    return out


def _svg(qrows: Sequence[PlanRow]) -> str:
    w, h, left, top_pad, bottom = 960, 240, 48, 12, 64
    t0 = qrows[0].start
    t1 = qrows[-1].start + timedelta(seconds=qrows[-1].interval_seconds)
    span = max((t1 - t0).total_seconds(), 1.0)
    ymax = max(
        [max(r.forecast_calls, r.agents_scheduled, r.agents_required) for r in qrows] + [1.0]
    )
    ymax = _nice(ymax * 1.08)

    def y(v: float, scale: float) -> float:
        return h - v / scale * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + left + 56}" '
        f'height="{h + top_pad + bottom}" role="img" aria-label="staffing chart">',
        f'<g transform="translate({left},{top_pad})" font-family="sans-serif">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fafafa" stroke="#bbb"/>',
    ]
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        yy = h - frac * h
        parts.append(f'<line x1="0" y1="{yy:.1f}" x2="{w}" y2="{yy:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="-4" y="{yy + 3:.1f}" font-size="10" text-anchor="end">{frac * ymax:g}</text>'
        )
        parts.append(f'<text x="{w + 4}" y="{yy + 3:.1f}" font-size="10">{frac:.0%}</text>')
    parts.append(
        f'<text x="-36" y="{h / 2:.0f}" font-size="10" transform="rotate(-90 -36 {h / 2:.0f})" '
        'text-anchor="middle">calls / agents</text>'
    )
    parts.append(
        f'<text x="{w + 40}" y="{h / 2:.0f}" font-size="10" '
        f'transform="rotate(90 {w + 40} {h / 2:.0f})" text-anchor="middle">service level</text>'
    )
    for t, label, major in _time_ticks(t0, t1):
        xx = _x(t, t0, span, w)
        parts.append(
            f'<line x1="{xx:.1f}" y1="0" x2="{xx:.1f}" y2="{h + (6 if major else 3)}" '
            f'stroke="{"#bbb" if major else "#e4e4e4"}"/>'
        )
        weight = ' font-weight="bold"' if major else ""
        parts.append(
            f'<text x="{xx:.1f}" y="{h + (26 if major else 14)}" font-size="10" '
            f'text-anchor="middle"{weight}>{label}</text>'
        )
    # forecast calls: a line through interval midpoints
    pts = " ".join(
        f"{_x(r.start + timedelta(seconds=r.interval_seconds / 2), t0, span, w):.1f},"
        f"{y(r.forecast_calls, ymax):.1f}"
        for r in qrows
    )
    parts.append(
        f'<polyline fill="none" stroke="{_CALLS}" stroke-width="1.5" points="{pts}">'
        "<title>forecast calls</title></polyline>"
    )
    for name, colour, attr in (
        ("agents required", _REQ, "agents_required"),
        ("agents scheduled", _SCHED, "agents_scheduled"),
    ):
        step = []
        for r in qrows:
            v = y(float(getattr(r, attr)), ymax)
            x0 = _x(r.start, t0, span, w)
            x1 = _x(r.start + timedelta(seconds=r.interval_seconds), t0, span, w)
            step.append(f"{x0:.1f},{v:.1f} {x1:.1f},{v:.1f}")
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(step)}">'
            f"<title>{name}</title></polyline>"
        )
    # service level: one segment per open stretch, nothing while closed
    segment: list[str] = []
    segments: list[list[str]] = []
    for r in qrows:
        if r.is_open:
            xm = _x(r.start + timedelta(seconds=r.interval_seconds / 2), t0, span, w)
            segment.append(f"{xm:.1f},{y(r.service_level, 1.0):.1f}")
        elif segment:
            segments.append(segment)
            segment = []
    if segment:
        segments.append(segment)
    for seg in segments:
        parts.append(
            f'<polyline fill="none" stroke="{_SL}" stroke-width="1.5" stroke-dasharray="4 3" '
            f'points="{" ".join(seg)}"><title>service level</title></polyline>'
        )
    ty = y(qrows[0].service_level_target, 1.0)
    parts.append(
        f'<line x1="0" y1="{ty:.1f}" x2="{w}" y2="{ty:.1f}" stroke="{_TARGET}" '
        'stroke-dasharray="8 4" stroke-width="1"><title>service-level target</title></line>'
    )
    legend = [
        ("forecast calls", _CALLS),
        ("agents required", _REQ),
        ("agents scheduled", _SCHED),
        ("service level (right axis)", _SL),
        (f"SL target {qrows[0].service_level_target:.0%}", _TARGET),
    ]
    lx = 0
    for name, colour in legend:
        parts.append(f'<rect x="{lx}" y="{h + 38}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16}" y="{h + 44}" font-size="11">{html.escape(name)}</text>')
        lx += 30 + 7 * len(name)
    parts.append("</g></svg>")
    return "\n".join(parts)


def _nice(v: float) -> float:
    """A round axis maximum at or above ``v``."""
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * mag >= v:
            return float(m * mag)
    return float(10 * mag)


def _settings_table(plan: Plan) -> str:
    out = [
        "<table><tr><th>queue</th><th>SL target</th><th>answer within</th>"
        "<th>max occupancy</th><th>shrinkage</th><th>model</th><th>max abandon</th></tr>"
    ]
    for queue, qrows in _by_queue(plan.rows):
        s: PlanSettings = plan.settings_for(queue)
        shrink = sorted({round(r.shrinkage, 3) for r in qrows})
        model = (
            "Erlang C"
            if s.patience_seconds is None
            else f"Erlang A ({s.patience_seconds:g} s patience)"
        )
        cap = "" if s.patience_seconds is None or s.max_abandon is None else f"{s.max_abandon:.0%}"
        out.append(
            f"<tr><td>{html.escape(queue)}</td><td>{s.service_level:.0%}</td>"
            f"<td>{s.target_seconds:g} s</td><td>{s.max_occupancy:.0%}</td>"
            f"<td>{_range_pct(shrink)}</td><td>{model}</td><td>{cap}</td></tr>"
        )
    out.append("</table>")
    out.append(
        f"<p>Team leaders: one per {plan.settings.team_leader_ratio} scheduled agents, pooled "
        f"across queues. FTE: scheduled agent-hours / {plan.settings.contract_hours:g} contract "
        f"hours a week ({plan.settings.contract_days} days).</p>"
    )
    return "\n".join(out)


def _period_table(title: str, periods: Sequence[FloorPeriod]) -> str:
    out = [
        f"<h2>{html.escape(title)}</h2><table><tr><th>period</th><th>calls</th>"
        "<th>required agent-h</th><th>scheduled agent-h</th><th>FTE</th>"
        "<th>team-leader h</th><th>peak agents</th><th>peak at</th><th>peak leaders</th></tr>"
    ]
    for p in periods:
        out.append(
            f"<tr><td>{html.escape(p.label)}</td><td>{p.forecast_calls:,.0f}</td>"
            f"<td>{p.required_agent_hours:,.1f}</td><td>{p.scheduled_agent_hours:,.1f}</td>"
            f"<td>{p.fte:,.1f}</td><td>{p.team_leader_hours:,.1f}</td><td>{p.peak_agents}</td>"
            f"<td>{'' if p.peak_at is None else f'{p.peak_at:%a %H:%M}'}</td>"
            f"<td>{p.peak_team_leaders}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def render_html(
    plan: Plan,
    totals: Sequence[DailyTotal],
    days: Sequence[FloorPeriod] = (),
    weeks: Sequence[FloorPeriod] = (),
    notes: Sequence[str] = (),
    title: str = "Staffing plan",
) -> str:
    """The plan as one HTML document with inline SVG charts and tables."""
    rows = plan.rows
    tz = rows[0].start.tzinfo if rows else None
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;font-size:13px;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#eee}.warn{color:#a40000}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Times are local ({html.escape(str(tz))}), with their UTC offset in the CSV.</p>",
        "<h2>Targets and settings</h2>",
        _settings_table(plan),
    ]
    warn = [*notes, *plan.warnings]
    if warn:
        out.append("<h2>Warnings</h2><ul>")
        out += [f'<li class="warn">{html.escape(n)}</li>' for n in warn]
        out.append("</ul>")
    for queue, qrows in _by_queue(rows):
        out.append(f"<h2>Queue {html.escape(queue)}</h2>")
        out.append(f"<p>{html.escape(settings_text(qrows))}</p>")
        out.append(_svg(qrows))
    if days:
        out.append(_period_table("Floor per day (all queues)", days))
    if weeks:
        out.append(_period_table("Floor per week (all queues)", weeks))
    out.append(
        "<h2>Daily totals per queue</h2><table><tr><th>day</th><th>queue</th><th>calls</th>"
        "<th>required agent-hours</th><th>scheduled agent-hours</th></tr>"
    )
    for t in totals:
        out.append(
            f"<tr><td>{t.day}</td><td>{html.escape(t.queue)}</td><td>{t.forecast_calls:.0f}</td>"
            f"<td>{t.required_agent_hours:.1f}</td><td>{t.scheduled_agent_hours:.1f}</td></tr>"
        )
    out.append("</table>")
    out.append(
        "<h2>Intervals</h2><table><tr><th>start</th><th>queue</th><th>calls</th>"
        "<th>AHT s</th><th>Erlangs</th><th>required</th><th>scheduled</th>"
        "<th>SL</th><th>abandon</th><th>ASA s</th><th>occupancy</th><th>note</th></tr>"
    )
    for r in rows:
        if r.forecast_calls <= 0 and r.agents_required == 0:
            continue
        ab = "" if r.probability_abandon is None else f"{r.probability_abandon:.1%}"
        out.append(
            f"<tr><td>{r.start:%Y-%m-%d %H:%M}</td><td>{html.escape(r.queue)}</td>"
            f"<td>{r.forecast_calls:.1f}</td><td>{r.aht_seconds:.0f}</td>"
            f"<td>{r.traffic_erlangs:.2f}</td><td>{r.agents_required}</td>"
            f"<td>{r.agents_scheduled}</td><td>{r.service_level:.1%}</td><td>{ab}</td>"
            f"<td>{r.asa_seconds:.1f}</td><td>{r.occupancy:.1%}</td>"
            f"<td>{html.escape(r.note)}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def write_html(
    plan: Plan,
    totals: Sequence[DailyTotal],
    path: str | Path,
    days: Sequence[FloorPeriod] = (),
    weeks: Sequence[FloorPeriod] = (),
    notes: Sequence[str] = (),
) -> None:
    """Write :func:`render_html` to ``path``."""
    Path(path).write_text(render_html(plan, totals, days, weeks, notes), encoding="utf-8")


def write_coverage_png(
    starts: Sequence[datetime],
    interval_seconds: int,
    required: Sequence[float],
    scheduled: Sequence[float],
    path: str | Path,
    title: str,
) -> None:
    """Required vs scheduled agents per interval; under-staffing red, over-staffing shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import numpy as np
    from matplotlib.figure import Figure

    tz = starts[0].tzinfo if starts else None
    edges: Any = [*starts, starts[-1] + timedelta(seconds=interval_seconds)]
    req = np.asarray(required, dtype=float)
    sch = np.asarray(scheduled, dtype=float)
    fig = Figure(figsize=(13, 4.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.stairs(sch, edges, color=_SCHED, lw=1.6, label="scheduled on the phones")
    ax.stairs(req, edges, color=_REQ, lw=1.6, label="required")
    over = np.maximum(sch - req, 0.0)
    under = np.maximum(req - sch, 0.0)
    ax.stairs(
        sch,
        edges,
        baseline=np.minimum(req, sch),
        fill=True,
        color=_SCHED,
        alpha=0.18,
        label=f"over-staffed ({over.sum() * interval_seconds / 3600:.1f} agent-h)",
    )
    if under.sum() > 0:
        ax.stairs(
            req,
            edges,
            baseline=np.minimum(req, sch),
            fill=True,
            color="#d62728",
            alpha=0.5,
            label=f"under-staffed ({under.sum() * interval_seconds / 3600:.1f} agent-h)",
        )
    locator = mdates.AutoDateLocator(  # type: ignore[no-untyped-call]
        tz=tz, minticks=4, maxticks=14
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
            locator, tz=tz
        )
    )
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(bottom=0)
    ax.set_ylabel("agents")
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10, loc="left")
    fig.legend(loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(str(path), format="png")
