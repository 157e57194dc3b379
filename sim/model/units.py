"""Unit conversions: the one home of every time, power, energy and work constant.

Names say what converts to what: ``HOURS_PER_YEAR`` hours in a year. No figure here is an
economic assumption; each is a definition or a convention stated beside it.

>>> HOURS_PER_YEAR == 365 * HOURS_PER_DAY, HOURS_PER_MONTH * 12 == HOURS_PER_YEAR
(True, True)
"""

from __future__ import annotations

HOURS_PER_DAY = 24.0
"""Hours in a day."""

DAYS_PER_YEAR = 365.0
"""Days in a year by the convention of annual cost figures (no leap days)."""

HOURS_PER_YEAR = 8760.0
"""Hours in a 365-day year (365 x 24); annual costs are spread over this many chip-hours."""

HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0
"""Hours in an average month, for rates quoted per month (730 h)."""

HOURS_PER_QUARTER = HOURS_PER_YEAR / 4.0
"""Hours in an average quarter, the period of allocation and foundry caps (2,190 h)."""

HOURS_PER_WEEK = 7 * HOURS_PER_DAY
"""Hours in a week; lead times are quoted in weeks."""

SECONDS_PER_HOUR = 3600.0
"""Seconds in an hour; converts per-second rates (FLOP/s, tokens/s) to per-hour amounts."""

W_PER_KW = 1000.0
"""Watts in a kilowatt; electricity is priced per kWh and facilities per kW."""

W_PER_MW = 1.0e6
"""Watts in a megawatt (so watt-hours in a megawatt-hour)."""

KWH_PER_MWH = 1000.0
"""Kilowatt-hours in a megawatt-hour."""

J_PER_KWH = 3.6e6
"""Joules in a kilowatt-hour (1000 W x 3600 s)."""

TFLOP_PER_PFLOP = 1000.0
"""TFLOP in a PFLOP (10^15 / 10^12)."""

TOKENS_PER_MTOK = 1.0e6
"""Tokens in a million tokens, the unit inference is priced in."""
