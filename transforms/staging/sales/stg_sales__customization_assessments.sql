{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'customization_assessed'
        and {{ payload_casts('customization_assessed') }}
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
        occurred_at as assessed_at,
        producer,
        {{ payload_field('customization_assessed', 'feasible') }} as is_feasible,
        {{ payload_field('customization_assessed', 'lead_time_days') }} as lead_time_days,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
