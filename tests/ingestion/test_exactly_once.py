"""Exactly-once landing under SIGKILL, and recovery from a frozen broker."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.contracts import ContractViolation, decode_event
from ingestion.producer import iter_lines, make_producer, produce_lines
from ingestion.simulator import simulate

pytestmark = pytest.mark.integration

# the landing tables a rebuild restores from the archive, with their keys
LANDED_TABLES = {"raw_events": "event_id", "quarantined_events": "quarantine_id"}


def _expected(lines: list[bytes]) -> tuple[set[str], int]:
    """Distinct valid event_ids and the number of invalid messages among the lines."""
    valid, invalid = set(), 0
    for line in lines:
        try:
            valid.add(decode_event(line).event_id)
        except ContractViolation:
            invalid += 1
    return valid, invalid


def _ingest_process(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "leadflow", "ingest", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_assignment(process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """Block until the ingest process logs its partition assignment."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "assigned" in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"ingest exited early with {process.returncode}")
    raise AssertionError("ingest was not assigned partitions in time")


def _stream(bootstrap: str, lines: list[bytes], chunks: int, pause_s: float) -> threading.Thread:
    def run() -> None:
        producer = make_producer(bootstrap)
        size = len(lines) // chunks + 1
        for start in range(0, len(lines), size):
            produce_lines(producer, lines[start : start + size])
            time.sleep(pause_s)
        producer.close()

    thread = threading.Thread(target=run, name="stream")
    thread.start()
    return thread


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """≥200,000 simulated events, with their duplicates and malformed lines (read only)."""
    work = tmp_path_factory.mktemp("events")
    path = work / "events.jsonl"
    simulate(path, work / "truth.csv", seed=3, years=2.0, inquiries_per_year=8000)
    lines = list(iter_lines(path))
    assert len(lines) >= 200_000
    return lines


def test_ingest_killed_twenty_times_lands_each_event_exactly_once(
    tmp_path: Path, broker: str, events: list[bytes]
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env |= {
        "LEADFLOW_HOME": str(home),
        "LEADFLOW_KAFKA_BOOTSTRAP": broker,
        "LEADFLOW_KAFKA_SESSION_TIMEOUT_MS": "2000",
    }
    chaos = random.Random(20261122)
    streaming = _stream(broker, events, chunks=40, pause_s=0.5)

    for kill in range(20):
        # every other run is a group of three consumers, killed together mid-landing
        process = _ingest_process(env, "--consumers", "3" if kill % 2 else "1")
        _wait_for_assignment(process)
        time.sleep(chaos.uniform(0.05, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
    streaming.join()
    final = _ingest_process(env, "--until-idle", "--idle-seconds", "3")
    _, stderr = final.communicate(timeout=600)
    assert final.returncode == 0, stderr[-3000:]

    valid_ids, invalid = _expected(events)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
        landed = {row[0] for row in warehouse.execute("select event_id from raw_events").fetchall()}
        (rows,) = warehouse.execute("select count(*) from raw_events").fetchone()
        (quarantined,) = warehouse.execute("select count(*) from quarantined_events").fetchone()
    assert rows == len(landed) == len(valid_ids)
    assert landed == valid_ids
    assert quarantined == invalid

    # the archive the killed runs left rebuilds the same warehouse, every column of every
    # row (ingested_at included: only committed batches reached the archive)
    rebuild = subprocess.run(
        [sys.executable, "-m", "leadflow", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert rebuild.returncode == 0, rebuild.stderr[-3000:]
    assert not list((home / "archive" / "_pending").iterdir())
    with duckdb.connect() as both:
        both.execute(f"attach '{home / 'warehouse.duckdb'}' as rebuilt (read_only)")
        both.execute(f"attach '{home / 'warehouse.duckdb.previous'}' as live (read_only)")
        for table, key in LANDED_TABLES.items():
            only_one_side = both.execute(
                f"(select * from live.{table} except all select * from rebuilt.{table}) "
                f"union all (select * from rebuilt.{table} except all select * from live.{table})"
            ).fetchall()
            (count,) = both.execute(f"select count(*) from rebuilt.{table}").fetchone()
            assert only_one_side == [], (table, only_one_side[:3])
            assert count == {"raw_events": rows, "quarantined_events": quarantined}[table], key
    archived = sum(1 for _ in (home / "archive" / "events").rglob("*.parquet"))
    print(
        f"20 SIGKILLs: {rows:,} events and {quarantined:,} quarantined landed from "
        f"{len(events):,} lines; rebuilt from {archived:,} archived event files, equal "
        "in every column of every row"
    )


def test_a_broker_frozen_for_ten_seconds_delays_but_loses_nothing(
    tmp_path: Path, events: list[bytes], warehouse: duckdb.DuckDBPyConnection
) -> None:
    from ingestion.broker import EmbeddedBroker, ensure_topics
    from ingestion.consumer import ingest

    lines = events[:60_000]
    with EmbeddedBroker(log_path=tmp_path / "frozen.log") as frozen:
        ensure_topics(frozen.bootstrap)
        assert frozen.process is not None
        streaming = _stream(frozen.bootstrap, lines, chunks=20, pause_s=0.3)

        def freeze_then_thaw() -> None:
            time.sleep(3)
            os.kill(frozen.process.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            time.sleep(10)
            os.kill(frozen.process.pid, signal.SIGCONT)  # type: ignore[union-attr]

        chaos = threading.Thread(target=freeze_then_thaw)
        chaos.start()
        time.sleep(0.5)
        report = ingest(
            frozen.bootstrap,
            warehouse,
            group_id="frozen",
            until_idle=True,
            idle_seconds=15.0,
            session_timeout_ms=6000,
        )
        chaos.join()
        streaming.join()
        # whatever arrived after the consumer went idle lands on the next run
        rest = ingest(
            frozen.bootstrap, warehouse, group_id="frozen", until_idle=True, idle_seconds=3
        )

    valid_ids, invalid = _expected(lines)
    landed = {row[0] for row in warehouse.execute("select event_id from raw_events").fetchall()}
    assert landed == valid_ids
    assert report.quarantined + rest.quarantined == invalid
