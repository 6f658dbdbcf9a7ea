"""The event log being written: arrival order, late arrivals, duplicates and malformed lines."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from typing import Any, BinaryIO

from ingestion.contracts import DEFAULT_RULES, EVENT_TYPES, encode_event, parse_event
from ingestion.simulation.faults import FAULT_KINDS, malformed_line
from ingestion.simulation.randomness import Draws, Ids
from ingestion.simulation.world import CST, UTC

LATE_SHARE = 0.015
LATE_SHARE_CARRIERS = 0.06  # carrier scans are uploaded in batches
DUPLICATE_SHARE = 0.01
MALFORMED_SHARE = 0.003
_CARRIERS = frozenset({"sf_express", "deppon", "zto", "jd_logistics", "dhl", "fedex", "cosco"})
# Systems that stamp events in UTC; every other producer runs on China Standard Time.
_UTC_PRODUCERS = frozenset({"google_ads", "dhl", "fedex", "cosco"})
_MAX_LATENESS = 5 * 86400


class EventLog:
    """Validated events, released to the file in arrival order with realistic faults added."""

    # Each event is validated and encoded through the contract when emitted, then held in
    # a heap keyed by its arrival time until `release` is told no earlier one can follow.

    def __init__(
        self,
        handle: BinaryIO,
        draws: Draws,
        ids: Ids,
        *,
        horizon: int,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Write to `handle`; events at or after `horizon` (epoch seconds) have not happened yet."""
        self._handle = handle
        self._draws = draws
        self._ids = ids
        self._horizon = horizon
        # a simulation that runs past today (the demo's live feed) checks its events
        # against the contract as of its horizon, when they will be sent
        now = dt.datetime.now(dt.UTC)
        horizon_at = dt.datetime.fromtimestamp(horizon, dt.UTC)
        self._window = DEFAULT_RULES.window(now=max(now, horizon_at))
        self._progress = progress
        self._pending: list[tuple[int, int, bytes]] = []
        self._sequence = 0
        self.written = 0
        self.valid = 0
        self.duplicates = 0
        self.malformed = 0

    def emit(
        self,
        event_type: str,
        at: int,
        producer: str,
        payload: dict[str, Any],
        *,
        schema_version: int = 1,
        **identity: str | None,
    ) -> bool:
        """Record one event that happened at `at` (epoch seconds); False if past the horizon."""
        if at >= self._horizon:
            return False
        occurred_at = dt.datetime.fromtimestamp(at, UTC if producer in _UTC_PRODUCERS else CST)
        record: dict[str, Any] = {
            "event_type": event_type,
            "source": EVENT_TYPES[event_type],
            "event_id": self._ids.event_id(at * 1000),
            "schema_version": schema_version,
            "occurred_at": occurred_at,
            "producer": producer,
        }
        record.update((key, value) for key, value in identity.items() if value is not None)
        record["payload"] = payload
        # orjson's bytes keep a 4 KiB buffer; an exact copy keeps held lines small.
        line = bytes(memoryview(encode_event(parse_event(record, self._window))))
        draws = self._draws
        arrives = at
        late_share = LATE_SHARE_CARRIERS if producer in _CARRIERS else LATE_SHARE
        if draws.chance(late_share):
            arrives += min(int(draws.lognormal(6 * 3600, 1.2)), _MAX_LATENESS)
        self._push(arrives, line)
        self.valid += 1
        if draws.chance(DUPLICATE_SHARE):
            # At-least-once delivery: the same bytes again, seconds to days later.
            self._push(arrives + 1 + int(draws.lognormal(1200, 2.0)), line)
            self.duplicates += 1
        if draws.chance(MALFORMED_SHARE):
            record["event_id"] = self._ids.event_id(at * 1000)
            kind = draws.pick(FAULT_KINDS)
            broken = malformed_line(record, occurred_at, kind, draws)
            self._push(arrives + draws.integer(0, 60), broken)
            self.malformed += 1
        return True

    def release(self, before: int | None = None) -> None:
        """Write every held line arriving before `before` (all of them when None)."""
        lines = []
        pending = self._pending
        while pending and (before is None or pending[0][0] < before):
            lines.append(heapq.heappop(pending)[2])
        if not lines:
            return
        self._handle.write(b"\n".join(lines) + b"\n")
        self.written += len(lines)
        if self._progress is not None:
            self._progress(len(lines))

    def _push(self, arrives: int, line: bytes) -> None:
        self._sequence += 1
        heapq.heappush(self._pending, (arrives, self._sequence, line))
