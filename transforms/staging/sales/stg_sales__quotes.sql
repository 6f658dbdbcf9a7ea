{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'quote_sent'
        and {{ payload_casts('quote_sent') }}
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
        {{ json_extract_text('payload', 'quote_id') }} as quote_id,
        inquiry_id,
        occurred_at as quoted_at,
        producer,
        {{ normalize_text('rep_id') }} as rep_id,
        {{ normalize_text('distributor_id') }} as distributor_id,
        {{ payload_field('quote_sent', 'unit_price') }} as unit_price,
        {{ payload_field('quote_sent', 'list_price') }} as list_price,
        {{ payload_field('quote_sent', 'quantity') }} as quantity,
        {{ json_extract_text('payload', 'currency') }} as currency,
        {{ payload_field('quote_sent', 'valid_until') }} as valid_until,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
