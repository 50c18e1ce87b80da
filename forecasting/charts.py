"""Plan charts: a matplotlib PNG and a self-contained offline HTML page.

Both show, per queue and interval: forecast calls, agents required and
scheduled, and the predicted service level. The HTML page draws inline SVG
by hand: no script, no CDN, so it opens from a file on an offline laptop.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from forecasting.plan import DailyTotal, PlanRow

_CALLS, _REQ, _SCHED, _SL = "#4c78a8", "#f58518", "#54a24b", "#b279a2"


def _by_queue(rows: Sequence[PlanRow]) -> list[tuple[str, list[PlanRow]]]:
    by: dict[str, list[PlanRow]] = {}
    for r in rows:
        by.setdefault(r.queue, []).append(r)
    return [(q, sorted(by[q], key=lambda r: r.start)) for q in sorted(by)]


def write_png(rows: Sequence[PlanRow], path: str | Path) -> None:
    """Render the plan with matplotlib's Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    groups = _by_queue(rows)
    fig = Figure(figsize=(12, 3.2 * max(len(groups), 1)), dpi=100)
    for i, (queue, qrows) in enumerate(groups, start=1):
        ax = fig.add_subplot(len(groups), 1, i)
        # matplotlib's date converter takes datetimes; its stubs say floats.
        x: Any = [r.start for r in qrows]
        ax.plot(x, [r.forecast_calls for r in qrows], color=_CALLS, label="forecast calls")
        ax.step(
            x, [r.agents_required for r in qrows], where="post", color=_REQ, label="agents required"
        )
        ax.step(
            x,
            [r.agents_scheduled for r in qrows],
            where="post",
            color=_SCHED,
            label="agents scheduled",
        )
        ax.set_title(f"queue {queue}")
        ax.set_ylabel("calls / agents")
        ax.grid(alpha=0.3)
        sl_ax = ax.twinx()
        sl_ax.plot(
            x, [r.service_level * 100 for r in qrows], color=_SL, ls=":", label="service level %"
        )
        sl_ax.set_ylim(0, 105)
        sl_ax.set_ylabel("service level %")
        handles = ax.get_legend_handles_labels()
        sl_handles = sl_ax.get_legend_handles_labels()
        ax.legend(
            handles[0] + sl_handles[0], handles[1] + sl_handles[1], loc="upper left", fontsize=8
        )
    fig.tight_layout()
    fig.savefig(str(path), format="png")


def _polyline(values: Sequence[float], top: float, w: int, h: int, step: bool) -> str:
    n = len(values)
    if n == 0 or top <= 0:
        return ""
    dx = w / max(n, 1)
    pts: list[str] = []
    for i, v in enumerate(values):
        y = h - (v / top) * h
        if step:
            pts.append(f"{i * dx:.1f},{y:.1f} {(i + 1) * dx:.1f},{y:.1f}")
        else:
            pts.append(f"{(i + 0.5) * dx:.1f},{y:.1f}")
    return " ".join(pts)


def _svg(qrows: Sequence[PlanRow]) -> str:
    w, h, pad = 960, 240, 40
    top = max([max(r.forecast_calls, r.agents_scheduled, r.agents_required) for r in qrows] + [1.0])
    top *= 1.1
    series = [
        ("forecast calls", _CALLS, [r.forecast_calls for r in qrows], top, False),
        ("agents required", _REQ, [float(r.agents_required) for r in qrows], top, True),
        ("agents scheduled", _SCHED, [float(r.agents_scheduled) for r in qrows], top, True),
        ("service level (right axis, 0-100%)", _SL, [r.service_level for r in qrows], 1.0, False),
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 2 * pad}" height="{h + 2 * pad}" '
        f'role="img" aria-label="staffing chart">',
        f'<g transform="translate({pad},{pad / 2})">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>',
        f'<text x="-4" y="10" font-size="10" text-anchor="end">{top:.0f}</text>',
        f'<text x="-4" y="{h}" font-size="10" text-anchor="end">0</text>',
        f'<text x="{w + 4}" y="10" font-size="10">100%</text>',
    ]
    days_seen = set()
    dx = w / max(len(qrows), 1)
    for i, r in enumerate(qrows):
        day = r.start.date()
        if day not in days_seen:
            days_seen.add(day)
            parts.append(
                f'<line x1="{i * dx:.1f}" y1="0" x2="{i * dx:.1f}" y2="{h}" stroke="#ddd"/>'
            )
            parts.append(f'<text x="{i * dx + 2:.1f}" y="{h + 14}" font-size="10">{day}</text>')
    for name, colour, values, scale, step in series:
        pts = _polyline(values, scale, w, h, step)
        dash = ' stroke-dasharray="4 3"' if scale == 1.0 else ""
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{pts}">'
            f"<title>{html.escape(name)}</title></polyline>"
        )
    legend_x = 0
    for name, colour, *_ in series:
        parts.append(f'<rect x="{legend_x}" y="{h + 22}" width="10" height="10" fill="{colour}"/>')
        parts.append(
            f'<text x="{legend_x + 14}" y="{h + 31}" font-size="11">{html.escape(name)}</text>'
        )
        legend_x += 40 + 7 * len(name)
    parts.append("</g></svg>")
    return "\n".join(parts)


def render_html(
    rows: Sequence[PlanRow], totals: Sequence[DailyTotal], title: str = "Staffing plan"
) -> str:
    """The plan as one HTML document with inline SVG charts and tables."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#eee}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for queue, qrows in _by_queue(rows):
        out.append(f"<h2>Queue {html.escape(queue)}</h2>")
        out.append(_svg(qrows))
    out.append(
        "<h2>Daily totals</h2><table><tr><th>day</th><th>queue</th><th>calls</th>"
        "<th>required agent-hours</th><th>scheduled agent-hours</th>"
        "<th>team-leader hours</th></tr>"
    )
    for t in totals:
        out.append(
            f"<tr><td>{t.day}</td><td>{html.escape(t.queue)}</td><td>{t.forecast_calls:.0f}</td>"
            f"<td>{t.required_agent_hours:.1f}</td><td>{t.scheduled_agent_hours:.1f}</td>"
            f"<td>{t.team_leader_hours:.1f}</td></tr>"
        )
    out.append("</table>")
    out.append(
        "<h2>Intervals</h2><table><tr><th>start</th><th>queue</th><th>calls</th>"
        "<th>AHT s</th><th>Erlangs</th><th>required</th><th>scheduled</th>"
        "<th>leaders</th><th>SL</th><th>ASA s</th><th>occupancy</th></tr>"
    )
    for r in rows:
        if r.forecast_calls <= 0 and r.agents_required == 0:
            continue
        out.append(
            f"<tr><td>{r.start:%Y-%m-%d %H:%M}</td><td>{html.escape(r.queue)}</td>"
            f"<td>{r.forecast_calls:.1f}</td><td>{r.aht_seconds:.0f}</td>"
            f"<td>{r.traffic_erlangs:.2f}</td><td>{r.agents_required}</td>"
            f"<td>{r.agents_scheduled}</td><td>{r.team_leaders}</td>"
            f"<td>{r.service_level:.1%}</td><td>{r.asa_seconds:.1f}</td><td>{r.occupancy:.1%}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out)


def write_html(rows: Sequence[PlanRow], totals: Sequence[DailyTotal], path: str | Path) -> None:
    """Write :func:`render_html` to ``path``."""
    Path(path).write_text(render_html(rows, totals), encoding="utf-8")
