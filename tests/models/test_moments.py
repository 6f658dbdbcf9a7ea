"""Point-in-time facts: what was known at a moment never changes when later events arrive."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd

from models.features import build_features
from models.moments import facts_at, training_moments

LATER_EVENTS = """
insert into stg_sales__lead_contacts by name
select 'late-c-' || inquiry_id as event_id, inquiry_id, $as_of + interval 1 hour as contacted_at,
       ingested_at
from stg_web__inquiries;
insert into stg_sales__quotes by name
select 'late-q-' || inquiry_id as event_id, inquiry_id, $as_of + interval 2 hour as quoted_at,
       1.0 as unit_price, ingested_at
from stg_web__inquiries;
insert into stg_sales__customization_assessments by name
select inquiry_id, $as_of + interval 3 hour as assessed_at, false as is_feasible
from stg_web__inquiries;
insert into stg_sales__lead_assignments by name
select 'late-a-' || inquiry_id as event_id, inquiry_id, $as_of as assigned_at,
       'distributor' as assignee_type, 'dist_late' as distributor_id, ingested_at
from stg_web__inquiries;
insert into stg_sales__orders by name
select 'SO-late-' || inquiry_id as order_id, null as inquiry_id, email,
       $as_of + interval 1 day as placed_at, 99999 as amount, ingested_at
from stg_web__inquiries;
"""


def _append_later_events(connection: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> None:
    for statement in filter(str.strip, LATER_EVENTS.split(";")):
        connection.execute(statement, {"as_of": as_of})


def _facts(warehouse: Path, moments: pd.DataFrame) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return facts_at(connection, moments)


def test_events_after_the_scoring_moment_leave_the_features_unchanged(
    synthetic_warehouse: Path, tmp_path: Path
):
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        labelled = connection.execute("select inquiry_id from fct_inquiries").df()["inquiry_id"]
        moments = training_moments(connection, labelled)
    as_of = pd.Timestamp(moments["as_of"].quantile(0.5))
    # every moment up to as_of, and every inquiry scored at as_of itself
    before = moments[moments["as_of"] <= as_of]
    at_cutoff = pd.DataFrame({"inquiry_id": before["inquiry_id"].unique(), "as_of": as_of})
    chosen = pd.concat([before[["inquiry_id", "as_of"]], at_cutoff], ignore_index=True)
    original = build_features(_facts(synthetic_warehouse, chosen))

    appended = Path(shutil.copy(synthetic_warehouse, tmp_path / "appended.duckdb"))
    with duckdb.connect(str(appended)) as connection:
        _append_later_events(connection, as_of.to_pydatetime())
    after = build_features(_facts(appended, chosen))

    assert len(original) > 1000
    pd.testing.assert_frame_equal(original, after)


def test_the_same_later_events_do_change_the_features_at_a_later_moment(
    synthetic_warehouse: Path, tmp_path: Path
):
    # the guard of the test above: the appended events are visible once they have happened
    as_of = dt.datetime(2024, 6, 1)
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        ids = connection.execute(
            "select inquiry_id from stg_web__inquiries where submitted_at < $t limit 50",
            {"t": as_of},
        ).df()["inquiry_id"]
    later = pd.DataFrame({"inquiry_id": ids, "as_of": as_of + dt.timedelta(days=2)})
    appended = Path(shutil.copy(synthetic_warehouse, tmp_path / "appended.duckdb"))
    with duckdb.connect(str(appended)) as connection:
        _append_later_events(connection, as_of)

    before, after = _facts(synthetic_warehouse, later), _facts(appended, later)

    assert (after["buyer_prior_orders"] > before["buyer_prior_orders"]).all()
    assert (after["customization_feasible"] == False).all()  # noqa: E712
    assert (after["latest_quote_unit_price"] == 1.0).all()


def test_training_moments_stop_before_the_outcome_is_known(synthetic_warehouse: Path):
    with duckdb.connect(str(synthetic_warehouse), read_only=True) as connection:
        ids = connection.execute("select inquiry_id from fct_inquiries").df()["inquiry_id"]
        moments = training_moments(connection, ids)
        ends = connection.execute(
            "select inquiry_id, min(t) as ended_at from ("
            "select inquiry_id, closed_at as t from stg_sales__inquiry_closures union all "
            "select inquiry_id, placed_at from stg_sales__orders) group by inquiry_id"
        ).df()

    joined = moments.merge(ends, on="inquiry_id")

    later = joined[joined["moment"] != "submitted"]
    assert len(later) > 0
    assert (later["as_of"] < later["ended_at"]).all()
    assert set(moments["moment"]) >= {"submitted", "assigned", "contacted", "quoted", "day_2"}


def test_an_outcome_dated_at_or_before_submission_keeps_the_submission_moment(
    synthetic_warehouse: Path, tmp_path: Path
):
    # a date-only export: the deal is won on the day of the first contact, both at 00:00,
    # or dated a day before it; the lead was still scored on arrival, and only then
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(synthetic_warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        won = connection.execute(
            "select inquiry_id from stg_sales__orders where inquiry_id is not null limit 40"
        ).df()["inquiry_id"]
        listed = ", ".join(f"'{inquiry_id}'" for inquiry_id in won)
        connection.execute(
            "update stg_sales__orders as o"
            " set placed_at = i.submitted_at - (case when hash(o.inquiry_id) % 2 = 0"
            "     then interval 0 day else interval 1 day end)"
            f" from stg_web__inquiries as i where i.inquiry_id = o.inquiry_id"
            f" and o.inquiry_id in ({listed})"
        )
        moments = training_moments(connection, won)

    assert set(moments["inquiry_id"]) == set(won)
    assert (moments["moment"] == "submitted").all()
