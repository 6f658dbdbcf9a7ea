{#- Sales performance per rep and per distributor: per period, the inquiries assigned to
    each, how fast and how often they were contacted, how many were won, what share
    leaked to a competitor's product or another distributor, and the revenue of the
    orders credited to them, each compared with the previous period and the same period
    a year earlier. An inquiry counts in the period it was submitted, for whoever got its
    first assignment; an order counts in the period it was placed, for whoever it is
    credited to. Revenue is in the company's currency (var currency): an order recorded in
    another is left out of it, and counted (amounts_in_other_currencies). -#}
{%- set dimensions = ['handler_type', 'handler_id'] -%}

with

inquiries as (

    select * from {{ ref('fct_inquiries') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

periods as (

    select * from {{ ref('dim_periods') }}

),

grains as (

    select distinct period_grain
    from periods

),

assigned_inquiries as (

    select
        inquiry_id,
        {{ business_date('submitted_at') }} as submitted_on,
        assignee_type as handler_type,
        case assignee_type
            when 'rep' then rep_id
            when 'distributor' then distributor_id
        end as handler_id,
        first_contacted_at is not null as is_contacted,
        first_response_hours,
        is_converted as is_won,
        outcome = 'lost' and lost_reason = 'competitor' as is_lost_to_competitor,
        outcome = 'lost' and lost_reason = 'distributor_conflict' as is_lost_to_distributor_conflict
    from inquiries
    where assignee_type is not null

),

handled_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'assigned_inquiries.submitted_on') }}
            as period_start,
        assigned_inquiries.*
    from assigned_inquiries
    cross join grains

),

handled_summarised as (

    select
        period_grain,
        period_start,
        handler_type,
        handler_id,
        count(*) as handled_inquiries,
        {{ count_where('is_contacted') }}
            as contacted_inquiries,
        {{ median('first_response_hours') }} as median_first_response_hours,
        {{ count_where('is_won') }}
            as won_inquiries,
        {{ count_where('is_lost_to_competitor') }}
            as lost_to_competitor,
        {{ count_where('is_lost_to_distributor_conflict') }} as lost_to_distributor_conflict
    from handled_by_period
    where handler_id is not null
    group by
        period_grain,
        period_start,
        handler_type,
        handler_id

),

credited_orders as (

    select
        {{ business_date('placed_at') }} as placed_on,
        credited_to_type as handler_type,
        case credited_to_type
            when 'rep' then rep_id
            when 'distributor' then distributor_id
        end as handler_id,
        {{ in_reporting_currency('amount', 'currency') }} as amount,
        not {{ is_reporting_currency('currency') }} as is_in_other_currency
    from orders
    where credited_to_type is not null

),

credited_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'credited_orders.placed_on') }} as period_start,
        credited_orders.*
    from credited_orders
    cross join grains

),

orders_summarised as (

    select
        period_grain,
        period_start,
        handler_type,
        handler_id,
        count(*) as orders,
        sum(amount) as revenue,
        {{ count_where('is_in_other_currency') }} as amounts_in_other_currencies
    from credited_by_period
    where handler_id is not null
    group by
        period_grain,
        period_start,
        handler_type,
        handler_id

),

keys as (

    select
        period_grain,
        period_start,
        handler_type,
        handler_id
    from handled_summarised

    union

    select
        period_grain,
        period_start,
        handler_type,
        handler_id
    from orders_summarised

),

summarised as (

    select
        keys.period_grain,
        keys.period_start,
        keys.handler_type,
        keys.handler_id,
        coalesce(handled_summarised.handled_inquiries, 0) as handled_inquiries,
        coalesce(handled_summarised.contacted_inquiries, 0) as contacted_inquiries,
        handled_summarised.median_first_response_hours,
        coalesce(handled_summarised.won_inquiries, 0) as won_inquiries,
        {{ ratio('handled_summarised.won_inquiries', 'handled_summarised.handled_inquiries') }}
            as win_rate,
        coalesce(handled_summarised.lost_to_competitor, 0) as lost_to_competitor,
        coalesce(handled_summarised.lost_to_distributor_conflict, 0)
            as lost_to_distributor_conflict,
        {{ ratio(
            'handled_summarised.lost_to_competitor'
            ~ ' + handled_summarised.lost_to_distributor_conflict',
            'handled_summarised.handled_inquiries'
        ) }} as leakage_rate,
        coalesce(orders_summarised.orders, 0) as orders,
        coalesce(orders_summarised.revenue, 0) as revenue,
        coalesce(orders_summarised.amounts_in_other_currencies, 0) as amounts_in_other_currencies
    from keys
    left join handled_summarised
        on
            keys.period_grain = handled_summarised.period_grain
            and keys.period_start = handled_summarised.period_start
            and keys.handler_type = handled_summarised.handler_type
            and keys.handler_id = handled_summarised.handler_id
    left join orders_summarised
        on
            keys.period_grain = orders_summarised.period_grain
            and keys.period_start = orders_summarised.period_start
            and keys.handler_type = orders_summarised.handler_type
            and keys.handler_id = orders_summarised.handler_id

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
        grid.handler_type,
        grid.handler_id,
        '{{ reporting_currency() }}' as currency,
        {{ period_over_period('handled_inquiries') }},
        {{ period_over_period('contacted_inquiries') }},
        {{ period_over_period('median_first_response_hours', additive=false) }},
        {{ period_over_period('won_inquiries') }},
        {{ period_over_period('win_rate', additive=false, growth=false) }},
        {{ period_over_period('lost_to_competitor') }},
        {{ period_over_period('lost_to_distributor_conflict') }},
        {{ period_over_period('leakage_rate', additive=false, growth=false) }},
        {{ period_over_period('orders') }},
        {{ period_over_period('revenue') }},
        coalesce(current_period.amounts_in_other_currencies, 0) as amounts_in_other_currencies
    from grid
    {{ period_comparison_joins('periods', 'summarised', dimensions) }}

)

select * from final
