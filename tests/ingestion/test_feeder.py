"""The demo's live feed: a simulation that runs past today, split at now and held back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from ingestion.contracts import parse_event
from ingestion.feeder import held_events, split_at
from ingestion.producer import iter_lines
from ingestion.simulator import simulate


def test_a_simulation_past_today_splits_into_history_and_a_feed_in_order(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    simulated = tmp_path / "simulated.jsonl"
    report = simulate(
        simulated,
        tmp_path / "truth.csv",
        seed=3,
        years=40 / 365,
        inquiries_per_year=3000,
        start=today - dt.timedelta(days=25),
    )
    now = dt.datetime.now(dt.UTC)
    held = split_at(simulated, tmp_path / "history.jsonl", tmp_path / "future.jsonl", now)

    history = list(iter_lines(tmp_path / "history.jsonl"))
    assert held > 0 and len(history) + held == report.events_written
    feed = held_events(tmp_path / "future.jsonl")
    moments = [moment for moment, _ in feed]
    assert len(feed) == held and moments == sorted(moments) and moments[0] > now
    for raw in history:
        try:
            record = json.loads(raw)
            occurred = dt.datetime.fromisoformat(record["occurred_at"])
        except (ValueError, KeyError, TypeError):
            continue  # the simulator's malformed lines stay in the history, to be quarantined
        if occurred.tzinfo is not None:
            assert occurred <= now
    # stamped with the moment it is sent, a held event follows the contract
    moment, record = feed[0]
    record["occurred_at"] = now.isoformat()
    assert parse_event(record).event_id == record["event_id"]
    del moment
