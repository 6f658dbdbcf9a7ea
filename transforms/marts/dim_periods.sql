{#- One row per calendar period of every grain (ISO week, month, quarter, year) of the
    company's calendar (business time: macros/business_time.sql), from the period of the
    earliest event or ad-spend day to the period of the newest. Generated in SQL (a spine of
    offsets), so that a period without any activity still exists and the leadership marts
    can compare every period with the one before and a year earlier.
    A period is partial when the log does not cover all of it: the log starts after its
    first day, or some source's newest event has not reached its end. Two periods are
    compared only when both are whole. -#}
with

events as (

    select * from {{ ref('stg_leadflow__events') }}

),

ad_spend as (

    select * from {{ ref('stg_web__ad_spend') }}

),

offsets as (

    {{ period_offsets() }}

),

-- business dates: the company's days. Ad spend is booked the morning after the day it
-- buys (a business date already), so its day can precede every event
dated_activity as (

    select
        {{ business_date('min(occurred_at)') }} as first_date,
        {{ business_date('max(occurred_at)') }} as last_date
    from events

    union all

    select
        min(spend_date) as first_date,
        max(spend_date) as last_date
    from ad_spend

),

bounds as (

    select
        min(first_date) as first_date,
        max(last_date) as last_date
    from dated_activity

),

-- the log has passed a moment when every source has: an export whose leads stop in May
-- while its deals go on to November has not told us about June's inquiries
newest_by_source as (

    select
        event_source,
        max(occurred_at) as newest_event_at
    from events
    group by event_source

),

watermark as (

    select min(newest_event_at) as complete_through
    from newest_by_source

),

spined as (

    {%- for grain in period_grains() %}

    select
        '{{ grain }}' as period_grain,
        {{ add_periods(grain, 'offsets.period_offset', period_start(grain, 'bounds.first_date')) }}
            as period_start,
        {{ period_start(grain, 'bounds.first_date') }} as first_period_start,
        {{ period_start(grain, 'bounds.last_date') }} as last_period_start
    from offsets
    cross join bounds
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

periods as (

    select
        period_grain,
        period_start,
        first_period_start
    from spined
    where period_start <= last_period_start

),

compared as (

    {%- for grain in period_grains() %}

    select
        period_grain,
        period_start,
        {{ add_periods(grain, 1, 'period_start') }} as period_end,
        {{ period_label(grain, 'period_start') }} as period_label,
        {{ add_periods(grain, -1, 'period_start') }} as previous_period_start,
        {#- 52 weeks back is the same weekdays, and almost always the same ISO week #}
        {%- if grain == 'week' %}
        {{ add_periods('week', -52, 'period_start') }} as year_ago_period_start,
        {{ add_periods('week', -51, 'period_start') }} as year_ago_period_end,
        {%- else %}
        {{ add_periods('year', -1, 'period_start') }} as year_ago_period_start,
        {{ add_periods('year', -1, add_periods(grain, 1, 'period_start')) }}
            as year_ago_period_end,
        {%- endif %}
        first_period_start
    from periods
    where period_grain = '{{ grain }}'
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

-- which of the period, the one before it and the one a year earlier the log covers whole
covered as (

    select
        compared.*,
        {%- for side, start, end in [
            ('is_partial', 'period_start', 'period_end'),
            ('is_previous_period_partial', 'previous_period_start', 'period_start'),
            ('is_year_ago_period_partial', 'year_ago_period_start', 'year_ago_period_end'),
        ] %}
        {{ is_partial_period(
            'compared.' ~ start,
            'compared.' ~ end,
            'bounds.first_date',
            'watermark.complete_through',
        ) }} as {{ side }},
        {%- endfor %}
        bounds.first_date as log_starts_on,
        watermark.complete_through
    from compared
    cross join bounds
    cross join watermark

),

final as (

    select
        period_grain,
        period_start,
        period_end,
        period_label,
        previous_period_start,
        year_ago_period_start,
        previous_period_start >= first_period_start as has_previous_period,
        year_ago_period_start >= first_period_start as has_year_ago_period,
        is_partial,
        -- a change means something only between two whole periods
        previous_period_start >= first_period_start
        and not is_partial
        and not is_previous_period_partial as has_comparable_previous_period,
        year_ago_period_start >= first_period_start
        and not is_partial
        and not is_year_ago_period_partial as has_comparable_year_ago_period,
        log_starts_on,
        complete_through
    from covered

)

select * from final
