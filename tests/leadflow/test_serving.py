"""The published copies readers read: whole publications only, swapped atomically, pruned."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from pathlib import Path

import duckdb
import pytest

from leadflow import serving
from leadflow.serving import (
    KEEP_GENERATIONS,
    Publication,
    ServingReader,
    publish_marts,
    publish_queue,
    serving_dir,
)
from models.live import LiveStagingError, compile_live_staging

QUEUE = """
select 'INQ' || i as inquiry_id, timestamp '2026-11-30 08:00:00' as submitted_at,
       'own_site' as channel, null as campaign, 'Ningbo Pump Co.' as company,
       '李' as contact_name, 'CN' as country, 'pumps' as product_category, null as sku,
       5 as quantity, 'rep' as owner_type, 'rep_01' as rep_id, null as distributor_id,
       null as assigned_at, null as first_contacted_at, 0 as contacts,
       i / 100 as probability, i as score, 'B' as tier, '[]' as reasons,
       'model' as scorer, 'v1' as model_version, null as events_through,
       timestamp '2026-12-01 08:00:00' as scored_at, null as as_of
from range(1, {n} + 1) as t(i)
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse with one mart, one report, a run log and a table readers never get."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("create table fct_inquiries as select range as n from range(10)")
    connection.execute("create table rpt_kpis as select 1 as period")
    connection.execute("create table pipeline_runs as select 'check' as stage")
    connection.execute("create table raw_events as select 'secret@example.com' as email")
    connection.execute(
        """
        create table stg_web__inquiries as
        select 'INQ' || i as inquiry_id, 'buyer@example.com' as email, null as phone,
               'zhejiang' as province, 12.5::decimal(18, 2) as target_unit_price,
               null as list_unit_price, 'CNY' as currency, false as needs_customization,
               'FOB' as incoterm, null as delivery_deadline, '要报价' as message
        from range(1, 100) as t(i)
        """
    )
    return connection


def test_readers_get_the_marts_and_the_queue_and_nothing_else(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    publish_marts(warehouse, tmp_path, state={"events": 10})
    publish_queue(warehouse, tmp_path, QUEUE.format(n=3))
    reader = ServingReader(tmp_path)
    with contextlib.closing(reader.cursor()) as cursor:
        assert cursor.execute("select count(*) from fct_inquiries").fetchone() == (10,)
        assert cursor.execute("select count(*) from lead_queue").fetchone() == (3,)
        # each queued inquiry's details, for its page
        assert cursor.execute(
            "select count(*), min(message) from lead_queue join lead_details using (inquiry_id)"
        ).fetchone() == (3, "要报价")
        with pytest.raises(duckdb.CatalogException):
            cursor.execute("select * from raw_events")
        # read-only, and no file outside the publication can be reached
        with pytest.raises(duckdb.Error):
            cursor.execute("create table marts.main.x as select 1")
        with pytest.raises(duckdb.Error):
            cursor.execute("select * from read_csv('/etc/passwd')")
    reader.close()
    publication = Publication.read(tmp_path)
    assert publication is not None and publication.marts_state == {"events": 10}


def test_a_reader_moves_to_the_new_publication_and_a_cursor_in_use_keeps_reading(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    publish_marts(warehouse, tmp_path)
    publish_queue(warehouse, tmp_path, QUEUE.format(n=3))
    reader = ServingReader(tmp_path)  # a request's cursor outlives a swap by the grace period
    old = reader.cursor()
    publish_queue(warehouse, tmp_path, QUEUE.format(n=5))
    with contextlib.closing(reader.cursor()) as new:
        assert new.execute("select count(*) from lead_queue").fetchone() == (5,)
    assert old.execute("select count(*) from lead_queue").fetchone() == (3,)
    old.close()
    reader.close()


def test_old_generations_are_pruned_and_the_current_files_are_read_only(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    publish_marts(warehouse, tmp_path)
    for n in range(KEEP_GENERATIONS + 3):
        publish_queue(warehouse, tmp_path, QUEUE.format(n=n + 1))
    folder = serving_dir(tmp_path)
    assert len(list(folder.glob("queue-*.duckdb"))) == KEEP_GENERATIONS
    current = json.loads((folder / "current.json").read_text())
    assert (folder / current["queue"]).stat().st_mode & 0o222 == 0  # nobody writes it


def test_readers_never_fail_while_publications_are_swapped(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    publish_marts(warehouse, tmp_path)
    publish_queue(warehouse, tmp_path, QUEUE.format(n=1))
    reader = ServingReader(tmp_path)
    stop, failures, reads = threading.Event(), [], [0]

    def read() -> None:
        while not stop.is_set():
            try:
                with contextlib.closing(reader.cursor()) as cursor:
                    cursor.execute("select count(*) from lead_queue").fetchone()
                reads[0] += 1
            except Exception as error:  # any failure is what the test is about
                failures.append(repr(error))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for n in range(30):
        publish_queue(warehouse, tmp_path, QUEUE.format(n=n + 1))
        if n % 10 == 0:
            publish_marts(warehouse, tmp_path)
    stop.set()
    for thread in threads:
        thread.join()
    reader.close()
    assert failures == [] and reads[0] > 30


def test_a_publication_the_process_still_holds_leaves_readers_on_the_last_one(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the publishing process, a transaction that saw the new file attached (any query
    of every database's catalog) keeps it open until it ends; readers meanwhile stay on the
    previous publication, and take the new one after."""
    publish_marts(warehouse, tmp_path)
    reader = ServingReader(tmp_path)
    with contextlib.closing(reader.cursor()) as cursor:
        assert cursor.execute("select count(*) from fct_inquiries").fetchone() == (10,)
    other = warehouse.cursor()
    attach = serving._attach_fresh

    def attach_while_a_transaction_looks(connection: duckdb.DuckDBPyConnection, path: Path) -> str:
        alias = attach(connection, path)
        other.execute("begin transaction")
        other.execute("select count(*) from duckdb_tables()").fetchone()
        return alias

    monkeypatch.setattr(serving, "_attach_fresh", attach_while_a_transaction_looks)
    warehouse.execute("insert into fct_inquiries select range from range(5)")
    publish_marts(warehouse, tmp_path)
    with contextlib.closing(reader.cursor()) as cursor:  # the last one
        assert cursor.execute("select count(*) from fct_inquiries").fetchone() == (10,)
    other.execute("commit")
    with contextlib.closing(reader.cursor()) as cursor:  # the new one
        assert cursor.execute("select count(*) from fct_inquiries").fetchone() == (15,)
    reader.close()


def test_nothing_published_says_what_publishes(tmp_path: Path) -> None:
    reader = ServingReader(tmp_path)
    assert not reader.available()
    with pytest.raises(FileNotFoundError, match="leadflow run"):
        reader.cursor()


def test_live_staging_refuses_a_model_without_the_live_bound() -> None:
    from models.live import LIVE_MODELS, PLACEHOLDER

    compiled = {name: f"select * from raw_events where ingested_at >= '{PLACEHOLDER}'"
                for name in LIVE_MODELS}  # fmt: skip
    staging = compile_live_staging(compiled)
    since = dt.datetime(2026, 12, 1, 8, 0)
    assert "2026-12-01 08:00:00" in staging.select("stg_web__inquiries", since)
    # an entity's events are re-read by its key, at the event log
    assert "from (select * from raw_events where inquiry_id in (select inquiry_id from new))" in (
        staging.select("stg_web__inquiries", since, keys="new")
    )
    twice = dict(compiled)
    twice["stg_sales__orders"] += ' union all select * from "w"."main"."raw_events"'
    with pytest.raises(LiveStagingError, match="stg_sales__orders must read the event log"):
        compile_live_staging(twice)
    compiled["stg_sales__quotes"] = "select * from raw_events"
    with pytest.raises(LiveStagingError, match="stg_sales__quotes"):
        compile_live_staging(compiled)
    del compiled["stg_web__searches"]
    with pytest.raises(LiveStagingError, match="stg_web__searches"):
        compile_live_staging(compiled)


def test_the_api_answers_from_the_newest_publication_not_a_kept_page_of_an_older_one(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # pages are kept by publication (scoring_api/routes/leads.py _PAGES): a new
    # publication is a new question, answered from its own file
    from fastapi.testclient import TestClient

    from scoring_api.main import create_app

    key = "lf_sales_" + "k" * 24
    publish_marts(warehouse, tmp_path)
    publish_queue(warehouse, tmp_path, QUEUE.format(n=3))
    app = create_app(
        warehouse_path=tmp_path / "warehouse.duckdb",
        registry_dir=tmp_path / "registry",
        api_keys={key: "sales"},
        serving_home=tmp_path,
        serving_only=True,
    )
    with TestClient(app) as client:

        def queue() -> tuple[int, list[str]]:
            body = client.get("/v1/leads", params={"limit": 2}, headers={"X-API-Key": key})
            assert body.status_code == 200, body.text
            return body.json()["total"], [lead["inquiry_id"] for lead in body.json()["leads"]]

        assert queue() == queue() == (3, ["INQ3", "INQ2"])
        publish_queue(warehouse, tmp_path, QUEUE.format(n=5))
        assert queue() == (5, ["INQ5", "INQ4"])
