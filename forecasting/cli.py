"""`acd forecast ...` subcommands (placeholder until the forecasting work lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``forecast`` command and its subcommands to the ``acd`` CLI."""
    forecast = subparsers.add_parser("forecast", help="Erlang staffing forecasts")
    forecast.add_subparsers(dest="forecast_what", required=True, metavar="WHAT")


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError(args.forecast_what)
