"""The demo's live stream: the simulated events after now, sent as their time comes, faster.

`leadflow demo` simulates two years up to today and a few weeks beyond. What happened up
to now is loaded in one go; the rest is held here and published to Kafka in accelerated
real time (`speed` simulated seconds per real second), each event stamped with the moment
it is sent, so a newcomer watches inquiries arrive, get scored, contacted, quoted, won and
lost while `leadflow run` serves the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from kafka import KafkaProducer

from ingestion.producer import iter_lines, make_producer, route

log = logging.getLogger(__name__)


def _occurred_at(record: dict[str, object]) -> dt.datetime | None:
    value = record.get("occurred_at")
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def split_at(events: Path, history: Path, later: Path, now: dt.datetime) -> int:
    """Write the lines of `events` that occurred up to `now` (and the malformed ones) to
    `history`, the later ones to `later` in the order they occur; returns how many later."""
    future: list[tuple[dt.datetime, dict]] = []
    with history.open("wb") as out:
        for raw in iter_lines(events):
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                record = None
            moment = _occurred_at(record) if isinstance(record, dict) else None
            if moment is None or moment <= now:
                out.write(raw + b"\n")
            else:
                future.append((moment, record))
    future.sort(key=lambda item: item[0])
    with later.open("wb") as out:
        for _, record in future:
            out.write(orjson.dumps(record) + b"\n")
    return len(future)


def held_events(later: Path) -> list[tuple[dt.datetime, dict]]:
    """The events `split_at` held back, with their moments, in order."""
    held = []
    for raw in iter_lines(later):
        record = orjson.loads(raw)
        moment = _occurred_at(record)
        if moment is not None:
            held.append((moment, record))
    return held


@dataclass
class FeedReport:
    """What the feeder sent so far."""

    sent: int = 0
    pending: int = 0


class Feeder:
    """Publishes held events when their (accelerated) time comes, on a thread of its own."""

    def __init__(
        self,
        bootstrap: str,
        events: Iterable[tuple[dt.datetime, dict]],
        *,
        start: dt.datetime,
        speed: float,
    ) -> None:
        self.events = list(events)
        self.start = start
        self.speed = speed
        self.bootstrap = bootstrap
        self.stop = threading.Event()
        self.report = FeedReport(pending=len(self.events))
        self.thread = threading.Thread(target=self._run, name="leadflow-feeder", daemon=True)

    def start_feeding(self) -> None:
        """Start sending."""
        self.thread.start()

    def close(self) -> None:
        """Stop sending (what was sent stays sent)."""
        self.stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        producer: KafkaProducer = make_producer(self.bootstrap)
        began = time.monotonic()
        try:
            for moment, record in self.events:
                due = began + (moment - self.start).total_seconds() / self.speed
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                record["occurred_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
                raw = orjson.dumps(record)
                topic, key, _ = route(raw)
                producer.send(topic, key=key, value=raw)
                producer.flush()
                self.report.sent += 1
                self.report.pending -= 1
        except Exception as error:  # the demo goes on serving what it has
            log.warning("the demo feeder stopped: %s", error)
        finally:
            producer.close(timeout=5)
