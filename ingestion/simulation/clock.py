"""Simulated time: epoch seconds, days and office hours in China Standard Time."""

from __future__ import annotations

import datetime as dt

from ingestion.simulation.randomness import Draws, Weighted
from ingestion.simulation.world import CST

DAY = 86400
HOUR = 3600
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# When Chinese buyers send inquiries: office hours with a lunch dip, some evenings.
_LOCAL_HOURS: Weighted[int] = Weighted(
    tuple(range(24)),
    (1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 7, 10, 11, 9, 5, 7, 10, 10, 9, 7, 5, 5, 5, 4, 3, 2),
)
_OFFICE_OPENS = 8 * HOUR + 30 * 60
_OFFICE_CLOSES = 20 * HOUR


def day_start(day: dt.date) -> int:
    """Epoch seconds of midnight CST starting a day."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=CST)
    return int((midnight - _EPOCH).total_seconds())


def local_day(at: int) -> dt.date:
    """The CST calendar day of a moment."""
    return dt.datetime.fromtimestamp(at, CST).date()


def moment_in(day: dt.date, draws: Draws, *, domestic: bool = True) -> int:
    """A moment on a day when a buyer would act (any hour for buyers abroad)."""
    hour = draws.weighted(_LOCAL_HOURS) if domestic else draws.integer(0, 23)
    return day_start(day) + hour * HOUR + draws.integer(0, HOUR - 1)


def office_time(at: int, draws: Draws) -> int:
    """`at`, or the next office opening when `at` falls outside office hours."""
    midnight = at - (at + 8 * HOUR) % DAY
    offset = at - midnight
    if offset < _OFFICE_OPENS:
        return midnight + _OFFICE_OPENS + draws.integer(0, 90 * 60)
    if offset >= _OFFICE_CLOSES:
        return midnight + DAY + _OFFICE_OPENS + draws.integer(0, 90 * 60)
    return at
