{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'ad_spend_recorded'
        and {{ payload_casts('ad_spend_recorded') }}
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
        occurred_at as recorded_at,
        producer,
        {{ json_extract_text('payload', 'channel') }} as channel,
        {{ json_extract_text('payload', 'campaign') }} as campaign,
        {{ payload_field('ad_spend_recorded', 'day') }} as spend_date,
        {{ payload_field('ad_spend_recorded', 'amount') }} as amount,
        {{ json_extract_text('payload', 'currency') }} as currency,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
