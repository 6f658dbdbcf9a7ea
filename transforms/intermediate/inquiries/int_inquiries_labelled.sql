{#- The conversion label of every inquiry (DESIGN.md §5) and whether it can still change.
    Maturity is judged against the newest event in the log, never the wall clock, so a
    rebuild from the same events gives the same labels.
    The window counts calendar days (UTC), as a business does: an inquiry submitted on
    day D converts with an order or a win dated on day D + window or before; the window is
    over at midnight after that day. An outcome dated before the submission (records
    entered out of order) counts as converted at the submission, and is flagged so the
    quality gate counts it (outcome_before_submission_hours). -#}
{%- set window_days = var('conversion_window_days') -%}
{#- the earlier of the linked order and the win (either may be null) -#}
{%- set earliest_outcome = 'least(coalesce(milestones.first_order_at, milestones.won_at), '
    ~ 'coalesce(milestones.won_at, milestones.first_order_at))' -%}

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

windows as (

    select
        milestones.*,
        {{ dbt.dateadd('day', window_days + 1, dbt.date_trunc('day', 'milestones.submitted_at')) }}
            as window_ends_at,
        case
            when {{ earliest_outcome }} < milestones.submitted_at
                then {{ hours_between(earliest_outcome, 'milestones.submitted_at') }}
        end as outcome_before_submission_hours
    from milestones

),

windowed as (

    select
        windows.inquiry_id,
        windows.submitted_at,
        windows.closed_at,
        windows.first_order_id,
        windows.first_order_at,
        windows.won_at,
        windows.outcome,
        windows.window_ends_at,
        windows.outcome_before_submission_hours,
        watermark.newest_event_at,
        coalesce(windows.first_order_at < windows.window_ends_at, false) as has_order_in_window,
        coalesce(windows.won_at < windows.window_ends_at, false) as has_win_in_window,
        watermark.newest_event_at >= windows.window_ends_at as is_window_over
    from windows
    cross join watermark

),

labelled as (

    select
        inquiry_id,
        -- one state each, so that counts by state add up to the inquiries
        case
            when has_order_in_window or has_win_in_window then 'won'
            when first_order_id is not null or won_at is not null then 'won_late'
            when closed_at is not null then 'lost'
            when is_window_over then 'expired'
            else 'open'
        end as state,
        -- the earlier of the order and the win, never before the submission
        case
            when has_order_in_window and has_win_in_window
                then greatest(least(won_at, first_order_at), submitted_at)
            when has_order_in_window then greatest(first_order_at, submitted_at)
            when has_win_in_window then greatest(won_at, submitted_at)
        end as converted_at,
        has_order_in_window or has_win_in_window as is_converted,
        has_order_in_window
        or has_win_in_window
        or closed_at is not null
        or is_window_over as is_label_mature,
        -- still to be worked: no outcome yet, and inside the window it can convert in
        closed_at is null and first_order_id is null and not is_window_over as is_open,
        -- no outcome in the window, and it is over: out of the sales queue
        closed_at is null and first_order_id is null and is_window_over as is_expired,
        window_ends_at,
        outcome_before_submission_hours,
        newest_event_at as label_as_of
    from windowed

),

final as (

    select * from labelled

)

select * from final
