{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'product_viewed'
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
        anonymous_id,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ normalize_text('account_id') }} as account_id,
        occurred_at as viewed_at,
        producer,
        {{ json_extract_text('payload', 'sku') }} as sku,
        {{ json_extract_text('payload', 'product_category') }} as product_category,
        {{ json_extract_text('payload', 'url') }} as url,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
