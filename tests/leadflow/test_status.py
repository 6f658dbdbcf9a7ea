"""`leadflow status` sees every partition of every source topic, consumed or not, and the
conflicts waiting in quarantine; a warehouse another process holds is one line of error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.consumer import ingest
from ingestion.producer import iter_lines, make_producer, produce_lines
from ingestion.simulator import simulate
from leadflow.status import read_status

pytestmark = pytest.mark.integration


def test_lag_is_shown_for_every_partition_whether_or_not_a_group_reads_it(
    tmp_path: Path, broker: str, warehouse: duckdb.DuckDBPyConnection
) -> None:
    simulate(tmp_path / "e.jsonl", tmp_path / "t.csv", seed=3, years=0.1, inquiries_per_year=3000)
    lines = list(iter_lines(tmp_path / "e.jsonl"))
    producer = make_producer(broker)
    sent = produce_lines(producer, lines).sent
    producer.close()

    before = read_status(warehouse, "nobody-yet", broker)
    ingest(broker, warehouse, group_id="status", until_idle=True, idle_seconds=1.0)
    after = read_status(warehouse, "status", broker)

    assert len(before["partitions"]) == len(after["partitions"]) == 9
    assert sum(p["end_offset"] for p in before["partitions"]) == sent
    assert sum(p["lag"] for p in before["partitions"]) == sent
    assert sum(p["lag"] for p in after["partitions"]) == 0
    assert after["quarantined_by_reason"] and after["conflicting_duplicates"] == 0


def test_a_warehouse_held_by_another_process_is_one_line_of_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(120)",
            str(home / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
        env |= {"LEADFLOW_HOME": str(home), "LEADFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
        answers = [
            subprocess.run(
                [sys.executable, "-m", "leadflow", *verb],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            for verb in (["status"], ["quarantine", "list"], ["ingest", "--until-idle"])
        ]
    finally:
        holder.kill()

    for answer in answers:
        assert answer.returncode == 1, answer.stderr
        assert "Traceback" not in answer.stderr
        error = " ".join(answer.stderr.split())
        assert f"the file is held by process {holder.pid}" in error, answer.stderr
