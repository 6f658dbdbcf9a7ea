{#- One row per customer: a connected set of identifiers (int_customers_resolved) that
    includes something beyond web-visitor cookies, i.e. a buyer who inquired, ordered or
    gave contact details. Visitors who only browsed are not customers (yet).
    The value tier rule (documented in dim_customers.yml; the thresholds are vars with
    these defaults, so a team can move them with --vars without editing SQL):
      high     revenue >= value_tier_high_revenue (50,000) or orders >= 3
      medium   revenue >= value_tier_medium_revenue (10,000) or orders = 2
      low      at least one order, or a won inquiry (a deal recorded only as closed won)
      prospect nothing won yet
    lifecycle_stage follows what the log proves: a customer once an order was placed or an
    inquiry was won (orders, revenue and shipments are optional), a prospect before. -#}
{%- set high_revenue = var('value_tier_high_revenue', 50000) -%}
{%- set medium_revenue = var('value_tier_medium_revenue', 10000) -%}

with

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

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

shipment_events as (

    select * from {{ ref('stg_logistics__shipment_events') }}

),

lead_assignments as (

    select * from {{ ref('stg_sales__lead_assignments') }}

),

inquiry_facts as (

    select * from {{ ref('fct_inquiries') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

quotes as (

    select * from {{ ref('fct_quotes') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

identifiers_summarised as (

    select
        customer_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ count_where("identifier_type = 'anonymous_id'") }} as anonymous_ids,
        {{ count_where("identifier_type = 'email'") }} as emails,
        {{ count_where("identifier_type = 'phone'") }} as phones,
        {{ count_where("identifier_type = 'account_id'") }} as account_ids,
        count(*) as identifiers,
        {{ dbt.listagg('identifier', "', '", 'order by identifier') }} as identifier_list
    from customers
    group by customer_id
    having sum(case when identifier_type <> 'anonymous_id' then 1 else 0 end) > 0

),

-- the email, phone and account a customer used most (then most recently)
ranked_contact_identifiers as (

    select
        customer_id,
        identifier_type,
        identifier_value,
        row_number() over (
            partition by customer_id, identifier_type
            order by events desc, last_seen_at desc, identifier_value asc
        ) as usage_rank
    from customers
    where identifier_type in ('email', 'phone', 'account_id')

),

primary_contact_identifiers as (

    select
        customer_id,
        max(case when identifier_type = 'email' then identifier_value end) as primary_email,
        max(case when identifier_type = 'phone' then identifier_value end) as primary_phone,
        max(case when identifier_type = 'account_id' then identifier_value end) as account_id
    from ranked_contact_identifiers
    where usage_rank = 1
    group by customer_id

),

customer_inquiries as (

    select
        customers.customer_id,
        inquiries.inquiry_id,
        inquiries.submitted_at,
        inquiries.company,
        inquiries.country,
        inquiries.channel
    from inquiries
    inner join customers
        on
            customers.identifier_type = 'inquiry_id'
            and inquiries.inquiry_id = customers.identifier_value

),

customer_orders as (

    select
        customers.customer_id,
        orders.order_id,
        orders.placed_at,
        orders.company,
        orders.amount
    from orders
    inner join customers
        on
            customers.identifier_type = 'order_id'
            and orders.order_id = customers.identifier_value

),

-- the company as the customer wrote it, in inquiries and orders
companies_written as (

    select
        customer_id,
        company,
        submitted_at as written_at
    from customer_inquiries
    where not {{ is_junk_identifier('company', 'company') }}

    union all

    select
        customer_id,
        company,
        placed_at as written_at
    from customer_orders
    where not {{ is_junk_identifier('company', 'company') }}

),

-- the latest spelling wins
ranked_companies as (

    select
        customer_id,
        company,
        row_number() over (
            partition by customer_id
            order by written_at desc, company asc
        ) as company_recency
    from companies_written

),

latest_companies as (

    select
        customer_id,
        company
    from ranked_companies
    where company_recency = 1

),

ranked_countries as (

    select
        customer_id,
        country,
        row_number() over (
            partition by customer_id
            order by submitted_at desc, inquiry_id desc
        ) as country_recency
    from customer_inquiries

),

latest_countries as (

    select
        customer_id,
        country
    from ranked_countries
    where country_recency = 1

),

inquiries_summarised as (

    select
        customer_id,
        count(*) as inquiries,
        min(submitted_at) as first_inquiry_at,
        max(submitted_at) as last_inquiry_at
    from customer_inquiries
    group by customer_id

),

customer_channels as (

    select distinct
        customer_id,
        channel
    from customer_inquiries

),

channels_listed as (

    select
        customer_id,
        {{ dbt.listagg('channel', "', '", 'order by channel') }} as inquiry_channels
    from customer_channels
    group by customer_id

),

inquiry_outcomes_counted as (

    select
        customer_id,
        {{ count_where('is_open') }} as open_inquiries,
        -- won at any time, in the window or late: the buyer bought
        {{ count_where("state in ('won', 'won_late')") }} as won_inquiries
    from inquiry_facts
    group by customer_id

),

sessions_counted as (

    select
        customer_id,
        count(*) as sessions
    from sessions
    where customer_id is not null
    group by customer_id

),

quotes_counted as (

    select
        customer_id,
        count(*) as quotes
    from quotes
    where customer_id is not null
    group by customer_id

),

shipment_problems_counted as (

    select
        customer_id,
        {{ count_where('has_exception') }} as shipments_with_exception
    from shipments
    where customer_id is not null
    group by customer_id

),

-- who holds the customer now: the latest assignment of their latest assigned inquiry
ranked_assignments as (

    select
        customer_inquiries.customer_id,
        lead_assignments.assignee_type,
        lead_assignments.rep_id,
        lead_assignments.distributor_id,
        row_number() over (
            partition by customer_inquiries.customer_id
            order by
                customer_inquiries.submitted_at desc,
                customer_inquiries.inquiry_id desc,
                lead_assignments.assigned_at desc,
                lead_assignments.event_id desc
        ) as assignment_recency
    from customer_inquiries
    inner join lead_assignments
        on customer_inquiries.inquiry_id = lead_assignments.inquiry_id

),

owners as (

    select
        customer_id,
        case assignee_type
            when 'rep' then rep_id
            when 'distributor' then distributor_id
        end as owner_id,
        assignee_type as owner_type
    from ranked_assignments
    where assignment_recency = 1

),

orders_summarised as (

    select
        customer_id,
        count(*) as orders,
        sum(amount) as revenue,
        min(placed_at) as first_order_at,
        max(placed_at) as last_order_at
    from customer_orders
    group by customer_id

),

web_events as (

    select anonymous_id from page_views

    union all

    select anonymous_id from product_views

    union all

    select anonymous_id from searches

),

web_events_summarised as (

    select
        customers.customer_id,
        count(*) as web_events
    from web_events
    inner join customers
        on
            customers.identifier_type = 'anonymous_id'
            and web_events.anonymous_id = customers.identifier_value
    group by customers.customer_id

),

shipments_summarised as (

    select
        customers.customer_id,
        count(distinct shipment_events.shipment_id) as shipments,
        cast(sum(
            case when shipment_events.shipment_event_type = 'exception' then 1 else 0 end
        ) as {{ dbt.type_bigint() }}) as shipment_exceptions
    from shipment_events
    inner join customers
        on
            customers.identifier_type = 'shipment_id'
            and shipment_events.shipment_id = customers.identifier_value
    group by customers.customer_id

),

profiled as (

    select
        identifiers_summarised.customer_id,
        primary_contact_identifiers.primary_email,
        primary_contact_identifiers.primary_phone,
        latest_companies.company,
        primary_contact_identifiers.account_id,
        latest_countries.country,
        identifiers_summarised.first_seen_at,
        identifiers_summarised.last_seen_at,
        identifiers_summarised.anonymous_ids,
        coalesce(web_events_summarised.web_events, 0) as web_events,
        coalesce(inquiries_summarised.inquiries, 0) as inquiries,
        coalesce(orders_summarised.orders, 0) as orders,
        coalesce(orders_summarised.revenue, 0) as revenue,
        coalesce(shipments_summarised.shipments, 0) as shipments,
        coalesce(shipments_summarised.shipment_exceptions, 0) as shipment_exceptions,
        identifiers_summarised.emails,
        identifiers_summarised.phones,
        inquiries_summarised.first_inquiry_at,
        orders_summarised.first_order_at,
        orders_summarised.last_order_at,
        identifiers_summarised.account_ids,
        identifiers_summarised.identifiers,
        identifiers_summarised.identifier_list,
        inquiries_summarised.last_inquiry_at,
        channels_listed.inquiry_channels,
        coalesce(sessions_counted.sessions, 0) as sessions,
        coalesce(quotes_counted.quotes, 0) as quotes,
        coalesce(inquiry_outcomes_counted.open_inquiries, 0) as open_inquiries,
        coalesce(inquiry_outcomes_counted.won_inquiries, 0) as won_inquiries,
        coalesce(shipment_problems_counted.shipments_with_exception, 0) as shipments_with_exception,
        owners.owner_id,
        owners.owner_type
    from identifiers_summarised
    left join primary_contact_identifiers
        on identifiers_summarised.customer_id = primary_contact_identifiers.customer_id
    left join latest_companies
        on identifiers_summarised.customer_id = latest_companies.customer_id
    left join latest_countries
        on identifiers_summarised.customer_id = latest_countries.customer_id
    left join inquiries_summarised
        on identifiers_summarised.customer_id = inquiries_summarised.customer_id
    left join orders_summarised
        on identifiers_summarised.customer_id = orders_summarised.customer_id
    left join web_events_summarised
        on identifiers_summarised.customer_id = web_events_summarised.customer_id
    left join shipments_summarised
        on identifiers_summarised.customer_id = shipments_summarised.customer_id
    left join channels_listed
        on identifiers_summarised.customer_id = channels_listed.customer_id
    left join sessions_counted
        on identifiers_summarised.customer_id = sessions_counted.customer_id
    left join quotes_counted
        on identifiers_summarised.customer_id = quotes_counted.customer_id
    left join inquiry_outcomes_counted
        on identifiers_summarised.customer_id = inquiry_outcomes_counted.customer_id
    left join shipment_problems_counted
        on identifiers_summarised.customer_id = shipment_problems_counted.customer_id
    left join owners
        on identifiers_summarised.customer_id = owners.customer_id

),

final as (

    select
        customer_id,
        primary_email,
        primary_phone,
        company,
        account_id,
        country,
        first_seen_at,
        last_seen_at,
        anonymous_ids,
        web_events,
        inquiries,
        orders,
        revenue,
        shipments,
        shipment_exceptions,
        emails,
        phones,
        first_inquiry_at,
        first_order_at,
        last_order_at,
        account_ids,
        identifiers,
        identifier_list,
        last_inquiry_at,
        inquiry_channels,
        sessions,
        quotes,
        open_inquiries,
        {{ ratio('revenue', 'orders') }} as average_order_value,
        orders >= 2 as is_repeat_buyer,
        shipments_with_exception,
        {{ ratio('shipments_with_exception', 'shipments') }} as shipment_problem_rate,
        case
            when revenue >= {{ high_revenue }} or orders >= 3 then 'high'
            when revenue >= {{ medium_revenue }} or orders >= 2 then 'medium'
            when orders >= 1 or won_inquiries >= 1 then 'low'
            else 'prospect'
        end as value_tier,
        owner_id,
        owner_type,
        won_inquiries,
        case
            when orders >= 1 or won_inquiries >= 1 then 'customer'
            else 'prospect'
        end as lifecycle_stage
    from profiled

)

select * from final
