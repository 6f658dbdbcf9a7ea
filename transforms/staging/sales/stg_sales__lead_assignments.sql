{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'lead_assigned'
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
        {{ normalize_text('account_id') }} as account_id,
        occurred_at as assigned_at,
        producer,
        {{ json_extract_text('payload', 'assignee_type') }} as assignee_type,
        {{ normalize_text('rep_id') }} as rep_id,
        {{ normalize_text('distributor_id') }} as distributor_id,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
