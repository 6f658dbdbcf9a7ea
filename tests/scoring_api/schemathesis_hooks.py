"""Schemathesis hooks (SCHEMATHESIS_HOOKS) for tests/scoring_api/test_openapi_conformance.py.

Two rules of the API cannot be said in JSON Schema: an inquiry's submitted_at must lie in
the contract's window (2000-01-01 to a day from now; the field's description says so),
and an ad-hoc query must be one SELECT over the published marts (the box's check, which
tests/scoring_api/test_sql_check.py tries on any text). A positive case, which the document
says must be accepted, gets a submitted_at inside the window when schemathesis drew one
outside, and a query the box runs instead of the text drawn; negative cases are left as
drawn.
"""

from __future__ import annotations

import datetime as dt

import schemathesis
from schemathesis.core.parameters import ParameterLocation

from ingestion.contracts import DEFAULT_RULES

QUERIES = (
    "select count(*) as inquiries from fct_inquiries",
    "select channel, count(*) as inquiries from fct_inquiries group by channel order by 2 desc",
    "select 1 as one",
)


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """A positive case's submitted_at, moved into the window when it is outside; a positive
    case's query, one the box runs."""
    body = case.body
    if (
        case.meta is None
        or case.meta.is_negative_at(ParameterLocation.BODY)
        or not isinstance(body, dict)
    ):
        return case
    if isinstance(body.get("sql"), str):
        body["sql"] = QUERIES[len(body["sql"]) % len(QUERIES)]
        case.meta.mark_dirty(ParameterLocation.BODY)
        return case
    if not isinstance(body.get("submitted_at"), str):
        return case
    try:
        moment = dt.datetime.fromisoformat(body["submitted_at"])
    except ValueError:
        return case
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    window = DEFAULT_RULES.window()
    if not window.earliest <= moment <= window.latest:
        body["submitted_at"] = dt.datetime.now(dt.UTC).isoformat()
        case.meta.mark_dirty(ParameterLocation.BODY)
    return case
