"""A follow-up deadline is decided in three places: the queue's filter (OVERDUE, in SQL),
a page's rows (with_deadline, in Python) and the breach gauge (observe_queue, in Arrow).
They must agree on every lead, including at the deadline's very second and for fractional
hours (LEADFLOW_FOLLOW_UP_HOURS takes `A=1.5`)."""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.metrics import OVERDUE_LEADS, observe_queue
from scoring_api.routes.leads import OVERDUE, deadline_parameters, with_deadline

NOW = dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC)
EXAMPLES = int(os.environ.get("LEADFLOW_TEST_EXAMPLES", "150"))

hours = st.fixed_dictionaries(
    {},
    optional={
        tier: st.one_of(
            st.sampled_from([2.0, 8.0, 24.0, 0.5, 1.5]),
            st.floats(min_value=0.001, max_value=200, allow_nan=False),
        )
        for tier in "ABCD"
    },
)


@st.composite
def queues(draw):  # type: ignore[no-untyped-def]
    chosen = draw(hours)
    naive_now = NOW.replace(tzinfo=None)
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        tier = draw(st.sampled_from("ABCD"))
        if tier in chosen and draw(st.booleans()):  # at the deadline, to the second and near it
            due = dt.timedelta(seconds=round(3600 * chosen[tier]))
            age = due + dt.timedelta(seconds=draw(st.sampled_from([-1, 0, 1])))
        else:
            age = dt.timedelta(seconds=draw(st.integers(0, 400 * 3600)))
        contacted = draw(st.booleans())
        rows.append(
            {
                "n": len(rows),
                "tier": tier,
                "submitted_at": naive_now - age,
                "first_contacted_at": naive_now if contacted else None,
            }
        )
    return chosen, rows


@settings(
    max_examples=EXAMPLES, deadline=None, derandomize="LEADFLOW_TEST_EXAMPLES" not in os.environ
)
@given(queues())
def test_the_queue_filter_a_page_and_the_breach_gauge_agree_on_every_deadline(queue):
    chosen, rows = queue
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("n", pa.int64()),
                ("tier", pa.string()),
                ("submitted_at", pa.timestamp("us")),
                ("first_contacted_at", pa.timestamp("us")),
            ]
        ),
    )
    connection = duckdb.connect()
    connection.register("queue", table)
    parameters = deadline_parameters(chosen, NOW)
    in_sql = [
        row[0]
        for row in connection.execute(
            f"select {OVERDUE} from queue order by n", parameters
        ).fetchall()
    ]
    in_python = [with_deadline(dict(row), chosen, parameters["now"])["overdue"] for row in rows]

    assert in_sql == in_python, (chosen, rows)
    observe_queue(table.append_column("owner_type", pa.array([None] * len(rows), pa.string())),
                  chosen, NOW)  # fmt: skip
    for tier in "ABCD":
        expected = sum(
            late for late, row in zip(in_python, rows, strict=True) if row["tier"] == tier
        )
        assert OVERDUE_LEADS.labels(tier)._value.get() == expected, (tier, chosen, rows)
