"""Point-in-time facts about inquiries: what the event log said at a scoring moment.

A scoring moment is an (inquiry, as_of) pair. Every fact is computed from events that
occurred strictly before `as_of`, so appending later events never changes it (the leakage
test in tests/models/test_moments.py). Training scores each labelled inquiry at the
moments a salesperson would have seen it: on submission, after routing, after each first
sales step (contact, quote, the factory's customisation answer) and at fixed checkpoints
while it stayed open. Batch scoring uses one moment per open inquiry: now.

The buyer's history is matched on the inquiry's own email, phone and account as written,
not through the identity graph: the graph is today's knowledge (a later event can join
two identities) and would leak it into the past.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import duckdb
import pandas as pd

from models.errors import WarehouseNotReadyError
from transforms import CONVERSION_WINDOW_DAYS

MOMENT_KINDS: tuple[str, ...] = (
    "submitted",
    "assigned",
    "contacted",
    "quoted",
    "customization_answered",
    "day_2",
    "day_7",
    "day_21",
)
HEADLINE_MOMENT = "assigned"
"""The moment the headline metrics are measured at: when a rep or distributor first sees the
inquiry in their queue (routing follows submission within the hour, typically)."""
CHECKPOINT_DAYS = {"day_2": 2, "day_7": 7, "day_21": 21}
LABEL_WINDOW_DAYS = CONVERSION_WINDOW_DAYS
AFTER_EVENT = "interval 1 second"
"""A step's moment is one second after it, so the step itself is known then."""

FACT_COLUMNS: tuple[str, ...] = (
    "inquiry_id",
    "as_of",
    "submitted_at",
    "channel",
    "campaign",
    "product_category",
    "sku",
    "country",
    "quantity",
    "target_unit_price",
    "list_unit_price",
    "needs_customization",
    "company",
    "email",
    "message",
    "prior_visit_days",
    "prior_page_views",
    "prior_product_views",
    "prior_searches",
    "buyer_prior_inquiries",
    "buyer_prior_orders",
    "buyer_prior_revenue",
    "buyer_shipment_problems",
    "assignee_type",
    "handler_id",
    "assigned_at",
    "first_contacted_at",
    "contact_count",
    "last_touch_at",
    "quote_count",
    "latest_quote_unit_price",
    "customization_feasible",
)
"""One row per scoring moment: the inquiry as submitted plus what had happened by as_of."""

_REQUIRED_TABLES = (
    "stg_web__inquiries",
    "stg_web__page_views",
    "stg_web__product_views",
    "stg_web__searches",
    "stg_sales__lead_assignments",
    "stg_sales__lead_contacts",
    "stg_sales__quotes",
    "stg_sales__customization_assessments",
    "stg_sales__inquiry_closures",
    "stg_sales__orders",
    "stg_logistics__shipment_events",
    "stg_logistics__returns",
)


def buyer_keys(
    source: str, columns: str, kinds: tuple[str, ...], *, among: str | None = None
) -> str:
    """One row per (row of `source`, identifier) it names the buyer by: key_type 'email'
    (trimmed, lower case), 'phone' (digits, at least 7) or 'account'. With `among`, only
    the identifiers that relation (key_type, key_value) holds: the rows that can match."""
    phone_digits = "regexp_replace(phone, '[^0-9]', '', 'g')"
    values = {"email": "lower(trim(email))", "phone": phone_digits, "account": "account_id"}
    conditions = {
        "email": "nullif(trim(email), '') is not null",
        "phone": f"length({phone_digits}) >= 7",
        "account": "account_id is not null",
    }
    selects = []
    for kind in kinds:
        condition = conditions[kind]
        if among is not None:
            condition = (
                f"{values[kind]} in (select key_value from {among} where key_type = '{kind}') "
                f"and {condition}"
            )
        selects.append(
            f"select {columns}, '{kind}' as key_type, {values[kind]} as key_value "
            f"from {source} where {condition}"
        )
    # each row's keys differ in key_type: union all keeps nothing twice that union would not
    return "\n    union all\n    ".join(selects)


EVERY_KEY = ("email", "phone", "account")

FACTS_TEMPLATE = f"""
with

moments as (
    select distinct inquiry_id, as_of from scoring_moments
),

inquiries as (
    select i.*, m.as_of
    from moments as m
    inner join {{stg_web__inquiries}} as i
        on i.inquiry_id = m.inquiry_id and i.submitted_at < m.as_of
),

-- the visitor's web activity before the inquiry was submitted
visitors as (
    select distinct anonymous_id from inquiries
),

web_events as (
    select anonymous_id, viewed_at as occurred_at, 1 as page_view, 0 as product_view, 0 as search
    from {{stg_web__page_views}} where anonymous_id in (select anonymous_id from visitors)
    union all
    select anonymous_id, viewed_at, 0, 1, 0
    from {{stg_web__product_views}} where anonymous_id in (select anonymous_id from visitors)
    union all
    select anonymous_id, searched_at, 0, 0, 1
    from {{stg_web__searches}} where anonymous_id in (select anonymous_id from visitors)
),

web as (
    select
        i.inquiry_id,
        i.as_of,
        count(distinct cast(w.occurred_at as date)) as prior_visit_days,
        sum(w.page_view) as prior_page_views,
        sum(w.product_view) as prior_product_views,
        sum(w.search) as prior_searches
    from inquiries as i
    inner join web_events as w
        on w.anonymous_id = i.anonymous_id and w.occurred_at < i.submitted_at
    group by all
),

-- the buyer, as the inquiry names them: its email, phone digits and account
inquiry_keys as (
    {buyer_keys("inquiries", "inquiry_id, as_of, submitted_at", EVERY_KEY)}
),

-- the orders and earlier inquiries that name one of those identifiers
order_keys as (
    {
    buyer_keys(
        "{stg_sales__orders}", "order_id, placed_at, amount", EVERY_KEY, among="inquiry_keys"
    )
}
),

earlier_inquiry_keys as (
    {
    buyer_keys(
        "{stg_web__inquiries}", "inquiry_id, submitted_at", ("email", "phone"), among="inquiry_keys"
    )
}
),

buyer_orders as (
    select distinct k.inquiry_id, k.as_of, o.order_id, o.placed_at, o.amount
    from inquiry_keys as k
    inner join order_keys as o
        on o.key_type = k.key_type and o.key_value = k.key_value and o.placed_at < k.as_of
),

order_problems as (
    select order_id, occurred_at as problem_at
    from {{stg_logistics__shipment_events}}
    where shipment_event_type = 'exception'
    union all
    select order_id, received_at from {{stg_logistics__returns}}
),

buyer_history as (
    select
        b.inquiry_id,
        b.as_of,
        count(distinct b.order_id) as buyer_prior_orders,
        sum(b.amount) as buyer_prior_revenue
    from (select distinct inquiry_id, as_of, order_id, amount from buyer_orders) as b
    group by all
),

buyer_problems as (
    select b.inquiry_id, b.as_of, count(*) as buyer_shipment_problems
    from buyer_orders as b
    inner join order_problems as p
        on p.order_id = b.order_id and p.problem_at < b.as_of
    group by all
),

buyer_inquiries as (
    select k.inquiry_id, k.as_of, count(distinct e.inquiry_id) as buyer_prior_inquiries
    from inquiry_keys as k
    inner join earlier_inquiry_keys as e
        on e.key_type = k.key_type and e.key_value = k.key_value
        and e.submitted_at < k.submitted_at
    group by all
),

assignments as (
    select
        m.inquiry_id,
        m.as_of,
        arg_min(a.assignee_type, a.assigned_at) as assignee_type,
        arg_min(coalesce(a.rep_id, a.distributor_id), a.assigned_at) as handler_id,
        min(a.assigned_at) as assigned_at
    from moments as m
    inner join {{stg_sales__lead_assignments}} as a
        on a.inquiry_id = m.inquiry_id and a.assigned_at < m.as_of
    group by all
),

contacts as (
    select
        m.inquiry_id,
        m.as_of,
        min(c.contacted_at) as first_contacted_at,
        max(c.contacted_at) as last_contacted_at,
        count(*) as contact_count
    from moments as m
    inner join {{stg_sales__lead_contacts}} as c
        on c.inquiry_id = m.inquiry_id and c.contacted_at < m.as_of
    group by all
),

quotes as (
    select
        m.inquiry_id,
        m.as_of,
        count(*) as quote_count,
        max(q.quoted_at) as last_quoted_at,
        arg_max(q.unit_price, q.quoted_at) as latest_quote_unit_price
    from moments as m
    inner join {{stg_sales__quotes}} as q
        on q.inquiry_id = m.inquiry_id and q.quoted_at < m.as_of
    group by all
),

assessments as (
    select
        m.inquiry_id,
        m.as_of,
        arg_max(s.is_feasible, s.assessed_at) as customization_feasible
    from moments as m
    inner join {{stg_sales__customization_assessments}} as s
        on s.inquiry_id = m.inquiry_id and s.assessed_at < m.as_of
    group by all
)

select
    i.inquiry_id,
    i.as_of,
    i.submitted_at,
    i.channel,
    i.campaign,
    i.product_category,
    i.sku,
    i.country,
    i.quantity,
    cast(i.target_unit_price as double) as target_unit_price,
    cast(i.list_unit_price as double) as list_unit_price,
    i.needs_customization,
    i.company,
    i.email,
    i.message,
    coalesce(web.prior_visit_days, 0) as prior_visit_days,
    coalesce(web.prior_page_views, 0) as prior_page_views,
    coalesce(web.prior_product_views, 0) as prior_product_views,
    coalesce(web.prior_searches, 0) as prior_searches,
    coalesce(buyer_inquiries.buyer_prior_inquiries, 0) as buyer_prior_inquiries,
    coalesce(buyer_history.buyer_prior_orders, 0) as buyer_prior_orders,
    coalesce(cast(buyer_history.buyer_prior_revenue as double), 0) as buyer_prior_revenue,
    coalesce(buyer_problems.buyer_shipment_problems, 0) as buyer_shipment_problems,
    assignments.assignee_type,
    assignments.handler_id,
    assignments.assigned_at,
    contacts.first_contacted_at,
    coalesce(contacts.contact_count, 0) as contact_count,
    greatest(contacts.last_contacted_at, quotes.last_quoted_at) as last_touch_at,
    coalesce(quotes.quote_count, 0) as quote_count,
    cast(quotes.latest_quote_unit_price as double) as latest_quote_unit_price,
    assessments.customization_feasible
from inquiries as i
left join web using (inquiry_id, as_of)
left join buyer_inquiries using (inquiry_id, as_of)
left join buyer_history using (inquiry_id, as_of)
left join buyer_problems using (inquiry_id, as_of)
left join assignments using (inquiry_id, as_of)
left join contacts using (inquiry_id, as_of)
left join quotes using (inquiry_id, as_of)
left join assessments using (inquiry_id, as_of)
order by i.as_of, i.inquiry_id
"""
"""FACTS_SQL with each table it reads as a placeholder ({stg_web__inquiries}, ...)."""

FACTS_RELATIONS: tuple[str, ...] = tuple(
    name for name in _REQUIRED_TABLES if "{" + name + "}" in FACTS_TEMPLATE
)
"""The tables the facts read: facts_at can read each from a relation of the caller's."""
FACTS_SQL = FACTS_TEMPLATE.format(**{name: name for name in FACTS_RELATIONS})


TRAINING_MOMENTS_SQL = f"""
with

inquiries as (
    select inquiry_id, min(submitted_at) as submitted_at
    from stg_web__inquiries group by inquiry_id
),

-- when the outcome became known: no moment may come at or after it
ends as (
    select inquiry_id, min(ended_at) as ended_at from (
        select inquiry_id, closed_at as ended_at from stg_sales__inquiry_closures
        union all
        select inquiry_id, placed_at from stg_sales__orders where inquiry_id is not null
    ) group by inquiry_id
),

steps as (
    select inquiry_id, 'submitted' as moment, submitted_at as happened_at from inquiries
    union all
    select inquiry_id, 'assigned', min(assigned_at)
    from stg_sales__lead_assignments group by inquiry_id
    union all
    select inquiry_id, 'contacted', min(contacted_at)
    from stg_sales__lead_contacts group by inquiry_id
    union all
    select inquiry_id, 'quoted', min(quoted_at) from stg_sales__quotes group by inquiry_id
    union all
    select inquiry_id, 'customization_answered', min(assessed_at)
    from stg_sales__customization_assessments group by inquiry_id
),

step_moments as (
    select steps.inquiry_id, steps.moment, steps.happened_at + {AFTER_EVENT} as as_of
    from steps
    inner join inquiries using (inquiry_id)
    where steps.happened_at >= inquiries.submitted_at
),

checkpoints as (
    select inquiry_id, moment, submitted_at + to_days(days) as as_of
    from inquiries
    cross join (values {", ".join(f"('{k}', {d})" for k, d in CHECKPOINT_DAYS.items())})
        as checkpoint (moment, days)
),

candidates as (
    select * from step_moments
    union all
    select * from checkpoints
)

select c.inquiry_id, c.moment, c.as_of
from candidates as c
inner join inquiries as i using (inquiry_id)
left join ends as e using (inquiry_id)
where c.inquiry_id in (select inquiry_id from labelled_inquiries)
    -- every inquiry was scored on arrival, even one whose outcome is dated at (or, in a
    -- date-only export, before) its submission: it is converted at submission
    and (c.moment = 'submitted' or c.as_of < coalesce(e.ended_at, c.as_of + interval 1 day))
    and c.as_of < date_trunc('day', i.submitted_at) + to_days({LABEL_WINDOW_DAYS + 1})
order by c.as_of, c.inquiry_id, c.moment
"""


def training_moments(
    connection: duckdb.DuckDBPyConnection, labelled_ids: pd.Series
) -> pd.DataFrame:
    """The scoring moments (inquiry_id, moment, as_of) of labelled inquiries while they were
    open: the steps of MOMENT_KINDS that happened before the outcome was known, and always
    the submission (an outcome dated at or before it does not take it away)."""
    _require_tables(connection)
    labelled = pd.DataFrame({"inquiry_id": labelled_ids.astype(str).to_numpy()})
    with registered(connection, "labelled_inquiries", labelled):
        moments = connection.execute(TRAINING_MOMENTS_SQL).df()
    # an assignment routed within the second of the submission is still one moment each
    return moments.drop_duplicates(["inquiry_id", "moment"]).reset_index(drop=True)


def facts_at(
    connection: duckdb.DuckDBPyConnection,
    moments: pd.DataFrame,
    *,
    relations: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """FACT_COLUMNS for each (inquiry_id, as_of) of `moments`, from events before as_of.

    Moments before their inquiry's submission have no row. Extra columns of `moments`
    (e.g. `moment`) are kept. `relations` reads some of FACTS_RELATIONS from other
    relations (the live scorer's few rows that can matter); each must hold every row of
    the table that can match the moments, or facts are missed.
    """
    _require_tables(connection)
    sql = FACTS_SQL
    if relations:
        unknown = sorted(set(relations) - set(FACTS_RELATIONS))
        if unknown:
            raise ValueError(f"facts read no table named {', '.join(unknown)}")
        sql = FACTS_TEMPLATE.format(**{name: relations.get(name, name) for name in FACTS_RELATIONS})
    keys = pd.DataFrame(
        {
            "inquiry_id": moments["inquiry_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(moments["as_of"]).to_numpy(dtype="datetime64[us]"),
        }
    )
    with registered(connection, "scoring_moments", keys):
        facts = connection.execute(sql).df()
    extra = [name for name in moments.columns if name not in ("inquiry_id", "as_of")]
    if extra:
        labels = moments[["inquiry_id", "as_of", *extra]].copy()
        labels["as_of"] = pd.to_datetime(labels["as_of"]).astype("datetime64[us]")
        facts = facts.merge(labels, on=["inquiry_id", "as_of"], how="left")
    return facts


def _require_tables(connection: duckdb.DuckDBPyConnection) -> None:
    present = {
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }
    missing = [name for name in _REQUIRED_TABLES if name not in present]
    if missing:
        raise WarehouseNotReadyError(
            f"the warehouse lacks {', '.join(missing)}; build it with `leadflow transform` "
            "(dbt) before training or scoring"
        )


@contextlib.contextmanager
def registered(
    connection: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame
) -> Iterator[None]:
    """`frame` readable as the view `name` on `connection` for the duration of a `with`."""
    connection.register(name, frame)
    try:
        yield
    finally:
        connection.unregister(name)
