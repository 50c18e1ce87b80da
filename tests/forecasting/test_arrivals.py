"""Arrival forecast: seasonality, trend, holidays, backtest against naive."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from forecasting.arrivals import backtest, fit, to_grid
from forecasting.errors import HistoryError, InvalidInput
from tests.forecasting.synthetic import seasonal_history

HOLIDAY = date(2025, 1, 29)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backtest_beats_same_interval_last_week(seed: int) -> None:
    grid = to_grid("sales", seasonal_history(seed=seed, holiday=HOLIDAY), 1800)
    result = backtest(grid, [HOLIDAY])
    assert result.days == 7
    assert result.model_wape < result.naive_wape


def test_forecast_follows_weekday_profile_and_trend() -> None:
    grid = to_grid("sales", seasonal_history(seed=4, holiday=HOLIDAY), 1800)
    model = fit(grid, [HOLIDAY])
    monday = model.forecast(date(2025, 2, 17)).calls.sum()
    saturday = model.forecast(date(2025, 2, 22)).calls.sum()
    sunday = model.forecast(date(2025, 2, 23)).calls.sum()
    # true Monday level after 6 weeks of 2%/week growth: 2000 * 1.02**6 ~ 2252
    assert monday == pytest.approx(2000 * 1.02**6, rel=0.06)
    assert saturday / monday == pytest.approx(0.4, rel=0.1)
    assert sunday == 0.0
    assert model.trend_slope > 0
    day = model.forecast(date(2025, 2, 17))
    assert np.all(day.calls[:16] == 0)  # closed before 08:00
    assert day.aht_seconds[20] == pytest.approx(240.0)


def test_holiday_is_left_out_of_the_fit() -> None:
    records = seasonal_history(seed=5, holiday=HOLIDAY)
    grid = to_grid("sales", records, 1800)
    with_holiday = fit(grid).weekday_factor[2]
    without = fit(grid, [HOLIDAY]).weekday_factor[2]
    assert without / fit(grid, [HOLIDAY]).weekday_factor[0] == pytest.approx(0.9, rel=0.06)
    assert with_holiday < without


def test_grid_rules() -> None:
    records = seasonal_history(weeks=1)
    with pytest.raises(InvalidInput, match="cannot be split"):
        to_grid("sales", records, 600)
    with pytest.raises(HistoryError):
        backtest(to_grid("sales", records, 1800))
