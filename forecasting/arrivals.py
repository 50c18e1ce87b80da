"""Arrival forecast: calls and AHT per interval from several weeks of history.

Model (per queue), on the planning interval grid in the history's local time:

    calls(day, slot) = level(day) * weekday_factor(weekday) * share(weekday, slot)

- ``level`` is a straight-line trend fitted to deseasonalised daily totals;
- ``weekday_factor`` is the weekday's volume relative to the trend;
- ``share`` is the weekday's intraday profile, averaged over weeks with
  recent weeks weighted more (half-life ``HALF_LIFE_DAYS``), which smooths
  the Poisson noise a single week carries.

Holidays (given as dates) are left out of the fit. AHT per (weekday, slot) is
the pooled handle time over answered calls, shrunk toward the queue's
overall AHT where few calls were answered.

:func:`backtest` holds out the last full week and compares the WAPE of this
model with the naive "same interval last week" forecast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

import numpy as np
from numpy.typing import NDArray

from forecasting.errors import HistoryError, InvalidInput
from forecasting.history import IntervalRecord

FloatArray = NDArray[np.float64]
HALF_LIFE_DAYS = 28.0
# Pseudo-count of answered calls pulling a slot's AHT toward the queue's.
_AHT_PRIOR_CALLS = 5.0


@dataclass(frozen=True, slots=True)
class QueueHistory:
    """One queue's history on a dense (day, slot) grid."""

    queue: str
    first_day: date
    interval_seconds: int
    tz: tzinfo
    calls: FloatArray  # (days, slots)
    answered: FloatArray
    handle_seconds: FloatArray

    @property
    def days(self) -> int:
        return int(self.calls.shape[0])

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)


@dataclass(frozen=True, slots=True)
class DayForecast:
    """Forecast of one queue for one day: arrays over the day's slots."""

    queue: str
    day: date
    interval_seconds: int
    tz: tzinfo
    calls: FloatArray
    aht_seconds: FloatArray

    def slot_start(self, slot: int) -> datetime:
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=self.tz)
        return midnight + timedelta(seconds=slot * self.interval_seconds)


def to_grid(queue: str, records: Sequence[IntervalRecord], interval_seconds: int) -> QueueHistory:
    """Sum one queue's records onto a dense grid of planning intervals.

    The planning interval must be a multiple of the history's interval (15
    minutes of history make half-hour plans, not the reverse). Missing
    intervals count as zero calls (a closed night has no rows).
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
    tz = records[-1].start.tzinfo
    assert tz is not None  # history starts always carry an offset
    days = [r.start.date() for r in records]
    first, last = min(days), max(days)
    n_days = (last - first).days + 1
    slots = 86400 // interval_seconds
    calls = np.zeros((n_days, slots))
    answered = np.zeros((n_days, slots))
    handle = np.zeros((n_days, slots))
    for r, d in zip(records, days, strict=True):
        into = r.start.hour * 3600 + r.start.minute * 60 + r.start.second
        i, s = (d - first).days, into // interval_seconds
        calls[i, s] += r.offered
        answered[i, s] += r.answered
        handle[i, s] += r.handle_seconds
    return QueueHistory(queue, first, interval_seconds, tz, calls, answered, handle)


@dataclass(frozen=True, slots=True)
class SeasonalModel:
    """A fitted model for one queue; :meth:`forecast` gives any later day."""

    history: QueueHistory
    trend_intercept: float
    trend_slope: float  # calls per day, per day
    weekday_factor: FloatArray  # (7,)
    share: FloatArray  # (7, slots)
    aht: FloatArray  # (7, slots)

    def forecast(self, day: date) -> DayForecast:
        """Calls and AHT per slot for ``day``."""
        h = self.history
        t = (day - h.first_day).days
        level = max(self.trend_intercept + self.trend_slope * t, 0.0)
        wd = day.weekday()
        calls = level * self.weekday_factor[wd] * self.share[wd]
        return DayForecast(h.queue, day, h.interval_seconds, h.tz, calls, self.aht[wd].copy())


def fit(history: QueueHistory, holidays: Iterable[date] = ()) -> SeasonalModel:
    """Fit the seasonal model to ``history``, leaving ``holidays`` out."""
    skip = set(holidays)
    used = np.array([history.day(i) not in skip for i in range(history.days)])
    if not used.any():
        raise HistoryError(f"queue {history.queue}: every history day is a holiday")
    idx = np.flatnonzero(used)
    t = idx.astype(np.float64)
    weekday = np.array([history.day(int(i)).weekday() for i in idx])
    totals = history.calls[idx].sum(axis=1)
    weights = 0.5 ** ((t.max() - t) / HALF_LIFE_DAYS)

    trend = np.full(t.shape, max(totals.mean(), 0.0))
    factor = np.ones(7)
    intercept, slope = float(trend[0]), 0.0
    for _ in range(4):
        for k in range(7):
            on = weekday == k
            base = (weights[on] * trend[on]).sum()
            factor[k] = (weights[on] * totals[on]).sum() / base if base > 0 else 0.0
        seen = np.unique(weekday)
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
    overall_aht = history.handle_seconds[idx].sum() / ans_all if ans_all > 0 else 0.0
    for k in range(7):
        on = weekday == k
        w = weights[on][:, None]
        day_calls = history.calls[idx][on]
        total = (w * day_calls).sum()
        if total > 0:
            share[k] = (w * day_calls).sum(axis=0) / total
        h = (w * history.handle_seconds[idx][on]).sum(axis=0)
        n = (w * history.answered[idx][on]).sum(axis=0)
        aht[k] = (h + _AHT_PRIOR_CALLS * overall_aht) / (n + _AHT_PRIOR_CALLS)
    return SeasonalModel(history, intercept, slope, factor, share, aht)


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


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Held-out week accuracy of one queue (WAPE: sum |error| / sum actual)."""

    queue: str
    first_day: date
    days: int
    actual_calls: float
    model_wape: float
    naive_wape: float


def backtest(history: QueueHistory, holidays: Iterable[date] = (), days: int = 7) -> BacktestResult:
    """Fit on all but the last ``days`` days, forecast them, report WAPE.

    The naive benchmark copies the same interval one week earlier. Holidays
    inside the held-out week are not scored.
    """
    if history.days < days + 14:
        raise HistoryError(
            f"queue {history.queue}: backtest needs at least {days + 14} days of history, "
            f"found {history.days}"
        )
    skip = set(holidays)
    cut = history.days - days
    train = QueueHistory(
        history.queue,
        history.first_day,
        history.interval_seconds,
        history.tz,
        history.calls[:cut],
        history.answered[:cut],
        history.handle_seconds[:cut],
    )
    model = fit(train, skip)
    err_model = err_naive = actual = 0.0
    for i in range(cut, history.days):
        day = history.day(i)
        if day in skip:
            continue
        truth = history.calls[i]
        err_model += float(np.abs(model.forecast(day).calls - truth).sum())
        err_naive += float(np.abs(history.calls[i - 7] - truth).sum())
        actual += float(truth.sum())
    if actual <= 0:
        raise HistoryError(f"queue {history.queue}: no calls in the held-out week")
    return BacktestResult(
        history.queue, history.day(cut), days, actual, err_model / actual, err_naive / actual
    )
