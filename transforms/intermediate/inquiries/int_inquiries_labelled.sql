{#- The conversion label of every inquiry (DESIGN.md §5) and whether it can still change.
    Maturity is judged against the newest event in the log, never the wall clock, so a
    rebuild from the same events gives the same labels. -#}
{%- set window_days = var('conversion_window_days') -%}

with

milestones as (

    select * from {{ ref('int_inquiry_milestones_pivoted') }}

),

events as (

    select * from {{ ref('stg_leadflow__events') }}

),

watermark as (

    select max(occurred_at) as newest_event_at
    from events

),

windowed as (

    select
        milestones.inquiry_id,
        milestones.submitted_at,
        milestones.closed_at,
        milestones.first_order_id,
        milestones.first_order_at,
        milestones.won_at,
        watermark.newest_event_at,
        coalesce(
            milestones.first_order_at
            <= {{ dbt.dateadd('day', window_days, 'milestones.submitted_at') }},
            false
        ) as has_order_in_window,
        coalesce(
            milestones.won_at
            <= {{ dbt.dateadd('day', window_days, 'milestones.submitted_at') }},
            false
        ) as has_win_in_window,
        milestones.submitted_at
        < {{ dbt.dateadd('day', -window_days, 'watermark.newest_event_at') }} as is_window_over
    from milestones
    cross join watermark

),

labelled as (

    select
        inquiry_id,
        case
            when has_order_in_window and has_win_in_window and won_at < first_order_at
                then won_at
            when has_order_in_window then first_order_at
            when has_win_in_window then won_at
        end as converted_at,
        has_order_in_window or has_win_in_window as is_converted,
        has_order_in_window
        or has_win_in_window
        or closed_at is not null
        or is_window_over as is_label_mature,
        closed_at is null and first_order_id is null as is_open,
        newest_event_at as label_as_of
    from windowed

),

final as (

    select * from labelled

)

select * from final
