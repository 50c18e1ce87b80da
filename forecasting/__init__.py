"""Staffing forecasts: exact Erlang B/C/A maths, history loading, arrival
forecasts, interval staffing plans, a queue simulation and charts.

This package stands alone: it imports nothing from ``acd``, ``telephony``,
``wallboard`` or ``callcenter``.
"""
