{#- One row per web session: a visitor's (anonymous_id's) page views, product views and
    searches, cut where more than 30 minutes pass without an event (an event exactly 30
    minutes after the previous one continues the session). A session is named by its
    visitor and first event, so a rebuild from the same events gives the same ids. -#}
{%- set session_gap_minutes = 30 -%}

with

page_views as (

    select * from {{ ref('stg_web__page_views') }}

),

product_views as (

    select * from {{ ref('stg_web__product_views') }}

),

searches as (

    select * from {{ ref('stg_web__searches') }}

),

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

web_events as (

    select
        event_id,
        anonymous_id,
        viewed_at as occurred_at,
        'page_viewed' as event_type,
        url,
        page_type,
        utm_source,
        utm_campaign,
        device
    from page_views
    where anonymous_id is not null

    union all

    select
        event_id,
        anonymous_id,
        viewed_at as occurred_at,
        'product_viewed' as event_type,
        url,
        'product' as page_type,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        cast(null as {{ dbt.type_string() }}) as device
    from product_views
    where anonymous_id is not null

    union all

    select
        event_id,
        anonymous_id,
        searched_at as occurred_at,
        'search_performed' as event_type,
        cast(null as {{ dbt.type_string() }}) as url,
        cast(null as {{ dbt.type_string() }}) as page_type,
        cast(null as {{ dbt.type_string() }}) as utm_source,
        cast(null as {{ dbt.type_string() }}) as utm_campaign,
        cast(null as {{ dbt.type_string() }}) as device
    from searches
    where anonymous_id is not null

),

gaps_measured as (

    select
        *,
        utm_source is not null or utm_campaign is not null as has_campaign_tags,
        lag(occurred_at) over (
            partition by anonymous_id
            order by occurred_at, event_id
        ) as previous_event_at
    from web_events

),

boundaries_marked as (

    select
        *,
        coalesce(
            occurred_at > {{ dbt.dateadd('minute', session_gap_minutes, 'previous_event_at') }},
            true
        ) as is_session_start
    from gaps_measured

),

sessions_numbered as (

    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by anonymous_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from boundaries_marked

),

events_ranked as (

    select
        *,
        row_number() over (
            partition by anonymous_id, session_number
            order by occurred_at, event_id
        ) as event_rank,
        -- the first event with a url, with campaign tags and with a device: each ranks 1
        -- among the session's events that have one
        row_number() over (
            partition by anonymous_id, session_number, url is not null
            order by occurred_at, event_id
        ) as url_rank,
        row_number() over (
            partition by anonymous_id, session_number, has_campaign_tags
            order by occurred_at, event_id
        ) as tagged_rank,
        row_number() over (
            partition by anonymous_id, session_number, device is not null
            order by occurred_at, event_id
        ) as device_rank
    from sessions_numbered

),

sessions_summarised as (

    select
        anonymous_id,
        session_number,
        max(case when event_rank = 1 then event_id end) as first_event_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as events,
        {{ count_where("event_type = 'page_viewed'") }} as page_views,
        {{ count_where("event_type = 'product_viewed'") }} as product_views,
        {{ count_where("event_type = 'search_performed'") }} as searches,
        max(case when url is not null and url_rank = 1 then url end) as landing_page_url,
        max(case when url is not null and url_rank = 1 then page_type end) as landing_page_type,
        max(case when has_campaign_tags and tagged_rank = 1 then utm_source end) as utm_source,
        max(case when has_campaign_tags and tagged_rank = 1 then utm_campaign end) as utm_campaign,
        max(case when device is not null and device_rank = 1 then device end) as device
    from events_ranked
    group by
        anonymous_id,
        session_number

),

-- a visitor is a customer once their cookie is tied to more than cookies (dim_customers)
known_customers as (

    select customer_id
    from customers
    group by customer_id
    having sum(case when identifier_type <> 'anonymous_id' then 1 else 0 end) > 0

),

visitor_customers as (

    select
        customers.identifier_value as anonymous_id,
        customers.customer_id
    from customers
    inner join known_customers
        on customers.customer_id = known_customers.customer_id
    where customers.identifier_type = 'anonymous_id'

),

-- inquiries the visitor submitted during the session or up to 30 minutes after it
session_inquiries as (

    select
        sessions_summarised.anonymous_id,
        sessions_summarised.session_number,
        inquiries.inquiry_id,
        row_number() over (
            partition by sessions_summarised.anonymous_id, sessions_summarised.session_number
            order by inquiries.submitted_at, inquiries.inquiry_id
        ) as inquiry_rank,
        count(*) over (
            partition by sessions_summarised.anonymous_id, sessions_summarised.session_number
        ) as inquiries
    from sessions_summarised
    inner join inquiries
        on
            sessions_summarised.anonymous_id = inquiries.anonymous_id
            and sessions_summarised.started_at <= inquiries.submitted_at
            and inquiries.submitted_at
            <= {{ dbt.dateadd('minute', session_gap_minutes, 'sessions_summarised.ended_at') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            'sessions_summarised.anonymous_id', "'|'", 'sessions_summarised.first_event_id',
        ])) }} as session_id,
        sessions_summarised.anonymous_id,
        visitor_customers.customer_id,
        sessions_summarised.session_number,
        sessions_summarised.first_event_id,
        sessions_summarised.started_at,
        sessions_summarised.ended_at,
        {{ dbt.datediff(
            'sessions_summarised.started_at', 'sessions_summarised.ended_at', 'second'
        ) }} as duration_seconds,
        sessions_summarised.events,
        sessions_summarised.page_views,
        sessions_summarised.product_views,
        sessions_summarised.searches,
        sessions_summarised.landing_page_url,
        sessions_summarised.landing_page_type,
        sessions_summarised.utm_source,
        sessions_summarised.utm_campaign,
        sessions_summarised.device,
        session_inquiries.inquiry_id is not null as has_inquiry,
        session_inquiries.inquiry_id,
        coalesce(session_inquiries.inquiries, 0) as inquiries
    from sessions_summarised
    left join visitor_customers
        on sessions_summarised.anonymous_id = visitor_customers.anonymous_id
    left join session_inquiries
        on
            sessions_summarised.anonymous_id = session_inquiries.anonymous_id
            and sessions_summarised.session_number = session_inquiries.session_number
            and session_inquiries.inquiry_rank = 1

)

select * from final
