{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'return_received'
        and {{ payload_casts('return_received') }}
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
        order_id,
        shipment_id,
        occurred_at as received_at,
        producer,
        {{ payload_field('return_received', 'quantity') }} as quantity,
        {{ json_extract_text('payload', 'reason') }} as return_reason,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
