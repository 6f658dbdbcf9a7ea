"""A lead's customer 360, read from the published marts: the lead's score history and notes,
its customer's every event across web, sales and logistics on one timeline, and the link
audit (why the identity graph joined its records). The lead page and
`GET /v1/leads/{id}/customer` show the same."""

from __future__ import annotations

from typing import Any

import duckdb

LINKS_SHOWN = 100
"""The lead page lists at most this many of its customer's identity links (oldest first)."""


def customer_view(cursor: duckdb.DuckDBPyConnection, inquiry_id: str) -> dict[str, Any]:
    """The lead's score history and its customer's 360 from the published marts (empty
    parts when the marts do not hold them yet: a lead newer than the last build)."""
    view: dict[str, Any] = {
        "history": [],
        "timeline": [],
        "customer": None,
        "notes": [],
        "links": [],
    }

    def rows(sql: str, *parameters: Any) -> list[dict[str, Any]]:
        try:
            relation = cursor.execute(sql, list(parameters))
        except duckdb.CatalogException:  # not published yet (no build since the start)
            return []
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]

    view["history"] = rows(
        "select scored_at, as_of, score, tier from lead_score_history "
        "where inquiry_id = ? order by scored_at desc limit 20",
        inquiry_id,
    )
    view["notes"] = rows(
        "select noted_at, rep_id, distributor_id, note from stg_sales__notes "
        "where inquiry_id = ? order by noted_at desc limit 50",
        inquiry_id,
    )
    found = rows("select customer_id from fct_inquiries where inquiry_id = ?", inquiry_id)
    if not found or found[0]["customer_id"] is None:
        return view
    customer_id = found[0]["customer_id"]
    customer = rows("select * from dim_customers where customer_id = ?", customer_id)
    view["customer"] = customer[0] if customer else None
    # the link audit: why the identity graph put these records together
    view["links"] = rows(
        "select from_identifier, from_identifier_type, to_identifier, to_identifier_type, "
        "link_kind, link_rule, match_probability, "
        "first_event_id, first_event_type, first_linked_at, linking_events "
        "from fct_identity_links where customer_id = ? "
        f"order by first_linked_at, identity_link_id limit {LINKS_SHOWN}",
        customer_id,
    )
    # each item's detail in words (the JSON's `detail`) and in its parts, for a page to say
    # them in its own language
    view["timeline"] = rows(
        """
        select * from (
            select submitted_at as happened_at, 'web' as source, 'inquiry' as kind,
                   inquiry_id as ref, coalesce(product_category, '') || ' × ' ||
                   coalesce(cast(quantity as varchar), '?') || ' · ' || channel as detail,
                   product_category, quantity, channel, null::double as amount,
                   null::varchar as currency, null::varchar as carrier,
                   null::boolean as has_exception, null::bigint as page_views
            from fct_inquiries where customer_id = $1
            union all by name
            select quoted_at as happened_at, 'sales' as source, 'quote' as kind,
                   inquiry_id as ref,
                   printf('%.2f', unit_price) || ' ' || coalesce(currency, '') as detail,
                   unit_price as amount, currency
            from fct_quotes where customer_id = $1
            union all by name
            select placed_at as happened_at, 'sales' as source, 'order' as kind,
                   order_id as ref,
                   printf('%.2f', amount) || ' ' || coalesce(currency, '') as detail,
                   amount, currency
            from fct_orders where customer_id = $1
            union all by name
            select created_at as happened_at, 'logistics' as source, 'shipment' as kind,
                   shipment_id as ref,
                   carrier || case when has_exception then ' · exception' else '' end
                       as detail,
                   carrier, has_exception
            from fct_shipments where customer_id = $1
            union all by name
            select started_at as happened_at, 'web' as source, 'session' as kind,
                   session_id as ref, cast(page_views as varchar) || ' page views' as detail,
                   page_views
            from fct_sessions where customer_id = $1
        )
        order by happened_at desc
        limit 100
        """,
        customer_id,
    )
    return view
