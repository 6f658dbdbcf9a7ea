{#- The inquiry classification summary (詢盤分類彙總分析表): per period, channel, product
    category and region, how many inquiries came in and how far they got — contacted,
    quoted, and where each stands: won, won late, lost, expired or open, which add up to
    the inquiries — with the conversion rate and the median first-response time, each
    compared with the previous period and the same period a year earlier. An inquiry
    counts in the period it was submitted, with its funnel as it stands at this build. -#}
{%- set dimensions = ['channel', 'product_category', 'country', 'region'] -%}

with

inquiries as (

    select * from {{ ref('fct_inquiries') }}

),

periods as (

    select * from {{ ref('dim_periods') }}

),

grains as (

    select distinct period_grain
    from periods

),

-- region: the province for China, the buyers' home market; the country elsewhere
classified as (

    select
        inquiry_id,
        {{ business_date('submitted_at') }} as submitted_on,
        channel,
        product_category,
        country,
        case
            when country = 'CN' then coalesce(province, '(unknown)')
            else country
        end as region,
        first_contacted_at is not null as is_contacted,
        quoted_at is not null as is_quoted,
        -- one state each (fct_inquiries.state), so the counts by state add up to the inquiries
        state,
        first_response_hours
    from inquiries

),

inquiries_by_period as (

    select
        grains.period_grain,
        {{ period_start_for('grains.period_grain', 'classified.submitted_on') }} as period_start,
        classified.*
    from classified
    cross join grains

),

summarised as (

    select
        period_grain,
        period_start,
        channel,
        product_category,
        country,
        region,
        count(*) as inquiries,
        {{ count_where('is_contacted') }}
            as contacted_inquiries,
        {{ count_where('is_quoted') }}
            as quoted_inquiries,
        {{ count_where("state = 'won'") }}
            as won_inquiries,
        {{ count_where("state = 'won_late'") }}
            as won_late_inquiries,
        {{ count_where("state = 'lost'") }}
            as lost_inquiries,
        {{ count_where("state = 'expired'") }}
            as expired_inquiries,
        {{ count_where("state = 'open'") }}
            as open_inquiries,
        {{ ratio("sum(case when state = 'won' then 1 else 0 end)", 'count(*)') }}
            as conversion_rate,
        {{ median('first_response_hours') }} as median_first_response_hours
    from inquiries_by_period
    group by
        period_grain,
        period_start,
        channel,
        product_category,
        country,
        region

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
        {{ period_over_period('inquiries') }},
        {{ period_over_period('contacted_inquiries') }},
        {{ period_over_period('quoted_inquiries') }},
        {{ period_over_period('won_inquiries') }},
        {{ period_over_period('won_late_inquiries') }},
        {{ period_over_period('lost_inquiries') }},
        {{ period_over_period('expired_inquiries') }},
        {{ period_over_period('open_inquiries') }},
        {{ period_over_period('conversion_rate', additive=false, growth=false) }},
        {{ period_over_period('median_first_response_hours', additive=false) }}
    from grid
    {{ period_comparison_joins('periods', 'summarised', dimensions) }}

)

select * from final
