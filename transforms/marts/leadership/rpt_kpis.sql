{#- The KPI table: one row per period of each grain with the company's headline figures —
    inquiries and their conversion, ad spend, orders, revenue and the part won from
    inquiries, average order value, repeat purchasing, order processing time and on-time
    delivery — each compared with the previous period and the same period a year
    earlier. Every period from the first event to the newest has a row. Each figure counts
    in the period of its own event: an inquiry when submitted (its conversion as it stands
    at this build), spend on its day, an order when placed, a shipment when created.
    A log that never recorded ad spend has no spend figures (null: no spend recorded),
    not a spend of 0. Amounts are in the company's currency (var currency): an order or a
    day's spend recorded in another is left out of them, and counted. -#}
with

inquiries as (

    select * from {{ ref('fct_inquiries') }}

),

ad_spend as (

    select * from {{ ref('stg_web__ad_spend') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

periods as (

    select * from {{ ref('dim_periods') }}

),

-- spend is known once the log records any: before, it is unknown, not 0
spend_recorded as (

    select count(*) > 0 as is_spend_recorded
    from ad_spend

),

grains as (

    select distinct period_grain
    from periods

),

-- the business date of each figure's event (the company's day: periods are cut from it),
-- converted once per row rather than once per grain
inquiries_dated as (

    select
        {{ business_date('submitted_at') }} as submitted_on,
        is_converted,
        first_response_hours
    from inquiries

),

orders_dated as (

    select
        {{ business_date('placed_at') }} as placed_on,
        inquiry_id,
        {{ in_reporting_currency('amount', 'currency') }} as amount,
        not {{ is_reporting_currency('currency') }} as is_in_other_currency,
        is_repeat_order,
        order_to_dispatch_hours
    from orders

),

shipments_dated as (

    select
        {{ business_date('created_at') }} as created_on,
        is_on_time
    from shipments

),

inquiries_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'inquiries_dated.submitted_on') }}
            as period_start,
        inquiries_dated.is_converted,
        inquiries_dated.first_response_hours
    from inquiries_dated
    cross join grains

),

spend_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'ad_spend.spend_date') }} as period_start,
        {{ in_reporting_currency('ad_spend.amount', 'ad_spend.currency') }} as amount,
        not {{ is_reporting_currency('ad_spend.currency') }} as is_in_other_currency
    from ad_spend
    cross join grains

),

orders_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'orders_dated.placed_on') }} as period_start,
        orders_dated.inquiry_id is not null as is_won_from_inquiry,
        orders_dated.amount,
        orders_dated.is_in_other_currency,
        orders_dated.is_repeat_order,
        orders_dated.order_to_dispatch_hours
    from orders_dated
    cross join grains

),

shipments_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'shipments_dated.created_on') }}
            as period_start,
        shipments_dated.is_on_time
    from shipments_dated
    cross join grains

),

inquiries_summarised as (

    select
        period_grain,
        period_start,
        count(*) as inquiries,
        sum(case when is_converted then 1 else 0 end) as won_inquiries,
        {{ median('first_response_hours') }} as median_first_response_hours
    from inquiries_by_period
    group by
        period_grain,
        period_start

),

spend_summarised as (

    select
        period_grain,
        period_start,
        sum(amount) as ad_spend,
        {{ count_where('is_in_other_currency') }} as spend_in_other_currencies
    from spend_by_period
    group by
        period_grain,
        period_start

),

orders_summarised as (

    select
        period_grain,
        period_start,
        count(*) as orders,
        sum(amount) as revenue,
        count(amount) as orders_in_currency,
        {{ count_where('is_in_other_currency') }} as orders_in_other_currencies,
        sum(case when is_won_from_inquiry then 1 else 0 end) as won_orders,
        sum(case when is_won_from_inquiry then amount end) as won_revenue,
        sum(case when is_repeat_order then 1 else 0 end) as repeat_orders,
        {{ median('order_to_dispatch_hours') }} as median_order_to_dispatch_hours
    from orders_by_period
    group by
        period_grain,
        period_start

),

shipments_summarised as (

    select
        period_grain,
        period_start,
        count(*) as shipments,
        sum(case when is_on_time then 1 else 0 end) as on_time_shipments,
        count(is_on_time) as shipments_with_known_outcome
    from shipments_by_period
    group by
        period_grain,
        period_start

),

summarised as (

    select
        periods.period_grain,
        periods.period_start,
        coalesce(inquiries_summarised.inquiries, 0) as inquiries,
        cast(coalesce(inquiries_summarised.won_inquiries, 0) as {{ dbt.type_bigint() }})
            as won_inquiries,
        {{ ratio('inquiries_summarised.won_inquiries', 'inquiries_summarised.inquiries') }}
            as conversion_rate,
        inquiries_summarised.median_first_response_hours,
        case
            when spend_recorded.is_spend_recorded then coalesce(spend_summarised.ad_spend, 0)
        end as ad_spend,
        case
            when spend_recorded.is_spend_recorded
                then {{ ratio(
                    'coalesce(spend_summarised.ad_spend, 0)', 'inquiries_summarised.inquiries'
                ) }}
        end as cost_per_inquiry,
        coalesce(orders_summarised.orders, 0) as orders,
        coalesce(orders_summarised.revenue, 0) as revenue,
        cast(coalesce(orders_summarised.won_orders, 0) as {{ dbt.type_bigint() }}) as won_orders,
        coalesce(orders_summarised.won_revenue, 0) as won_revenue,
        {{ ratio('orders_summarised.revenue', 'orders_summarised.orders_in_currency') }}
            as average_order_value,
        cast(coalesce(orders_summarised.repeat_orders, 0) as {{ dbt.type_bigint() }})
            as repeat_orders,
        {{ ratio('orders_summarised.repeat_orders', 'orders_summarised.orders') }}
            as repeat_purchase_rate,
        orders_summarised.median_order_to_dispatch_hours,
        coalesce(shipments_summarised.shipments, 0) as shipments,
        {{ ratio(
            'shipments_summarised.on_time_shipments',
            'shipments_summarised.shipments_with_known_outcome'
        ) }} as on_time_delivery_rate,
        coalesce(orders_summarised.orders_in_other_currencies, 0)
        + coalesce(spend_summarised.spend_in_other_currencies, 0)
            as amounts_in_other_currencies
    from periods
    left join inquiries_summarised
        on
            periods.period_grain = inquiries_summarised.period_grain
            and periods.period_start = inquiries_summarised.period_start
    left join spend_summarised
        on
            periods.period_grain = spend_summarised.period_grain
            and periods.period_start = spend_summarised.period_start
    left join orders_summarised
        on
            periods.period_grain = orders_summarised.period_grain
            and periods.period_start = orders_summarised.period_start
    left join shipments_summarised
        on
            periods.period_grain = shipments_summarised.period_grain
            and periods.period_start = shipments_summarised.period_start
    cross join spend_recorded

),

grid as (

    select
        period_grain,
        period_start
    from summarised

),

final as (

    select
        grid.period_grain,
        grid.period_start,
        periods.period_end,
        periods.period_label,
        periods.is_partial,
        '{{ reporting_currency() }}' as currency,
        {{ period_over_period('inquiries') }},
        {{ period_over_period('won_inquiries') }},
        {{ period_over_period('conversion_rate', additive=false, growth=false) }},
        {{ period_over_period('median_first_response_hours', additive=false) }},
        spend_recorded.is_spend_recorded,
        {{ period_over_period('ad_spend', known='spend_recorded.is_spend_recorded') }},
        {{ period_over_period('cost_per_inquiry', additive=false) }},
        {{ period_over_period('orders') }},
        {{ period_over_period('revenue') }},
        {{ period_over_period('won_orders') }},
        {{ period_over_period('won_revenue') }},
        {{ period_over_period('average_order_value', additive=false) }},
        {{ period_over_period('repeat_orders') }},
        {{ period_over_period('repeat_purchase_rate', additive=false, growth=false) }},
        {{ period_over_period('median_order_to_dispatch_hours', additive=false) }},
        {{ period_over_period('shipments') }},
        {{ period_over_period('on_time_delivery_rate', additive=false, growth=false) }},
        current_period.amounts_in_other_currencies
    from grid
    {{ period_comparison_joins('periods', 'summarised', []) }}
    cross join spend_recorded

)

select * from final
