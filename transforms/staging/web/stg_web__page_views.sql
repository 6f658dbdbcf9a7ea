{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'page_viewed'
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
        {{ json_extract_text('payload', 'url') }} as url,
        {{ json_extract_text('payload', 'page_type') }} as page_type,
        {{ json_extract_text('payload', 'referrer') }} as referrer,
        {{ json_extract_text('payload', 'utm_source') }} as utm_source,
        {{ json_extract_text('payload', 'utm_campaign') }} as utm_campaign,
        {{ json_extract_text('payload', 'device') }} as device,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
