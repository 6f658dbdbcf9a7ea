{{ config(materialized='incremental', unique_key='order_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'order_placed'
        and {{ payload_casts('order_placed') }}
        and {{ landed_by_build() }}

),

-- an incremental run re-ranks every copy of each order that got a new one, so that a late
-- copy dated before the one kept so far replaces it, as a rebuild would
landed as (

    select * from source
    {%- if var('leadflow_live', false) %}
    -- live staging (models/live.py) takes the new copies only: the built table keeps the
    -- earliest of those it holds, and the next build re-ranks them all
    where {{ landed_since(incremental_lower_bound()) }}
    {%- elif is_incremental() %}
    where order_id in (
        select order_id from source
        where {{ landed_since(incremental_lower_bound()) }}
    )
    {%- endif %}

),

-- an order is placed once: a re-sent order_placed (same event or a new event id for the
-- same order_id) keeps the earliest, so amounts are never counted twice
ranked as (

    select
        *,
        {{ dedup_rank('order_id') }} as dedup_rank
    from landed

),

renamed as (

    select
        order_id,
        event_id,
        inquiry_id,
        {{ normalize_text('account_id') }} as account_id,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ normalize_text('company') }} as company,
        occurred_at as placed_at,
        producer,
        {{ normalize_text('rep_id') }} as rep_id,
        {{ normalize_text('distributor_id') }} as distributor_id,
        {{ payload_field('order_placed', 'amount') }} as amount,
        {{ json_extract_text('payload', 'currency') }} as currency,
        {{ json_array_length('payload', 'lines') }} as line_count,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
