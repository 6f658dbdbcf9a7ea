"""While another process holds the warehouse (a continuous `leadflow ingest`), every verb
that needs it says so in one line naming that process, and the runs that failed are
recorded as failed; and dbt's paths hold with a relative LEADFLOW_HOME."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadflow.pipeline import TRANSFORMS_DIR, open_warehouse
from leadflow.runs import write_run
from leadflow.settings import Settings

pytestmark = pytest.mark.integration

# each verb that opens the warehouse, and the stage it records (None: not a recorded stage)
VERBS: dict[tuple[str, ...], str | None] = {
    ("status",): None,
    ("score",): "score",
    ("train",): "train",
    ("transform",): "transform",
    ("check",): "check",
    ("rebuild",): "rebuild",
    ("quarantine", "list"): None,
    ("quarantine", "show", "q-1"): None,
    ("model", "drift"): None,
    ("freshness",): None,
    ("docs", "--no-serve"): None,
}


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    # a narrow terminal: a message rich wrapped would come out as several lines
    return env | {
        "LEADFLOW_HOME": str(home),
        "LEADFLOW_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "COLUMNS": "80",
    }


@contextlib.contextmanager
def held(warehouse: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the warehouse open read-write, as `leadflow ingest` has it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(600)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.kill()
        holder.wait()


Answer = tuple[int, str, str]  # exit code, stdout, stderr


def _run_all(verbs: list[tuple[str, ...]], env: dict[str, str]) -> dict[tuple[str, ...], Answer]:
    """Run the verbs side by side (each is a second or more of imports); their answers."""
    running = {
        verb: subprocess.Popen(
            [sys.executable, "-m", "leadflow", *verb],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for verb in verbs
    }
    answers = {}
    for verb, process in running.items():
        stdout, stderr = process.communicate(timeout=180)
        answers[verb] = (process.returncode, stdout, stderr)
    return answers


def test_every_verb_says_in_one_line_which_process_holds_the_warehouse_and_records_failure(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    config = Settings(home=home)
    open_warehouse(config).close()
    # these ran fine before; the failures must not leave them looking fine
    for stage in ("score", "transform"):
        write_run(config.warehouse_path, stage, dt.datetime(2024, 1, 1), True, {})

    with held(config.warehouse_path) as holder:
        answers = _run_all(list(VERBS), _environment(home))

    for verb, (code, _, stderr) in answers.items():
        lines = stderr.strip().splitlines()
        assert code == 1, (verb, stderr)
        assert "Traceback" not in stderr, (verb, stderr)
        assert len(lines) == 1, (verb, stderr)
        assert lines[0].startswith("error: "), (verb, stderr)
        assert f"held by process {holder.pid}" in lines[0], (verb, stderr)

    done = subprocess.run(
        [sys.executable, "-m", "leadflow", "status"],
        env=_environment(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    stages = {s["stage"]: s for s in json.loads(done.stdout.strip().splitlines()[-1])["stages"]}
    recorded = {stage for stage in VERBS.values() if stage}
    assert recorded <= set(stages)
    for stage in recorded:
        assert stages[stage]["last_run_ok"] is False, stages[stage]
    # the success before is still known, and still older than the failure that decides
    assert stages["score"]["last_success"] and stages["transform"]["last_success"]
    journal = [json.loads(line) for line in (home / "runs.jsonl").read_text().splitlines()]
    assert {run["stage"] for run in journal} == recorded
    assert all(f"process {holder.pid}" in run["details"]["error"] for run in journal)


def test_a_stage_that_fails_before_the_warehouse_exists_is_recorded_without_creating_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"

    done = subprocess.run(
        [sys.executable, "-m", "leadflow", "check"],
        env=_environment(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1 and "no warehouse at" in done.stderr, done.stderr
    assert not (home / "warehouse.duckdb").exists()
    (run,) = [json.loads(line) for line in (home / "runs.jsonl").read_text().splitlines()]
    assert run["stage"] == "check" and run["succeeded"] is False


def test_docs_are_written_under_a_relative_home(tmp_path: Path) -> None:
    open_warehouse(Settings(home=tmp_path / ".leadflow")).close()
    stray = TRANSFORMS_DIR / ".leadflow"
    stray_before = stray.exists()
    env = _environment(Path(".leadflow"))  # the default: relative to where leadflow runs

    done = subprocess.run(
        [sys.executable, "-m", "leadflow", "docs", "--no-serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    site = tmp_path / json.loads(done.stdout.strip().splitlines()[-1])["docs"]
    assert site == tmp_path / ".leadflow" / "docs"
    assert (site / "index.html").exists() and (site / "catalog.json").exists()
    assert (tmp_path / ".leadflow" / "dbt" / "logs" / "dbt.log").exists()
    assert stray.exists() == stray_before  # nothing written into the dbt project
