{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'quote_sent'
        and {{ landed_since(incremental_lower_bound()) }}

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
        {{ json_extract_cast('payload', 'unit_price', dbt.type_numeric()) }} as unit_price,
        {{ json_extract_cast('payload', 'list_price', dbt.type_numeric()) }} as list_price,
        {{ json_extract_cast('payload', 'quantity', dbt.type_int()) }} as quantity,
        {{ json_extract_text('payload', 'currency') }} as currency,
        cast({{ json_extract_text('payload', 'valid_until') }} as date) as valid_until,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
