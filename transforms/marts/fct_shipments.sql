{#- One row per shipment: where it left from and with whom, when it was created,
    dispatched and delivered against the promised date, what went wrong on the way and
    whether goods came back. -#}
with

shipment_events as (

    select * from {{ ref('stg_logistics__shipment_events') }}

),

returns as (

    select * from {{ ref('stg_logistics__returns') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

shipment_customers as (

    select
        identifier_value as shipment_id,
        customer_id
    from customers
    where identifier_type = 'shipment_id'

),

-- the WMS creates a shipment once; a second shipment_created keeps the first one's details
ranked_creations as (

    select
        *,
        row_number() over (
            partition by shipment_id
            order by occurred_at, event_id
        ) as creation_rank
    from shipment_events
    where shipment_event_type = 'created'

),

creations as (

    select
        shipment_id,
        order_id,
        occurred_at as created_at,
        warehouse,
        carrier,
        promised_date
    from ranked_creations
    where creation_rank = 1

),

events_summarised as (

    select
        shipment_id,
        max(order_id) as any_order_id,
        min(occurred_at) as first_event_at,
        min(case when shipment_event_type = 'dispatched' then occurred_at end) as dispatched_at,
        min(case when shipment_event_type = 'delivered' then occurred_at end) as delivered_at,
        {{ count_where("shipment_event_type = 'exception'") }} as exception_count,
        max(case when exception_type = 'lost' then 1 else 0 end) = 1 as has_lost_exception
    from shipment_events
    group by shipment_id

),

distinct_exception_types as (

    select distinct
        shipment_id,
        exception_type
    from shipment_events
    where shipment_event_type = 'exception'

),

exception_types_listed as (

    select
        shipment_id,
        {{ dbt.listagg('exception_type', "','", 'order by exception_type') }} as exception_types
    from distinct_exception_types
    group by shipment_id

),

-- a return names its shipment when the WMS knew it; one without cannot be placed
returns_summarised as (

    select
        shipment_id,
        min(received_at) as returned_at,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as returned_quantity
    from returns
    where shipment_id is not null
    group by shipment_id

),

final as (

    select
        events_summarised.shipment_id,
        coalesce(creations.order_id, events_summarised.any_order_id) as order_id,
        shipment_customers.customer_id,
        creations.warehouse,
        creations.carrier,
        coalesce(creations.created_at, events_summarised.first_event_at) as created_at,
        creations.promised_date,
        events_summarised.dispatched_at,
        events_summarised.delivered_at,
        events_summarised.delivered_at is not null as is_delivered,
        -- the promised day is the company's (its WMS's) calendar day: compared with the
        -- company's day of the delivery, not the UTC one
        case
            when events_summarised.delivered_at is not null
                then
                    {{ business_date('events_summarised.delivered_at') }}
                    <= creations.promised_date
            when events_summarised.has_lost_exception then false
        end as is_on_time,
        {{ dbt.datediff(
            'creations.promised_date', business_date('events_summarised.delivered_at'), 'day'
        ) }} as days_late,
        events_summarised.exception_count,
        events_summarised.exception_count > 0 as has_exception,
        exception_types_listed.exception_types,
        returns_summarised.shipment_id is not null as is_returned,
        returns_summarised.returned_at,
        returns_summarised.returned_quantity,
        {{ hours_between('orders.placed_at', 'events_summarised.dispatched_at') }}
            as order_to_dispatch_hours
    from events_summarised
    left join creations
        on events_summarised.shipment_id = creations.shipment_id
    left join exception_types_listed
        on events_summarised.shipment_id = exception_types_listed.shipment_id
    left join returns_summarised
        on events_summarised.shipment_id = returns_summarised.shipment_id
    left join shipment_customers
        on events_summarised.shipment_id = shipment_customers.shipment_id
    left join orders
        on coalesce(creations.order_id, events_summarised.any_order_id) = orders.order_id

)

select * from final
