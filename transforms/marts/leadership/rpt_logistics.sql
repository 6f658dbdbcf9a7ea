{#- Logistics by carrier and warehouse: per period, the shipments created, how many were
    delivered on time, how often each kind of exception hit them, how many came back, and
    how long orders waited for dispatch, each compared with the previous period and the
    same period a year earlier. A shipment counts in the period it was created. The
    on-time rate is over shipments whose outcome is known (delivered, or lost); the
    exception and return rates over all shipments created. -#}
{%- set dimensions = ['carrier', 'warehouse'] -%}
{%- set exception_types = ['delayed', 'damaged', 'wrong_item', 'lost', 'address_issue'] -%}

with

shipments as (

    select * from {{ ref('fct_shipments') }}

),

shipment_events as (

    select * from {{ ref('stg_logistics__shipment_events') }}

),

periods as (

    select * from {{ ref('dim_periods') }}

),

grains as (

    select distinct period_grain
    from periods

),

-- which kinds of exception each shipment had, one row per shipment
exceptions_flagged as (

    select
        {% for kind in exception_types -%}
        max(case when exception_type = '{{ kind }}' then 1 else 0 end) as had_{{ kind }},
        {% endfor -%}
        shipment_id
    from shipment_events
    where shipment_event_type = 'exception'
    group by shipment_id

),

-- the business date each shipment was created (the company's day: periods are cut from
-- it), converted once per shipment rather than once per grain
shipments_dated as (

    select
        shipment_id,
        {{ business_date('created_at') }} as created_on,
        carrier,
        warehouse,
        is_delivered,
        is_on_time,
        has_exception,
        is_returned,
        order_to_dispatch_hours
    from shipments

),

shipments_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'shipments_dated.created_on') }}
            as period_start,
        coalesce(shipments_dated.carrier, '(unknown)') as carrier,
        coalesce(shipments_dated.warehouse, '(unknown)') as warehouse,
        shipments_dated.is_delivered,
        shipments_dated.is_on_time,
        shipments_dated.has_exception,
        shipments_dated.is_returned,
        {% for kind in exception_types -%}
        coalesce(exceptions_flagged.had_{{ kind }}, 0) as had_{{ kind }},
        {% endfor -%}
        shipments_dated.order_to_dispatch_hours
    from shipments_dated
    left join exceptions_flagged
        on shipments_dated.shipment_id = exceptions_flagged.shipment_id
    cross join grains

),

summarised as (

    select
        period_grain,
        period_start,
        carrier,
        warehouse,
        count(*) as shipments,
        {{ count_where('is_delivered') }}
            as delivered_shipments,
        {{ count_where('is_on_time') }}
            as on_time_shipments,
        {{ ratio('sum(case when is_on_time then 1 else 0 end)', 'count(is_on_time)') }}
            as on_time_rate,
        {{ count_where('has_exception') }}
            as exception_shipments,
        {{ ratio('sum(case when has_exception then 1 else 0 end)', 'count(*)') }}
            as exception_rate,
        {% for exception_type in exception_types -%}
        {{ ratio('sum(had_' ~ exception_type ~ ')', 'count(*)') }} as {{ exception_type }}_rate,
        {% endfor -%}
        {{ count_where('is_returned') }}
            as returned_shipments,
        {{ ratio('sum(case when is_returned then 1 else 0 end)', 'count(*)') }} as return_rate,
        {{ median('order_to_dispatch_hours') }} as median_order_to_dispatch_hours
    from shipments_by_period
    group by
        period_grain,
        period_start,
        carrier,
        warehouse

),

grid as (

    {{ period_grid('summarised', 'periods', dimensions) }}

),

final as (

    select
        grid.period_grain,
        grid.period_start,
        periods.period_end,
        periods.period_label,
        periods.is_partial,
        grid.carrier,
        grid.warehouse,
        {{ period_over_period('shipments') }},
        {{ period_over_period('delivered_shipments') }},
        {{ period_over_period('on_time_shipments') }},
        {{ period_over_period('on_time_rate', additive=false, growth=false) }},
        {{ period_over_period('exception_shipments') }},
        {{ period_over_period('exception_rate', additive=false, growth=false) }},
        {% for exception_type in exception_types -%}
        {{ period_over_period(exception_type ~ '_rate', additive=false, growth=false) }},
        {% endfor -%}
        {{ period_over_period('returned_shipments') }},
        {{ period_over_period('return_rate', additive=false, growth=false) }},
        {{ period_over_period('median_order_to_dispatch_hours', additive=false) }}
    from grid
    {{ period_comparison_joins('periods', 'summarised', dimensions) }}

)

select * from final
