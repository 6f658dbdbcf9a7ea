{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type in (
            'shipment_created',
            'shipment_dispatched',
            'shipment_delivered',
            'shipment_exception'
        )
        and (event_type != 'shipment_created' or {{ payload_casts('shipment_created') }})
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
        shipment_id,
        order_id,
        -- the consignee, when the warehouse system records one
        {{ normalize_text('company') }} as company,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ dbt.replace('event_type', "'shipment_'", "''") }} as shipment_event_type,
        occurred_at,
        producer,
        {{ json_extract_text('payload', 'warehouse') }} as warehouse,
        {{ json_extract_text('payload', 'carrier') }} as carrier,
        {{ payload_field('shipment_created', 'promised_date') }} as promised_date,
        {{ json_extract_text('payload', 'tracking_number') }} as tracking_number,
        {{ json_extract_text('payload', 'received_by') }} as received_by,
        {{ json_extract_text('payload', 'exception_type') }} as exception_type,
        {{ json_extract_text('payload', 'detail') }} as exception_detail,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
