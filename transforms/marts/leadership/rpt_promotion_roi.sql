{#- The promotion cost input–output table (宣傳成本投入產出表): per period, channel and
    campaign, what was spent on ads, the inquiries that came in, the orders won from
    inquiries and their revenue, and the return on the spend, each compared with the
    previous period and the same period a year earlier.
    Each measure counts in the period of its own event: spend on its day, an inquiry when
    submitted, a won order when placed (credited to its inquiry's channel and campaign).
    Inquiries without a campaign, and spend without one, show as campaign '(none)'.
    Spend is known for a channel once any spend was recorded for it; for a channel without
    (an export with no ad spend, a channel nobody pays for) the spend, the cost per inquiry
    and per won order and the return read null — no spend recorded — never 0.
    Amounts are in the company's currency (var currency): a day's spend or an order
    recorded in another is left out of them, and counted (amounts_in_other_currencies). -#}
{%- set dimensions = ['channel', 'campaign'] -%}

with

ad_spend as (

    select * from {{ ref('stg_web__ad_spend') }}

),

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

-- the channels whose spend the log records
spend_channels as (

    select distinct channel
    from ad_spend

),

-- the business date of each inquiry and order (the company's day: periods are cut from
-- it), converted once per row rather than once per grain; spend days are business dates
inquiries_dated as (

    select
        inquiry_id,
        {{ business_date('submitted_at') }} as submitted_on,
        channel,
        campaign,
        is_converted
    from inquiries

),

orders_dated as (

    select
        {{ business_date('placed_at') }} as placed_on,
        inquiry_id,
        amount,
        currency
    from orders

),

spend_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'ad_spend.spend_date') }} as period_start,
        ad_spend.channel,
        coalesce(ad_spend.campaign, '(none)') as campaign,
        {{ in_reporting_currency('ad_spend.amount', 'ad_spend.currency') }} as ad_spend,
        0 as inquiries,
        0 as won_inquiries,
        0 as won_orders,
        0 as won_revenue,
        case when {{ is_reporting_currency('ad_spend.currency') }} then 0 else 1 end
            as amounts_in_other_currencies
    from ad_spend
    cross join grains

),

inquiries_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'inquiries_dated.submitted_on') }}
            as period_start,
        inquiries_dated.channel,
        coalesce(inquiries_dated.campaign, '(none)') as campaign,
        0 as ad_spend,
        1 as inquiries,
        case when inquiries_dated.is_converted then 1 else 0 end as won_inquiries,
        0 as won_orders,
        0 as won_revenue,
        0 as amounts_in_other_currencies
    from inquiries_dated
    cross join grains

),

won_orders_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'orders_dated.placed_on') }} as period_start,
        inquiries.channel,
        coalesce(inquiries.campaign, '(none)') as campaign,
        0 as ad_spend,
        0 as inquiries,
        0 as won_inquiries,
        1 as won_orders,
        {{ in_reporting_currency('orders_dated.amount', 'orders_dated.currency') }}
            as won_revenue,
        case when {{ is_reporting_currency('orders_dated.currency') }} then 0 else 1 end
            as amounts_in_other_currencies
    from orders_dated
    inner join inquiries
        on orders_dated.inquiry_id = inquiries.inquiry_id
    cross join grains

),

activity as (

    select * from spend_by_period

    union all

    select * from inquiries_by_period

    union all

    select * from won_orders_by_period

),

totalled as (

    select
        period_grain,
        period_start,
        channel,
        campaign,
        -- 0 where the only amounts were in another currency
        coalesce(sum(ad_spend), 0) as ad_spend,
        cast(sum(inquiries) as {{ dbt.type_bigint() }}) as inquiries,
        cast(sum(won_inquiries) as {{ dbt.type_bigint() }}) as won_inquiries,
        cast(sum(won_orders) as {{ dbt.type_bigint() }}) as won_orders,
        coalesce(sum(won_revenue), 0) as won_revenue,
        cast(sum(amounts_in_other_currencies) as {{ dbt.type_bigint() }})
            as amounts_in_other_currencies
    from activity
    group by
        period_grain,
        period_start,
        channel,
        campaign

),

spend_known as (

    select
        totalled.period_grain,
        totalled.period_start,
        totalled.channel,
        totalled.campaign,
        case when spend_channels.channel is not null then totalled.ad_spend end as ad_spend,
        totalled.inquiries,
        totalled.won_inquiries,
        totalled.won_orders,
        totalled.won_revenue,
        totalled.amounts_in_other_currencies
    from totalled
    left join spend_channels
        on totalled.channel = spend_channels.channel

),

summarised as (

    select
        *,
        {{ ratio('ad_spend', 'inquiries') }} as cost_per_inquiry,
        {{ ratio('ad_spend', 'won_orders') }} as cost_per_won_order,
        {{ ratio('won_inquiries', 'inquiries') }} as conversion_rate,
        {{ ratio('won_revenue', 'ad_spend') }} as revenue_per_spend,
        {{ ratio('won_revenue - ad_spend', 'ad_spend') }} as roi
    from spend_known

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
        {% for dimension in dimensions -%}
        grid.{{ dimension }},
        {% endfor -%}
        '{{ reporting_currency() }}' as currency,
        spend_channels.channel is not null as is_spend_recorded,
        {{ period_over_period('ad_spend', known='spend_channels.channel is not null') }},
        {{ period_over_period('inquiries') }},
        {{ period_over_period('cost_per_inquiry', additive=false) }},
        {{ period_over_period('won_inquiries') }},
        {{ period_over_period('conversion_rate', additive=false, growth=false) }},
        {{ period_over_period('won_orders') }},
        {{ period_over_period('won_revenue') }},
        {{ period_over_period('cost_per_won_order', additive=false) }},
        {{ period_over_period('revenue_per_spend', additive=false, growth=false) }},
        {{ period_over_period('roi', additive=false, growth=false) }},
        coalesce(current_period.amounts_in_other_currencies, 0) as amounts_in_other_currencies
    from grid
    {{ period_comparison_joins('periods', 'summarised', dimensions) }}
    left join spend_channels
        on grid.channel = spend_channels.channel

)

select * from final
