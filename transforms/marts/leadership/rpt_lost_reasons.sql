{#- The lost-reason analysis: per period and lost reason, how many inquiries were lost for
    it, their share of all lost inquiries and of all inquiries, and how far the last quote
    those buyers saw sat above the price they asked for (the gap that explains price
    losses), each compared with the previous period and the same period a year earlier.
    An inquiry counts in the period it was submitted, lost as it stands at this build.
    Every reason seen shows in every period, so shares always add up to 1. The gap per
    unit is in the company's currency (var currency): a quote in another is left out of
    its median, and counted (amounts_in_other_currencies); the relative gap has no currency
    and counts every priced quote. -#}
{%- set dimensions = ['lost_reason'] -%}

with

inquiries as (

    select * from {{ ref('fct_inquiries') }}

),

quotes as (

    select * from {{ ref('fct_quotes') }}

),

periods as (

    select * from {{ ref('dim_periods') }}

),

grains as (

    select distinct period_grain
    from periods

),

-- the price the buyer last saw, and how far it sat above the target (priced: the buyer gave
-- a target in the quote's currency)
latest_quotes as (

    select
        inquiry_id,
        gap_vs_target is not null as is_priced,
        gap_vs_target is not null
        and not {{ is_reporting_currency('currency') }} as is_priced_in_other_currency,
        {{ in_reporting_currency('gap_vs_target', 'currency') }} as gap_vs_target,
        gap_vs_target_rate
    from quotes
    where is_latest_quote

),

-- the business date of each inquiry (the company's day: periods are cut from it),
-- converted once per inquiry rather than once per grain
inquiries_dated as (

    select
        inquiry_id,
        {{ business_date('submitted_at') }} as submitted_on,
        outcome,
        lost_reason
    from inquiries

),

inquiries_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'inquiries_dated.submitted_on') }}
            as period_start,
        inquiries_dated.inquiry_id,
        inquiries_dated.outcome,
        inquiries_dated.lost_reason
    from inquiries_dated
    cross join grains

),

submitted as (

    select
        period_grain,
        period_start,
        count(*) as inquiries
    from inquiries_by_period
    group by
        period_grain,
        period_start

),

lost_counted as (

    select
        inquiries_by_period.period_grain,
        inquiries_by_period.period_start,
        inquiries_by_period.lost_reason,
        count(*) as lost_inquiries,
        count(latest_quotes.inquiry_id) as quoted_lost_inquiries,
        {{ count_where('latest_quotes.is_priced') }} as priced_lost_inquiries,
        {{ count_where('latest_quotes.is_priced_in_other_currency') }}
            as amounts_in_other_currencies,
        {{ median('latest_quotes.gap_vs_target') }} as median_gap_vs_target,
        {{ median('latest_quotes.gap_vs_target_rate') }} as median_gap_vs_target_rate
    from inquiries_by_period
    left join latest_quotes
        on inquiries_by_period.inquiry_id = latest_quotes.inquiry_id
    where inquiries_by_period.outcome = 'lost'
    group by
        inquiries_by_period.period_grain,
        inquiries_by_period.period_start,
        inquiries_by_period.lost_reason

),

reasons as (

    select distinct lost_reason
    from lost_counted

),

summarised as (

    select
        periods.period_grain,
        periods.period_start,
        reasons.lost_reason,
        coalesce(submitted.inquiries, 0) as inquiries,
        coalesce(lost_counted.lost_inquiries, 0) as lost_inquiries,
        {{ ratio(
            'coalesce(lost_counted.lost_inquiries, 0)',
            'sum(coalesce(lost_counted.lost_inquiries, 0)) over ('
            ~ 'partition by periods.period_grain, periods.period_start)'
        ) }} as lost_share,
        {{ ratio('coalesce(lost_counted.lost_inquiries, 0)', 'submitted.inquiries') }} as lost_rate,
        coalesce(lost_counted.quoted_lost_inquiries, 0) as quoted_lost_inquiries,
        coalesce(lost_counted.priced_lost_inquiries, 0) as priced_lost_inquiries,
        lost_counted.median_gap_vs_target,
        lost_counted.median_gap_vs_target_rate,
        coalesce(lost_counted.amounts_in_other_currencies, 0) as amounts_in_other_currencies
    from periods
    cross join reasons
    left join submitted
        on
            periods.period_grain = submitted.period_grain
            and periods.period_start = submitted.period_start
    left join lost_counted
        on
            periods.period_grain = lost_counted.period_grain
            and periods.period_start = lost_counted.period_start
            and reasons.lost_reason = lost_counted.lost_reason

),

grid as (

    select
        period_grain,
        period_start,
        lost_reason
    from summarised

),

final as (

    select
        grid.period_grain,
        grid.period_start,
        periods.period_end,
        periods.period_label,
        periods.is_partial,
        grid.lost_reason,
        '{{ reporting_currency() }}' as currency,
        current_period.inquiries,
        {{ period_over_period('lost_inquiries') }},
        {{ period_over_period('lost_share', additive=false, growth=false) }},
        {{ period_over_period('lost_rate', additive=false, growth=false) }},
        current_period.quoted_lost_inquiries,
        current_period.priced_lost_inquiries,
        {{ period_over_period('median_gap_vs_target', additive=false) }},
        {{ period_over_period('median_gap_vs_target_rate', additive=false, growth=false) }},
        current_period.amounts_in_other_currencies
    from grid
    {{ period_comparison_joins('periods', 'summarised', dimensions) }}

)

select * from final
