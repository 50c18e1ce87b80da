"""Errors of the forecasting package. Each carries a stable ``code``."""

from __future__ import annotations


class ForecastError(Exception):
    """Root of every forecasting error."""

    code = "forecast_error"

    def __init__(self, message: str, **data: object) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class InvalidInput(ForecastError):
    """An argument is out of its domain (negative traffic, a target of 1, ...)."""

    code = "invalid_input"


class HistoryError(ForecastError):
    """A history file cannot be used at all (missing, empty, unknown format)."""

    code = "history_error"
