"""Incremental runs of transforms/ give the warehouse a full refresh of the same log gives."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ingestion.contracts import Event, decode_event
from ingestion.sink import LandingSink, Message, PreparedBatch
from ingestion.warehouse import LANDING_TABLES, create_landing_tables
from leadflow.pipeline import run_dbt
from leadflow.settings import Settings
from tests.transforms.conftest import (
    StoryWriter,
    buyer_stories,
    encoded,
    failed_nodes,
    land,
    simulated_lines,
)
from tests.transforms.conftest import run_dbt as run_dbt_in_process

pytestmark = pytest.mark.integration

# The tests' lookback: short, so that what landed a pause of PAUSE_SECONDS before the
# newest landing lies outside it, and an incremental run must rely on what its models
# hold rather than re-read it. dbt_project.yml's default is an hour.
LOOKBACK_SECONDS = 1
PAUSE_SECONDS = LOOKBACK_SECONDS + 1.0


@dataclass(frozen=True)
class LateStories:
    """Events of buyers whose late, re-sent and out-of-order events must be got right."""

    first: list[Event]  # landed before the first run
    late: list[Event]  # landed after it, most of them dated long before
    straggling: list[Event]  # validated before the second run, committed after it
    overtaking: list[Event]  # validated after the straggling batch, committed before it


def late_stories() -> LateStories:
    """The stories; their ids start at evt-100001, clear of buyer_stories'.

    - Frank inquires and is quoted. Later his inquiry is re-sent with an earlier timestamp
      (a new event id: the earlier copy wins) and a quote older than the one known
      arrives (his first quote changes). He is called twice; the batch of the second call
      overtakes the first's.
    - Grace orders under account acct-grace, then inquires from another mailbox: a new
      customer, it seems. Then an old order of hers is synced, carrying both mailboxes:
      one customer with prior orders, though no event about her inquiry arrived.
      Her inquiry and her first order are re-sent, later: the copies kept stay.
    - Henry's order is linked to his first inquiry; a late, earlier copy of the same
      order_placed links it to his second: the first inquiry loses its order.
    - Ivy's assignment lands before her inquiry (the shop's queue was stuck).
    - Dave (buyer_stories) gets a late page view from before his inquiry: its prior page
      views grow without an event about it.
    - Alice's (buyer_stories) first shipment gets a carrier's exception scan, weeks late.
    """
    story = StoryWriter(first_id=100_001)
    story.at(days=20).browse("anon-frank")
    frank_submitted = story.at(minutes=30).now
    story.inquire("inq-frank", anonymous_id="anon-frank", email="frank@valve-works.com")
    story.at(days=2).emit("quote_sent", "sales", quote("q-frank-2", 4500.0), **frank_rep())
    grace_ordered = story.at(days=1).now
    story.order("order-grace-1", account_id="acct-grace", email="grace@mill-tech.com")
    grace_inquired = story.at(days=30).now
    story.inquire("inq-grace", email="grace.wu@mill-tech.cn")
    story.at(days=1).inquire("inq-henry-1", email="henry@pumps-r-us.com")
    story.at(hours=2).inquire("inq-henry-2", email="henry@pumps-r-us.com")
    henry_ordered = story.at(days=3).now
    story.order("order-henry", inquiry_id="inq-henry-1", email="henry@pumps-r-us.com")
    story.at(days=1).emit(
        "lead_assigned", "sales", {"assignee_type": "rep"}, inquiry_id="inq-ivy", rep_id="rep-03"
    )
    latest = story.now
    first = len(story.events)

    # late: each dated before what the warehouse already holds
    story.now = frank_submitted - dt.timedelta(hours=1)
    story.inquire("inq-frank", anonymous_id="anon-frank", email="frank@valve-works.com")
    story.at(days=1).emit("quote_sent", "sales", quote("q-frank-1", 4700.0), **frank_rep())
    story.now = grace_ordered - dt.timedelta(days=10)
    story.order("order-grace-0", 9000.0, account_id="acct-grace", email="grace.wu@mill-tech.cn")
    story.now = henry_ordered - dt.timedelta(hours=1)
    story.order("order-henry", inquiry_id="inq-henry-2", email="henry@pumps-r-us.com")
    # re-sent, dated after the copies kept: they change nothing
    story.now = grace_inquired + dt.timedelta(hours=2)
    story.inquire("inq-grace", email="grace.wu@mill-tech.cn", phone="+86 139 0000 1111")
    story.now = grace_ordered + dt.timedelta(hours=2)
    story.order("order-grace-1", 99.0, account_id="acct-grace", email="grace@mill-tech.com")
    story.now = latest - dt.timedelta(days=1)
    story.inquire("inq-ivy", email="ivy@textiles.vn")
    dave_inquired = first_of(buyer_stories(), "inquiry_submitted", inquiry_id="inq-dave")
    story.now = dave_inquired.occurred_at - dt.timedelta(hours=1)
    story.emit("page_viewed", "web", {"url": "https://shop/"}, anonymous_id="anon-dave")
    dispatched = first_of(buyer_stories(), "shipment_dispatched", shipment_id="ship-alice-1")
    story.now = dispatched.occurred_at + dt.timedelta(hours=30)
    story.emit(
        "shipment_exception", "logistics", {"exception_type": "delayed"}, shipment_id="ship-alice-1"
    )
    late = len(story.events)

    story.now = latest
    story.emit("lead_contacted", "sales", {"medium": "phone", "contact_number": 1}, **frank_rep())
    story.at(days=1).emit(
        "lead_contacted", "sales", {"medium": "email", "contact_number": 2}, **frank_rep()
    )
    return LateStories(
        first=story.events[:first],
        late=story.events[first:late],
        straggling=story.events[late : late + 1],
        overtaking=story.events[late + 1 :],
    )


def quote(quote_id: str, unit_price: float) -> dict[str, object]:
    """A quote_sent payload for ten pumps."""
    return {
        "quote_id": quote_id,
        "unit_price": unit_price,
        "list_price": 4800.0,
        "quantity": 10,
        "currency": "CNY",
        "valid_until": "2024-06-01",
    }


def frank_rep() -> dict[str, str]:
    """The identity keys of a sales event about Frank's inquiry."""
    return {"inquiry_id": "inq-frank", "rep_id": "rep-02"}


def first_of(events: Iterable[Event], event_type: str, **keys: str) -> Event:
    """The first event of a type with these identity keys."""
    return next(
        e
        for e in events
        if e.event_type == event_type and all(getattr(e, k) == v for k, v in keys.items())
    )


@contextlib.contextmanager
def landing(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to land events with, closed before dbt opens the file."""
    with contextlib.closing(duckdb.connect(str(warehouse))) as connection:
        create_landing_tables(connection)
        yield connection


def validated(connection: duckdb.DuckDBPyConnection, lines: list[bytes]) -> PreparedBatch:
    """A batch the real sink validated, and so stamped with its landing time, but not landed."""
    sink = LandingSink(connection, group_id="tests-stragglers")
    for offset, raw in enumerate(lines):
        topic = decode_event(raw).topic
        sink.add(Message(topic=topic, partition=0, offset=offset, key=None, value=raw))
    batch = sink.prepare()
    assert batch is not None
    return batch


def build(settings: Settings, warehouse: Path, *flags: str) -> None:
    """The real `dbt build` of the project on `warehouse`, with the tests' lookback."""
    lookback = {"incremental_lookback_seconds": LOOKBACK_SECONDS}
    run_dbt(settings, "build", flags, warehouse=warehouse, dbt_vars=lookback)


def project_models(settings: Settings) -> list[str]:
    """Every model of the project, as dbt's manifest of the last run lists them."""
    manifest = json.loads((settings.home / "dbt" / "target" / "manifest.json").read_text())
    return sorted(
        node["alias"] for node in manifest["nodes"].values() if node["resource_type"] == "model"
    )


def copy_of_landing_tables(source: Path, target: Path) -> Path:
    """A new warehouse holding exactly the landed events (and quarantine) of `source`."""
    with landing(target) as connection:
        connection.execute(f"attach '{source}' as source (read_only)")
        for table in LANDING_TABLES:
            connection.execute(f"insert into {table} select * from source.{table}")
    return target


def differences(left: Path, right: Path, models: list[str]) -> dict[str, list[str]]:
    """Per model that differs: its columns if they differ, else up to five rows found on one
    side only (as a multiset, so duplicates count), in a deterministic order."""
    found: dict[str, list[str]] = {}
    with contextlib.closing(duckdb.connect()) as db:
        db.execute(f"attach '{left}' as left_side (read_only)")
        db.execute(f"attach '{right}' as right_side (read_only)")
        for model in models:
            columns = [
                db.execute(f"select * from {side}.{model} limit 0").description
                for side in ("left_side", "right_side")
            ]
            names = [[(c[0], str(c[1])) for c in side] for side in columns]
            if names[0] != names[1]:
                found[model] = [f"columns {names[0]} vs {names[1]}"]
                continue
            rows = []
            for this, other in (("left_side", "right_side"), ("right_side", "left_side")):
                only = db.execute(
                    f"select * from {this}.{model} except all select * from {other}.{model}"
                ).fetchall()
                rows += [f"only in {this}: {row}" for row in sorted(only, key=repr)[:5]]
            if rows:
                found[model] = rows
    return found


@dataclass(frozen=True)
class Warehouses:
    """The same landed events, built incrementally in one warehouse and fully in another."""

    settings: Settings
    incremental: Path
    full_refresh: Path
    first_customers: dict[str, str]  # identifier -> customer_id after the first run

    def query(self, sql: str, *parameters: object) -> list[tuple[object, ...]]:
        """Rows of one query on the incrementally built warehouse."""
        with contextlib.closing(duckdb.connect(str(self.incremental), read_only=True)) as db:
            return db.execute(sql, list(parameters)).fetchall()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    """A warehouse built, then landed into and built again twice (incremental runs), and a
    copy of its landed events built from scratch with --full-refresh."""
    work = tmp_path_factory.mktemp("incremental")
    settings = Settings(home=work / "home")
    simulated = simulated_lines(work)
    cut = len(simulated) * 2 // 3  # the file is in arrival order: a cut is a moment
    stories = late_stories()
    incremental = work / "incremental.duckdb"

    with landing(incremental) as connection:
        land(connection, encoded(buyer_stories() + stories.first))
    time.sleep(PAUSE_SECONDS)  # the stories lie outside the next run's lookback
    with landing(incremental) as connection:
        land(connection, simulated[:cut])
    build(settings, incremental)
    with contextlib.closing(duckdb.connect(str(incremental), read_only=True)) as db:
        first_customers = dict(
            db.execute("select identifier, customer_id from int_customers_resolved").fetchall()
        )

    with landing(incremental) as connection:
        # the rest of the quarter (with its own late and duplicated lines), the late
        # stories, and every 50th line of the first part delivered again
        land(connection, simulated[cut:] + encoded(stories.late) + simulated[:cut:50])
        straggling = validated(connection, encoded(stories.straggling))
        land(connection, encoded(stories.overtaking))
    build(settings, incremental)
    with landing(incremental) as connection:
        LandingSink(connection, group_id="tests-stragglers").land(straggling)
    build(settings, incremental)

    full_refresh = copy_of_landing_tables(incremental, work / "full_refresh.duckdb")
    build(settings, full_refresh, "--full-refresh")
    return Warehouses(settings, incremental, full_refresh, first_customers)


def test_incremental_runs_after_new_late_and_straggling_events_equal_a_full_refresh(
    warehouses: Warehouses,
) -> None:
    models = project_models(warehouses.settings)
    assert {"stg_web__inquiries", "int_inquiry_milestones_pivoted", "fct_inquiries"} <= set(models)

    assert differences(warehouses.incremental, warehouses.full_refresh, models) == {}


def test_incremental_runs_take_late_and_straggling_events_into_account(
    warehouses: Warehouses,
) -> None:
    frank_resent = late_stories().late[0]
    submitted = warehouses.query(
        "select event_id, submitted_at from stg_web__inquiries where inquiry_id = 'inq-frank'"
    )
    # quotes, contacts, linked orders and assignee of each inquiry
    milestones = {
        row[0]: row[1:]
        for row in warehouses.query(
            "select inquiry_id, quote_count, contact_count, linked_orders, assignee_type"
            " from int_inquiry_milestones_pivoted"
        )
    }
    prior = {
        row[0]: row[1:]
        for row in warehouses.query(
            "select inquiry_id, prior_page_views, customer_prior_orders"
            " from int_inquiry_prior_activities_counted"
        )
    }
    grace = warehouses.query(
        "select inquiries.phone, orders.amount from stg_web__inquiries as inquiries,"
        " stg_sales__orders as orders"
        " where inquiries.inquiry_id = 'inq-grace' and orders.order_id = 'order-grace-1'"
    )
    exceptions = warehouses.query(
        "select exception_type from stg_logistics__shipment_events"
        " where shipment_id = 'ship-alice-1' and shipment_event_type = 'exception'"
    )

    resent_at = frank_resent.occurred_at.astimezone(dt.UTC).replace(tzinfo=None)
    assert submitted == [(frank_resent.event_id, resent_at)]
    assert milestones["inq-frank"] == (2, 2, 0, None)
    assert milestones["inq-henry-1"][2] == 0
    assert milestones["inq-henry-2"][2] == 1
    assert milestones["inq-ivy"] == (0, 0, 0, "rep")
    assert prior["inq-grace"] == (0, 2)
    assert grace == [(None, 42000.0)]
    assert prior["inq-dave"] == (1, 0)
    assert exceptions == [("delayed",)]


def test_incremental_run_without_new_events_changes_no_model(
    warehouses: Warehouses, tmp_path: Path
) -> None:
    models = project_models(warehouses.settings)
    before = tmp_path / "before.duckdb"
    with contextlib.closing(duckdb.connect(str(before))) as db:
        db.execute(f"attach '{warehouses.incremental}' as built (read_only)")
        for model in models:
            db.execute(f"create table {model} as select * from built.{model}")

    build(warehouses.settings, warehouses.incremental)

    assert differences(before, warehouses.incremental, models) == {}


def test_a_customer_whose_identifiers_did_not_change_keeps_its_id(warehouses: Warehouses) -> None:
    now = dict(warehouses.query("select identifier, customer_id from int_customers_resolved"))

    def members(customers: dict[str, str]) -> dict[str, frozenset[str]]:
        grouped: dict[str, set[str]] = {}
        for identifier, customer_id in customers.items():
            grouped.setdefault(customer_id, set()).add(identifier)
        return {customer_id: frozenset(group) for customer_id, group in grouped.items()}

    before, after = members(warehouses.first_customers), members(now)
    unchanged = [
        (customer_id, group)
        for customer_id, group in before.items()
        if after.get(now[next(iter(group))]) == group
    ]
    moved = [
        (customer_id, now[next(iter(group))])
        for customer_id, group in unchanged
        if now[next(iter(group))] != customer_id
    ]

    assert len(unchanged) > 0.9 * len(before)  # most buyers of the first run got no new event
    assert len(unchanged) < len(before)  # and some did: the late stories
    assert moved == []


def test_live_lookups_are_indexed_and_a_full_refresh_still_swaps_the_tables(
    replayed_warehouse: Path, tmp_path: Path
) -> None:
    # live scoring reads a few hundred inquiries' rows a tick: indexed, not whole scans
    # (macros/lookup_indexes.sql); DuckDB cannot rename an indexed table, and a full
    # refresh swaps its tables in by renaming them
    from models.live import LIVE_MODELS

    def indexes() -> set[tuple[str, str]]:
        with contextlib.closing(duckdb.connect(str(replayed_warehouse))) as db:
            rows = db.execute("select table_name, sql from duckdb_indexes()").fetchall()
        return {(table, sql.rsplit("(", 1)[1].rstrip(");")) for table, sql in rows}

    expected = {
        ("stg_web__page_views", "anonymous_id"),
        ("stg_sales__lead_contacts", "inquiry_id"),
        ("stg_logistics__shipment_events", "order_id"),
        ("stg_sales__orders", "order_id"),
        ("stg_sales__orders", "inquiry_id"),
        ("stg_web__inquiries", "inquiry_id"),
    }
    selected = ("--select", *LIVE_MODELS)
    for args in ((), ("--full-refresh",), ()):
        result = run_dbt_in_process(replayed_warehouse, tmp_path, "run", *selected, *args)
        assert result.success, failed_nodes(result)
        assert expected <= indexes(), args
        assert {table for table, _ in indexes()} == set(LIVE_MODELS)
