{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'note_added'
        and {{ landed_since(incremental_lower_bound()) }}
        and {{ landed_by_build() }}

),

ranked as (

    select
        *,
        {{ dedup_rank() }} as dedup_rank
    from source

),

renamed as (

    select
        event_id,
        inquiry_id,
        occurred_at as noted_at,
        producer,
        {{ normalize_text('rep_id') }} as rep_id,
        {{ normalize_text('distributor_id') }} as distributor_id,
        {{ json_extract_text('payload', 'note') }} as note,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
