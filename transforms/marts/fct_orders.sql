{#- One row per order: who placed it and through which inquiry and handler, whether it is
    a repeat order, how it was paid and how its shipments went. -#}
with

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

payments as (

    select * from {{ ref('stg_sales__payments') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

order_customers as (

    select
        identifier_value as order_id,
        customer_id
    from customers
    where identifier_type = 'order_id'

),

sequenced as (

    select
        orders.*,
        order_customers.customer_id,
        row_number() over (
            partition by order_customers.customer_id
            order by orders.placed_at, orders.order_id
        ) as customer_order_number
    from orders
    left join order_customers
        on orders.order_id = order_customers.order_id

),

-- payments in the order of arrival, with what had been paid after each
payments_accumulated as (

    select
        payments.order_id,
        payments.received_at,
        payments.amount,
        sum(payments.amount) over (
            partition by payments.order_id
            order by payments.received_at, payments.event_id
            rows between unbounded preceding and current row
        ) as paid_so_far,
        orders.amount as order_amount
    from payments
    inner join orders
        on payments.order_id = orders.order_id

),

payments_summarised as (

    select
        order_id,
        count(*) as payments,
        sum(amount) as paid_amount,
        min(received_at) as first_paid_at,
        min(case when paid_so_far >= order_amount then received_at end) as paid_at
    from payments_accumulated
    group by order_id

),

shipments_summarised as (

    select
        order_id,
        count(*) as shipments,
        min(dispatched_at) as first_dispatched_at,
        min(delivered_at) as first_delivered_at,
        max(case when has_exception or is_returned then 1 else 0 end) = 1 as has_shipment_problem
    from shipments
    where order_id is not null
    group by order_id

),

final as (

    select
        sequenced.order_id,
        sequenced.event_id,
        sequenced.customer_id,
        sequenced.inquiry_id,
        sequenced.placed_at,
        sequenced.amount,
        sequenced.currency,
        sequenced.line_count,
        case
            when sequenced.rep_id is not null then 'rep'
            when sequenced.distributor_id is not null then 'distributor'
        end as credited_to_type,
        sequenced.rep_id,
        sequenced.distributor_id,
        sequenced.customer_order_number,
        sequenced.customer_order_number > 1 as is_repeat_order,
        coalesce(payments_summarised.payments, 0) as payments,
        coalesce(payments_summarised.paid_amount, 0) as paid_amount,
        payments_summarised.first_paid_at,
        payments_summarised.paid_at,
        payments_summarised.paid_at is not null as is_fully_paid,
        coalesce(shipments_summarised.shipments, 0) as shipments,
        shipments_summarised.first_dispatched_at,
        shipments_summarised.first_delivered_at,
        coalesce(shipments_summarised.has_shipment_problem, false) as has_shipment_problem,
        {{ hours_between('sequenced.placed_at', 'shipments_summarised.first_dispatched_at') }}
            as order_to_dispatch_hours
    from sequenced
    left join payments_summarised
        on sequenced.order_id = payments_summarised.order_id
    left join shipments_summarised
        on sequenced.order_id = shipments_summarised.order_id

)

select * from final
