"""Arrival forecast: calls and AHT per interval from several weeks of history.

Model (per queue), on the planning interval grid in the queue's local time
(a named IANA zone, so a plan across a daylight-saving change carries the
right offset on every row):

    calls(day, slot) = level(day) * weekday_factor(weekday) * share(weekday, slot)

- ``level`` is a straight-line trend fitted to deseasonalised daily totals;
  it is extrapolated at most as far ahead as the history is long and never
  beyond +-50% of the level at the end of the history;
- ``weekday_factor`` is the weekday's volume relative to the trend;
- ``share`` is the weekday's intraday profile, averaged over weeks with
  recent weeks weighted more (half-life ``HALF_LIFE_DAYS``), which smooths
  the Poisson noise a single week carries.

Honest inputs: a day with no rows at all, on a weekday the queue is open, is
*missing* (left out of the fit and reported), never a day of zero calls. A
weekday with no rows in any week of the history is closed; a weekday the
history never reached cannot be planned (the forecast says so). Special days
(see :mod:`forecasting.calendar`) are left out of the fit and change the
forecast of the days they mark.

AHT per (weekday, slot) is the pooled handle time over answered calls, shrunk
toward the queue's overall AHT where few calls were answered.

:func:`backtest` is a rolling-origin evaluation over several weeks, of calls
and AHT, against the naive "same interval last week" and a seasonal average.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import numpy as np
from numpy.typing import NDArray

from forecasting.calendar import WEEKDAYS, SpecialDay
from forecasting.errors import HistoryError, InvalidInput
from forecasting.history import IntervalRecord

FloatArray = NDArray[np.float64]
HALF_LIFE_DAYS = 28.0
# Pseudo-count of answered calls pulling a slot's AHT toward the queue's.
_AHT_PRIOR_CALLS = 5.0
#: the trend level never moves further than this from the last history day's
TREND_BOUND = 0.5
#: fewer observed days than this: the weekly pattern rests on very little
SHORT_HISTORY_DAYS = 14


def day_instants(day: date, tz: tzinfo, interval_seconds: int) -> list[tuple[int, datetime]]:
    """The real interval starts of local ``day`` with their wall-clock slot.

    A normal day has ``86400 / interval`` of them; the day clocks go forward
    has fewer (02:00-02:59 does not exist), the day they go back more (that
    hour happens twice, both times in wall slot 02:xx).
    """
    begin = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
    out: list[tuple[int, datetime]] = []
    t = begin
    step = timedelta(seconds=interval_seconds)
    while t < end:
        local = t.astimezone(tz)
        into = local.hour * 3600 + local.minute * 60 + local.second
        out.append((into // interval_seconds, local))
        t += step
    return out


@dataclass(frozen=True, slots=True)
class QueueHistory:
    """One queue's history on a dense (day, wall-clock slot) grid in local time."""

    queue: str
    first_day: date
    interval_seconds: int
    tz: tzinfo
    calls: FloatArray  # (days, slots)
    answered: FloatArray
    handle_seconds: FloatArray
    #: (days,) the source has at least one row for the day
    observed: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: (days, slots) real intervals in each wall slot: 1, 0 (clocks forward), 2 (back)
    exposure: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    #: the queue's answer-time target in the history (most recent row), if any
    target_seconds: int | None = None

    @property
    def days(self) -> int:
        return int(self.calls.shape[0])

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)

    def index(self, day: date) -> int:
        return (day - self.first_day).days

    def head(self, days: int) -> QueueHistory:
        """The first ``days`` days (a training window)."""
        return QueueHistory(
            self.queue,
            self.first_day,
            self.interval_seconds,
            self.tz,
            self.calls[:days],
            self.answered[:days],
            self.handle_seconds[:days],
            self.observed[:days],
            self.exposure[:days],
            self.target_seconds,
        )

    def per_interval(self) -> FloatArray:
        """Calls per real interval of each wall slot (fall-back hours halved)."""
        return self.calls / np.maximum(self.exposure, 1.0)


@dataclass(frozen=True, slots=True)
class DayForecast:
    """Forecast of one queue for one day: arrays over the day's real intervals."""

    queue: str
    day: date
    interval_seconds: int
    tz: tzinfo
    calls: FloatArray
    aht_seconds: FloatArray
    starts: tuple[datetime, ...] = ()
    #: ``Easter Monday (closed)`` for a special day, else ""
    note: str = ""

    def slot_start(self, slot: int) -> datetime:
        """Start of interval ``slot`` in local time, with its true UTC offset."""
        if self.starts:
            return self.starts[slot]
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=self.tz)
        return midnight + timedelta(seconds=slot * self.interval_seconds)


def history_zone(records: Sequence[IntervalRecord]) -> tuple[tzinfo, str | None]:
    """The zone to plan in when none is named: the history's own fixed offset.

    Returns the zone and a warning. Several offsets (a daylight-saving change
    inside the history) cannot be planned without a named zone.
    """
    offsets = sorted({r.start.utcoffset() or timedelta(0) for r in records})
    if len(offsets) > 1:
        shown = ", ".join(_offset_text(o) for o in offsets)
        raise InvalidInput(
            f"the history has several UTC offsets ({shown}): a daylight-saving change; "
            "give the site's time zone with --timezone (e.g. Europe/Warsaw)"
        )
    tz = records[0].start.tzinfo if records else UTC
    assert tz is not None
    off = offsets[0] if offsets else timedelta(0)
    if off == timedelta(0):
        return UTC, None
    return tz, (
        f"no --timezone given: planning in the history's fixed offset {_offset_text(off)}; "
        "name the site's zone (e.g. --timezone Europe/Warsaw) so plans across a "
        "daylight-saving change carry the right offset"
    )


def _offset_text(off: timedelta) -> str:
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def to_grid(
    queue: str,
    records: Sequence[IntervalRecord],
    interval_seconds: int,
    tz: tzinfo | None = None,
) -> QueueHistory:
    """Sum one queue's records onto a dense grid of planning intervals.

    Every start is converted to ``tz`` (default: the last row's offset) before
    its day and wall-clock slot are taken. The planning interval must be a
    multiple of the history's interval (15 minutes of history make half-hour
    plans, not the reverse). Intervals without a row on a day that has rows
    are zero calls (a closed night has no rows); a day without any row is
    marked unobserved. An interval the source observed only in part (a
    queue_log starting inside it) is scaled to its full length.
    """
    if not records:
        raise HistoryError(f"no history for queue {queue}")
    if interval_seconds <= 0 or 86400 % interval_seconds:
        raise InvalidInput("interval must divide a day (e.g. 900, 1800, 3600)", field="interval")
    coarse = [r for r in records if interval_seconds % r.interval_seconds]
    if coarse:
        raise InvalidInput(
            f"queue {queue}: history intervals of {coarse[0].interval_seconds} s cannot be "
            f"split into {interval_seconds} s planning intervals",
            field="interval",
        )
    zone = tz if tz is not None else records[-1].start.tzinfo
    assert zone is not None  # history starts always carry an offset
    local = [r.start.astimezone(zone) for r in records]
    days = [t.date() for t in local]
    first, last = min(days), max(days)
    n_days = (last - first).days + 1
    slots = 86400 // interval_seconds
    calls = np.zeros((n_days, slots))
    answered = np.zeros((n_days, slots))
    handle = np.zeros((n_days, slots))
    observed = np.zeros(n_days, dtype=bool)
    for r, t, d in zip(records, local, days, strict=True):
        into = t.hour * 3600 + t.minute * 60 + t.second
        i, s = (d - first).days, into // interval_seconds
        scale = 1.0
        if r.observed_seconds is not None and 0 < r.observed_seconds < r.interval_seconds:
            scale = r.interval_seconds / r.observed_seconds
        calls[i, s] += r.offered * scale
        answered[i, s] += r.answered * scale
        handle[i, s] += r.handle_seconds * scale
        observed[i] = True
    exposure = np.zeros((n_days, slots))
    for i in range(n_days):
        for s, _ in day_instants(first + timedelta(days=i), zone, interval_seconds):
            exposure[i, s] += 1.0
    latest = max(records, key=lambda r: r.start)
    return QueueHistory(
        queue,
        first,
        interval_seconds,
        zone,
        calls,
        answered,
        handle,
        observed,
        exposure,
        latest.target_seconds,
    )


@dataclass(frozen=True, slots=True)
class SeasonalModel:
    """A fitted model for one queue; :meth:`forecast` gives any later day."""

    history: QueueHistory
    trend_intercept: float
    trend_slope: float  # calls per day, per day
    weekday_factor: FloatArray  # (7,)
    share: FloatArray  # (7, slots), of calls per real interval
    aht: FloatArray  # (7, slots)
    #: per weekday: "open", "closed" (no rows in any week) or "unseen"
    weekday_status: tuple[str, ...] = ("open",) * 7
    #: days without any row on an open weekday (left out of the fit)
    missing_days: tuple[date, ...] = ()
    #: days used for the fit
    used_days: int = 0
    last_used: int = 0

    def level(self, t: float) -> float:
        """Trend level at day index ``t``, extrapolation bounded."""
        span = max(self.last_used + 1, 7)
        t_eff = min(t, self.last_used + span)
        end = self.trend_intercept + self.trend_slope * self.last_used
        value = self.trend_intercept + self.trend_slope * t_eff
        if end > 0:
            value = min(max(value, end * (1.0 - TREND_BOUND)), end * (1.0 + TREND_BOUND))
        return max(value, 0.0)

    def notes(self) -> list[str]:
        """What a planner must know about this queue's history."""
        q = self.history.queue
        out: list[str] = []
        if self.missing_days:
            shown = ", ".join(f"{d} ({WEEKDAYS[d.weekday()][:3]})" for d in self.missing_days[:8])
            more = " ..." if len(self.missing_days) > 8 else ""
            out.append(
                f"queue {q}: {len(self.missing_days)} day(s) with no rows on open weekdays "
                f"treated as missing, not zero (filled from the same weekday): {shown}{more}"
            )
        closed = [WEEKDAYS[k] for k in range(7) if self.weekday_status[k] == "closed"]
        if closed:
            out.append(
                f"queue {q}: no calls on any {', '.join(closed)} in the history: planned closed"
            )
        unseen = [WEEKDAYS[k] for k in range(7) if self.weekday_status[k] == "unseen"]
        if unseen:
            out.append(
                f"queue {q}: the history has no {', '.join(unseen)}: those days cannot be planned "
                "(give more history, or a calendar entry 'like = ...')"
            )
        if self.used_days < SHORT_HISTORY_DAYS:
            out.append(
                f"queue {q}: only {self.used_days} day(s) of usable history: the weekly pattern "
                "and the trend are not reliable (give at least 2 weeks, better 6-8)"
            )
        return out

    def forecast(self, day: date, special: SpecialDay | None = None) -> DayForecast:
        """Calls and AHT per real interval of ``day`` (local time of the queue).

        Refuses a day before the history (a plan forecasts forward) and a
        weekday the history never saw.
        """
        h = self.history
        t = h.index(day)
        if t < 0:
            raise InvalidInput(
                f"queue {h.queue}: {day} is before the history (which starts {h.first_day}); "
                "plan a day inside or after the history",
                field="start",
            )
        wd = day.weekday()
        note = ""
        factor = 1.0
        per_slot: FloatArray
        if special is not None:
            note = special.describe()
            factor = 0.0 if special.closed else special.factor
        if special is not None and special.like_date is not None:
            per_slot = self._like_date(special.like_date) * self.level(t)
            aht = self.aht[special.like_date.weekday()]
        else:
            like = wd if special is None or special.like_weekday is None else special.like_weekday
            status = self.weekday_status[like]
            if status == "unseen" and factor > 0:
                raise InvalidInput(
                    f"queue {h.queue}: the history has no {WEEKDAYS[like]}, so {day} cannot be "
                    "planned (give more history, or a calendar entry for it with "
                    "'like = \"<weekday>\"' or 'closed = true')",
                    field="start",
                )
            per_slot = self.level(t) * self.weekday_factor[like] * self.share[like]
            aht = self.aht[like]
        per_slot = per_slot * factor
        instants = day_instants(day, h.tz, h.interval_seconds)
        idx = np.array([s for s, _ in instants], dtype=np.intp)
        return DayForecast(
            h.queue,
            day,
            h.interval_seconds,
            h.tz,
            np.asarray(per_slot[idx], dtype=np.float64),
            np.asarray(aht[idx], dtype=np.float64),
            tuple(t for _, t in instants),
            note,
        )

    def _like_date(self, other: date) -> FloatArray:
        """Per-slot calls of a past day, relative to the trend there."""
        h = self.history
        i = h.index(other)
        if not (0 <= i < h.days) or not h.observed[i]:
            raise InvalidInput(
                f"queue {h.queue}: calendar 'like = {other}': that day is not in the history"
            )
        base = self.level(i)
        vol = h.per_interval()[i]
        return vol / base if base > 0 else np.zeros_like(vol)


def fit(history: QueueHistory, special_days: Iterable[date] = ()) -> SeasonalModel:
    """Fit the seasonal model to ``history``, leaving ``special_days`` out.

    Unobserved days (no rows) on open weekdays are missing: left out, never
    taken as zero. Raises :class:`HistoryError` when no day is usable or when
    answered calls carry no handle time (an AHT of 0 cannot be planned).
    """
    skip = set(special_days)
    n = history.days
    observed = history.observed if history.observed.size == n else np.ones(n, dtype=bool)
    exposure = history.exposure if history.exposure.shape == history.calls.shape else None
    all_days = [history.day(i) for i in range(n)]
    regular = np.array([d not in skip for d in all_days])
    weekday_all = np.array([d.weekday() for d in all_days])
    used = observed & regular
    status = []
    for k in range(7):
        if np.any(used & (weekday_all == k)):
            status.append("open")
        elif np.any(regular & (weekday_all == k) & ~observed):
            status.append("closed")
        else:
            status.append("unseen")
    open_wd = np.array([status[k] == "open" for k in weekday_all], dtype=bool)
    missing = tuple(all_days[i] for i in np.flatnonzero(regular & ~observed & open_wd))
    if not used.any():
        raise HistoryError(f"queue {history.queue}: no usable history day (all special or empty)")
    vol = history.calls / np.maximum(exposure, 1.0) if exposure is not None else history.calls

    idx = np.flatnonzero(used)
    t = idx.astype(np.float64)
    weekday = weekday_all[idx]
    totals = vol[idx].sum(axis=1)
    weights = 0.5 ** ((t.max() - t) / HALF_LIFE_DAYS)

    trend = np.full(t.shape, max(totals.mean(), 0.0))
    factor = np.zeros(7)
    intercept, slope = float(trend[0]), 0.0
    seen = np.unique(weekday)
    for _ in range(4):
        for k in seen:
            on = weekday == k
            base = (weights[on] * trend[on]).sum()
            factor[k] = (weights[on] * totals[on]).sum() / base if base > 0 else 0.0
        mean_factor = factor[seen].mean()
        if mean_factor > 0:
            factor /= mean_factor
        fk = factor[weekday]
        open_days = fk > 0
        z = np.where(open_days, totals / np.where(open_days, fk, 1.0), 0.0)
        intercept, slope = _trend(t[open_days], z[open_days], weights[open_days])
        trend = np.maximum(intercept + slope * t, 1e-9)

    slots = history.calls.shape[1]
    share = np.zeros((7, slots))
    aht = np.zeros((7, slots))
    ans_all = history.answered[idx].sum()
    handle_all = history.handle_seconds[idx].sum()
    if ans_all > 0 and handle_all <= 0:
        raise HistoryError(
            f"queue {history.queue}: answered calls carry no handle time (AHT 0 s); "
            "handle_seconds must hold talk + hold + wrap-up"
        )
    overall_aht = handle_all / ans_all if ans_all > 0 else 0.0
    for k in seen:
        on = weekday == k
        w = weights[on][:, None]
        day_calls = vol[idx][on]
        total = (w * day_calls).sum()
        if total > 0:
            share[k] = (w * day_calls).sum(axis=0) / total
        hs = (w * history.handle_seconds[idx][on]).sum(axis=0)
        ns = (w * history.answered[idx][on]).sum(axis=0)
        aht[k] = (hs + _AHT_PRIOR_CALLS * overall_aht) / (ns + _AHT_PRIOR_CALLS)
    for k in range(7):
        if status[k] != "open":
            aht[k] = overall_aht
    return SeasonalModel(
        history,
        intercept,
        slope,
        factor,
        share,
        aht,
        tuple(status),
        missing,
        int(idx.size),
        int(idx.max()),
    )


def _trend(t: FloatArray, z: FloatArray, w: FloatArray) -> tuple[float, float]:
    """Weighted least-squares line; flat when there is too little to fit a slope."""
    if t.size == 0:
        return 0.0, 0.0
    if t.size < 14 or np.ptp(t) == 0:
        return float(np.average(z, weights=w)), 0.0
    tm = np.average(t, weights=w)
    zm = np.average(z, weights=w)
    slope = float((w * (t - tm) * (z - zm)).sum() / (w * (t - tm) ** 2).sum())
    return float(zm - slope * tm), slope


# --- backtest ---------------------------------------------------------------

METHODS = ("model", "naive", "seasonal_average")
LEVELS = ("interval", "day", "week")
#: weeks the seasonal-average benchmark averages over
SEASONAL_WEEKS = 4


@dataclass(frozen=True, slots=True)
class Score:
    """Accuracy of one method for one series at one aggregation level."""

    series: str  # "calls" or "aht"
    level: str  # "interval", "day" or "week"
    method: str  # "model", "naive" or "seasonal_average"
    #: sum |forecast - actual| / sum actual (AHT: weighted by answered calls)
    wape: float
    #: sum (forecast - actual) / sum actual: > 0 over-forecasts
    bias: float


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Rolling-origin accuracy of one queue."""

    queue: str
    #: first day of each held-out week
    origins: tuple[date, ...]
    days_scored: int
    actual_calls: float
    scores: tuple[Score, ...]

    @property
    def first_day(self) -> date:
        return self.origins[0]

    @property
    def days(self) -> int:
        return self.days_scored

    def score(self, series: str, level: str, method: str) -> Score:
        """The score of one (series, level, method)."""
        for s in self.scores:
            if (s.series, s.level, s.method) == (series, level, method):
                return s
        raise KeyError((series, level, method))

    @property
    def model_wape(self) -> float:
        return self.score("calls", "interval", "model").wape

    @property
    def naive_wape(self) -> float:
        return self.score("calls", "interval", "naive").wape


def _usable(history: QueueHistory, skip: set[date]) -> NDArray[np.bool_]:
    n = history.days
    observed = history.observed if history.observed.size == n else np.ones(n, dtype=bool)
    return np.array([observed[i] and history.day(i) not in skip for i in range(n)], dtype=bool)


def _wape_bias(f: FloatArray, a: FloatArray, w: FloatArray | None = None) -> tuple[float, float]:
    ww = np.ones_like(a) if w is None else w
    denom = float((ww * a).sum())
    if denom <= 0:
        return float("nan"), float("nan")
    return float((ww * np.abs(f - a)).sum() / denom), float((ww * (f - a)).sum() / denom)


def backtest(
    history: QueueHistory,
    holidays: Iterable[date] = (),
    days: int = 7,
    weeks: int = 4,
    min_train_days: int = 14,
) -> BacktestResult:
    """Rolling-origin backtest: for each of the last ``weeks`` weeks, fit on
    everything before it and forecast it.

    Scores calls and AHT, WAPE and bias, at interval, day and week level, for
    the model, the naive "same interval last week" (the latest usable
    same-weekday day before the origin) and the seasonal average (mean of
    the last ``SEASONAL_WEEKS`` usable same-weekday days before the origin).
    Special and missing days are neither fitted nor scored.
    """
    if history.days < days + min_train_days:
        raise HistoryError(
            f"queue {history.queue}: backtest needs at least {days + min_train_days} days of "
            f"history, found {history.days}"
        )
    skip = set(holidays)
    usable = _usable(history, skip)
    vol = history.per_interval()
    exposure = (
        history.exposure
        if history.exposure.shape == history.calls.shape
        else np.ones_like(history.calls)
    )
    folds = min(weeks, (history.days - min_train_days) // days)
    cuts = [history.days - days * k for k in range(folds, 0, -1)]
    # rows: (fold, day index, slot arrays) per method
    f_calls: dict[str, list[FloatArray]] = {m: [] for m in METHODS}
    f_aht: dict[str, list[FloatArray]] = {m: [] for m in METHODS}
    a_calls: list[FloatArray] = []
    a_ans: list[FloatArray] = []
    a_handle: list[FloatArray] = []
    day_key: list[int] = []
    week_key: list[int] = []
    origins: list[date] = []
    for fold, cut in enumerate(cuts):
        train = history.head(cut)
        model = fit(train, skip)
        origins.append(history.day(cut))
        for i in range(cut, min(cut + days, history.days)):
            if not usable[i]:
                continue
            day = history.day(i)
            wd = day.weekday()
            if model.weekday_status[wd] == "unseen":
                continue
            prev = [j for j in range(i - 7, -1, -7) if j < cut and usable[j]]
            if not prev:
                continue
            ex = exposure[i]
            t = history.index(day)
            m_calls = model.level(t) * model.weekday_factor[wd] * model.share[wd] * ex
            f_calls["model"].append(m_calls)
            f_aht["model"].append(model.aht[wd])
            j = prev[0]
            f_calls["naive"].append(vol[j] * ex)
            f_aht["naive"].append(_day_aht(history, [j]))
            recent = prev[:SEASONAL_WEEKS]
            f_calls["seasonal_average"].append(vol[recent].mean(axis=0) * ex)
            f_aht["seasonal_average"].append(_day_aht(history, recent))
            a_calls.append(history.calls[i])
            a_ans.append(history.answered[i])
            a_handle.append(history.handle_seconds[i])
            day_key.append(i)
            week_key.append(fold)
    actual = float(np.sum(a_calls)) if a_calls else 0.0
    if actual <= 0:
        raise HistoryError(f"queue {history.queue}: no calls in the held-out weeks")
    ac = np.array(a_calls)
    ans = np.array(a_ans)
    hnd = np.array(a_handle)
    scores: list[Score] = []
    groups = {"day": np.array(day_key), "week": np.array(week_key)}
    for method in METHODS:
        fc = np.array(f_calls[method])
        fa = np.array(f_aht[method])
        for level in LEVELS:
            if level == "interval":
                wc, bc = _wape_bias(fc.ravel(), ac.ravel())
                with np.errstate(invalid="ignore", divide="ignore"):
                    act_aht = np.where(ans > 0, hnd / np.maximum(ans, 1e-12), 0.0)
                wa, ba = _wape_bias(fa.ravel(), act_aht.ravel(), ans.ravel())
            else:
                key = groups[level]
                uniq = np.unique(key)
                fsum = np.array([fc[key == k].sum() for k in uniq])
                asum = np.array([ac[key == k].sum() for k in uniq])
                wc, bc = _wape_bias(fsum, asum)
                n_ans = np.array([ans[key == k].sum() for k in uniq])
                f_h = np.array([(fa[key == k] * ans[key == k]).sum() for k in uniq])
                a_h = np.array([hnd[key == k].sum() for k in uniq])
                with np.errstate(invalid="ignore", divide="ignore"):
                    fa_l = np.where(n_ans > 0, f_h / np.maximum(n_ans, 1e-12), 0.0)
                    aa_l = np.where(n_ans > 0, a_h / np.maximum(n_ans, 1e-12), 0.0)
                wa, ba = _wape_bias(fa_l, aa_l, n_ans)
            scores.append(Score("calls", level, method, wc, bc))
            scores.append(Score("aht", level, method, wa, ba))
    return BacktestResult(history.queue, tuple(origins), len(day_key), actual, tuple(scores))


def _day_aht(history: QueueHistory, days: Sequence[int]) -> FloatArray:
    """AHT per slot pooled over ``days``, the days' overall AHT where nobody answered."""
    hs = history.handle_seconds[list(days)].sum(axis=0)
    ns = history.answered[list(days)].sum(axis=0)
    overall = hs.sum() / ns.sum() if ns.sum() > 0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ns > 0, hs / np.maximum(ns, 1e-12), overall)
