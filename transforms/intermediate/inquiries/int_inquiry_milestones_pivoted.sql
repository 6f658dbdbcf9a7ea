{#- One row per inquiry with the milestones of its sales timeline side by side. Firsts
    for what the buyer experienced (assignment, contact, quote, order); the latest
    customization answer and closure for where the inquiry stands now.
    Incremental: a run rebuilds, from all of their events, the inquiries with an event
    landed since the last run (macros/incremental.sql), and those an order was moved away
    from (a late copy of an order_placed, dated earlier, linking another inquiry). -#}
{{ config(materialized='incremental', unique_key='inquiry_id') }}

{%- set lower_bound = incremental_lower_bound('last_ingested_at') %}
{%- set inquiry_events = [
    ref('stg_web__inquiries'),
    ref('stg_sales__lead_assignments'),
    ref('stg_sales__lead_contacts'),
    ref('stg_sales__quotes'),
    ref('stg_sales__customization_assessments'),
    ref('stg_sales__inquiry_closures'),
    ref('stg_sales__orders'),
] %}

with

{% if is_incremental() -%}
all_orders as (

    select * from {{ ref('stg_sales__orders') }}

),

previous_milestones as (

    select * from {{ this }}

),

-- an inquiry can lose a linked order without an event of its own: when a late, earlier
-- copy of the order's order_placed (kept from now on) links another inquiry
order_links as (

    select
        inquiry_id,
        count(*) as linked_orders
    from all_orders
    where inquiry_id is not null
    group by inquiry_id

),

unlinked_inquiries as (

    select
        inquiry_id,
        linked_orders
    from previous_milestones
    where linked_orders > 0

    except

    select
        inquiry_id,
        linked_orders
    from order_links

),

inquiries_to_build as (

    {{ keys_landed_since('inquiry_id', inquiry_events, lower_bound) }}

    union

    select inquiry_id from unlinked_inquiries

),

{% endif -%}

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

lead_assignments as (

    select * from {{ ref('stg_sales__lead_assignments') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

lead_contacts as (

    select * from {{ ref('stg_sales__lead_contacts') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

quotes as (

    select * from {{ ref('stg_sales__quotes') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

customization_assessments as (

    select * from {{ ref('stg_sales__customization_assessments') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

inquiry_closures as (

    select * from {{ ref('stg_sales__inquiry_closures') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

-- when the newest event of each inquiry landed: where the next incremental run resumes
inquiry_landings as (

    select
        inquiry_id,
        ingested_at
    from inquiries
    union all
    select
        inquiry_id,
        ingested_at
    from lead_assignments
    union all
    select
        inquiry_id,
        ingested_at
    from lead_contacts
    union all
    select
        inquiry_id,
        ingested_at
    from quotes
    union all
    select
        inquiry_id,
        ingested_at
    from customization_assessments
    union all
    select
        inquiry_id,
        ingested_at
    from inquiry_closures
    union all
    select
        inquiry_id,
        ingested_at
    from orders

),

landings_summarised as (

    select
        inquiry_id,
        max(ingested_at) as last_ingested_at
    from inquiry_landings
    group by inquiry_id

),

ranked_assignments as (

    select
        *,
        row_number() over (
            partition by inquiry_id
            order by assigned_at, event_id
        ) as assignment_rank
    from lead_assignments

),

first_assignments as (

    select
        inquiry_id,
        assignee_type,
        rep_id,
        distributor_id,
        assigned_at
    from ranked_assignments
    where assignment_rank = 1

),

contacts_summarised as (

    select
        inquiry_id,
        min(contacted_at) as first_contacted_at,
        count(*) as contact_count
    from lead_contacts
    group by inquiry_id

),

ranked_quotes as (

    select
        *,
        row_number() over (
            partition by inquiry_id
            order by quoted_at, event_id
        ) as quote_rank,
        count(*) over (partition by inquiry_id) as quote_count
    from quotes

),

first_quotes as (

    select
        inquiry_id,
        quoted_at,
        unit_price as quote_unit_price,
        list_price as quote_list_price,
        currency as quote_currency,
        quote_count
    from ranked_quotes
    where quote_rank = 1

),

ranked_assessments as (

    select
        *,
        row_number() over (
            partition by inquiry_id
            order by assessed_at desc, ingested_at desc, event_id desc
        ) as assessment_recency
    from customization_assessments

),

latest_assessments as (

    select
        inquiry_id,
        assessed_at as customization_assessed_at,
        is_feasible as customization_feasible,
        lead_time_days as customization_lead_time_days
    from ranked_assessments
    where assessment_recency = 1

),

ranked_closures as (

    select
        *,
        row_number() over (
            partition by inquiry_id
            order by closed_at desc, ingested_at desc, event_id desc
        ) as closure_recency,
        min(case when outcome = 'won' then closed_at end) over (
            partition by inquiry_id
        ) as won_at
    from inquiry_closures

),

latest_closures as (

    select
        inquiry_id,
        closed_at,
        outcome,
        lost_reason,
        won_at
    from ranked_closures
    where closure_recency = 1

),

ranked_orders as (

    select
        *,
        row_number() over (
            partition by inquiry_id
            order by placed_at, order_id
        ) as order_rank,
        count(*) over (partition by inquiry_id) as linked_orders
    from orders
    where inquiry_id is not null

),

first_orders as (

    select
        inquiry_id,
        order_id as first_order_id,
        placed_at as first_order_at,
        amount as order_amount,
        currency as order_currency,
        linked_orders
    from ranked_orders
    where order_rank = 1

),

final as (

    select
        inquiries.inquiry_id,
        inquiries.submitted_at,
        first_assignments.assignee_type,
        first_assignments.rep_id,
        first_assignments.distributor_id,
        first_assignments.assigned_at,
        contacts_summarised.first_contacted_at,
        coalesce(contacts_summarised.contact_count, 0) as contact_count,
        first_quotes.quoted_at,
        first_quotes.quote_unit_price,
        first_quotes.quote_list_price,
        first_quotes.quote_currency,
        coalesce(first_quotes.quote_count, 0) as quote_count,
        latest_assessments.customization_assessed_at,
        latest_assessments.customization_feasible,
        latest_assessments.customization_lead_time_days,
        latest_closures.closed_at,
        latest_closures.outcome,
        latest_closures.lost_reason,
        latest_closures.won_at,
        first_orders.first_order_id,
        first_orders.first_order_at,
        first_orders.order_amount,
        first_orders.order_currency,
        coalesce(first_orders.linked_orders, 0) as linked_orders,
        landings_summarised.last_ingested_at
    from inquiries
    left join first_assignments
        on inquiries.inquiry_id = first_assignments.inquiry_id
    left join contacts_summarised
        on inquiries.inquiry_id = contacts_summarised.inquiry_id
    left join first_quotes
        on inquiries.inquiry_id = first_quotes.inquiry_id
    left join latest_assessments
        on inquiries.inquiry_id = latest_assessments.inquiry_id
    left join latest_closures
        on inquiries.inquiry_id = latest_closures.inquiry_id
    left join first_orders
        on inquiries.inquiry_id = first_orders.inquiry_id
    left join landings_summarised
        on inquiries.inquiry_id = landings_summarised.inquiry_id

)

select * from final
