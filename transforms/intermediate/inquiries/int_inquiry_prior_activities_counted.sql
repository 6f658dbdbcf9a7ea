{#- What each inquirer did before submitting: web events of the same visitor, and orders
    of the same (resolved) customer, strictly before submitted_at, so that nothing after
    the submission can leak into a feature.
    Incremental (macros/incremental.sql): a run recounts the web events of the inquiries
    that landed since the last run and of those whose visitor has a web event landed since
    (a late page view counts for an inquiry that got no event of its own). Prior orders it
    counts for every inquiry: they follow the identity graph, which any event can change,
    and orders are few; an inquiry whose count moved is rebuilt. -#}
{{ config(materialized='incremental', unique_key='inquiry_id') }}

{%- set lower_bound = incremental_lower_bound('last_ingested_at') %}

with

all_inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

page_views as (

    select * from {{ ref('stg_web__page_views') }}

),

product_views as (

    select * from {{ ref('stg_web__product_views') }}

),

searches as (

    select * from {{ ref('stg_web__searches') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

inquiry_customers as (

    select
        all_inquiries.inquiry_id,
        all_inquiries.submitted_at,
        customers.customer_id
    from all_inquiries
    inner join customers
        on
            customers.identifier_type = 'inquiry_id'
            and all_inquiries.inquiry_id = customers.identifier_value

),

order_customers as (

    select
        orders.order_id,
        orders.placed_at,
        customers.customer_id
    from orders
    inner join customers
        on
            customers.identifier_type = 'order_id'
            and orders.order_id = customers.identifier_value

),

prior_orders as (

    select
        inquiry_customers.inquiry_id,
        count(*) as customer_prior_orders
    from inquiry_customers
    inner join order_customers
        on
            inquiry_customers.customer_id = order_customers.customer_id
            and inquiry_customers.submitted_at > order_customers.placed_at
    group by inquiry_customers.inquiry_id

),

all_prior_orders as (

    select
        all_inquiries.inquiry_id,
        coalesce(prior_orders.customer_prior_orders, 0) as customer_prior_orders
    from all_inquiries
    left join prior_orders
        on all_inquiries.inquiry_id = prior_orders.inquiry_id

),

{% if is_incremental() -%}
previous_activities as (

    select * from {{ this }}

),

landed_visitors as (

    {{ keys_landed_since(
        'anonymous_id',
        [ref('stg_web__page_views'), ref('stg_web__product_views'), ref('stg_web__searches')],
        lower_bound
    ) }}

),

-- the identity graph moved an order into or out of the inquirer's customer
recounted_prior_orders as (

    select
        inquiry_id,
        customer_prior_orders
    from all_prior_orders

    except

    select
        inquiry_id,
        customer_prior_orders
    from previous_activities

),

inquiries_to_build as (

    select inquiry_id from all_inquiries
    where {{ landed_since(lower_bound) }}

    union

    select inquiry_id from all_inquiries
    where anonymous_id in (select anonymous_id from landed_visitors)

    union

    select inquiry_id from recounted_prior_orders

),

{% endif -%}

inquiries as (

    select * from all_inquiries
    {{ restricted_to_keys('inquiry_id', 'inquiries_to_build') }}

),

web_events as (

    select
        anonymous_id,
        'page_view' as web_event_type,
        viewed_at as occurred_at,
        ingested_at
    from page_views

    union all

    select
        anonymous_id,
        'product_view' as web_event_type,
        viewed_at as occurred_at,
        ingested_at
    from product_views

    union all

    select
        anonymous_id,
        'search' as web_event_type,
        searched_at as occurred_at,
        ingested_at
    from searches

),

-- every web event of the inquirer's visitor: those before the submission are counted,
-- and the newest landing of any of them is where the next incremental run resumes
visitor_events_summarised as (

    select
        inquiries.inquiry_id,
        count(
            case
                when
                    web_events.web_event_type = 'page_view'
                    and web_events.occurred_at < inquiries.submitted_at
                    then 1
            end
        ) as prior_page_views,
        count(
            case
                when
                    web_events.web_event_type = 'product_view'
                    and web_events.occurred_at < inquiries.submitted_at
                    then 1
            end
        ) as prior_product_views,
        count(
            case
                when
                    web_events.web_event_type = 'search'
                    and web_events.occurred_at < inquiries.submitted_at
                    then 1
            end
        ) as prior_searches,
        max(web_events.ingested_at) as last_ingested_at
    from inquiries
    inner join web_events
        on inquiries.anonymous_id = web_events.anonymous_id
    group by inquiries.inquiry_id

),

final as (

    select
        inquiries.inquiry_id,
        coalesce(visitor_events_summarised.prior_page_views, 0) as prior_page_views,
        coalesce(visitor_events_summarised.prior_product_views, 0) as prior_product_views,
        coalesce(visitor_events_summarised.prior_searches, 0) as prior_searches,
        all_prior_orders.customer_prior_orders,
        case
            when visitor_events_summarised.last_ingested_at > inquiries.ingested_at
                then visitor_events_summarised.last_ingested_at
            else inquiries.ingested_at
        end as last_ingested_at
    from inquiries
    left join visitor_events_summarised
        on inquiries.inquiry_id = visitor_events_summarised.inquiry_id
    left join all_prior_orders
        on inquiries.inquiry_id = all_prior_orders.inquiry_id

)

select * from final
