"""The marts at stable paths for BI tools: Parquet files and a marts.duckdb of views, only
the marts, rewritten under a reader that keeps its connection open."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from leadflow.serving import export_marts, publish_marts


def publish(home: Path, inquiries: int) -> None:
    with contextlib.closing(duckdb.connect(str(home / "warehouse.duckdb"))) as warehouse:
        warehouse.execute(
            "create or replace table fct_inquiries as"
            f" select 'INQ' || i as inquiry_id from range({inquiries}) as t(i)"
        )
        warehouse.execute("create or replace table rpt_kpis as select 42 as inquiries")
        # published for leadflow's own pages, never for a BI tool: reps' notes, the run log
        warehouse.execute("create or replace table stg_sales__notes as select 'secret' as note")
        warehouse.execute("create or replace table pipeline_runs as select 1 as run")
        publish_marts(warehouse, home)


def test_only_the_marts_are_written_and_a_reader_keeps_reading_across_publications(
    tmp_path: Path,
) -> None:
    home, out = tmp_path / "home", tmp_path / "bi"
    home.mkdir()
    publish(home, 3)

    assert export_marts(home, out) == ["fct_inquiries", "rpt_kpis"]
    assert sorted(path.name for path in out.iterdir()) == [
        "fct_inquiries.parquet",
        "marts.duckdb",
        "rpt_kpis.parquet",
    ]
    # a BI tool's connection, read-only, held open while leadflow publishes again
    with contextlib.closing(duckdb.connect(str(out / "marts.duckdb"), read_only=True)) as tool:
        assert tool.execute("select count(*) from fct_inquiries").fetchone() == (3,)
        publish(home, 5)
        export_marts(home, out)
        assert tool.execute("select count(*) from fct_inquiries").fetchone() == (5,)
        with pytest.raises(duckdb.CatalogException):
            tool.execute("select * from stg_sales__notes")
        # another process opens the same file read-only meanwhile
        other = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1],"
             " read_only=True).execute('select inquiries from rpt_kpis').fetchone()[0])",
             str(out / "marts.duckdb")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert other.stdout.strip() == "42"
    assert "secret" not in b"".join(path.read_bytes() for path in out.iterdir()).decode("latin-1")


def test_nothing_published_yet_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="leadflow run"):
        export_marts(tmp_path, tmp_path / "bi")
