"""The moment scores describe: now for a live log, the log's newest event for a history.

A live log's newest event is minutes old and a score describes the inquiry as it stands
now (how long it has waited for a reply, say). A historical import's newest event may be
years ago: scored at today's date every inquiry would have waited years, so its clock is
the newest event instead, the moment the log stops knowing. `--as-of` picks any moment of
the log, for backtests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from models.errors import WarehouseNotReadyError
from models.features import as_warehouse_time

LIVE_WITHIN = dt.timedelta(days=7)
"""A log whose newest event is at most this old is live (a quiet week of holidays
included); an older one is a history, scored as of its newest event."""


@dataclass(frozen=True)
class Clock:
    """A scoring moment and where it came from.

    as_of: the moment (UTC, naive, as the warehouse stores times).
    source: 'wall' (now: the log is live), 'log' (its newest event: a historical import)
        or 'as_of' (asked for, a backtest).
    newest_event_at: the log's newest event (None for an empty log).
    """

    as_of: dt.datetime
    source: str
    newest_event_at: dt.datetime | None

    def describe(self) -> dict[str, object]:
        """The fields a command's JSON line reports about its clock."""
        return {
            "as_of": self.as_of.isoformat(timespec="seconds"),
            "clock": self.source,
            "newest_event_at": (
                self.newest_event_at.isoformat(timespec="seconds") if self.newest_event_at else None
            ),
        }


def newest_event_at(connection: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """When the newest event in the log occurred: the clock its labels are judged by."""
    try:
        row = connection.execute("select max(label_as_of) from fct_inquiries").fetchone()
    except duckdb.CatalogException as error:
        raise WarehouseNotReadyError(
            f"fct_inquiries is missing ({error}); build the marts with `leadflow transform`"
        ) from error
    return row[0] if row else None


def scoring_clock(
    connection: duckdb.DuckDBPyConnection,
    now: dt.datetime,
    *,
    as_of: dt.datetime | None = None,
    live_within: dt.timedelta = LIVE_WITHIN,
) -> Clock:
    """The moment to score at: `as_of` when given; else now when the log is live (its
    newest event at most `live_within` old), else the log's newest event."""
    newest = newest_event_at(connection)
    if as_of is not None:
        return Clock(as_warehouse_time(as_of), "as_of", newest)
    wall = as_warehouse_time(now)
    if newest is None or newest >= wall - live_within:
        return Clock(wall, "wall", newest)
    return Clock(newest, "log", newest)


def parse_moment(text: str) -> dt.datetime:
    """`--as-of` as given on the command line: a date (its start, UTC) or an ISO time
    (UTC unless it names a zone)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ValueError(
            f"--as-of {text!r} is not a date or time; give one like 2024-06-30 or "
            "2024-06-30T18:00:00 (UTC unless it names a zone, as in 2024-06-30T18:00+08:00)"
        ) from error
    return as_warehouse_time(moment)
