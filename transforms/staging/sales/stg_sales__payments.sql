{{ config(materialized='incremental', unique_key='event_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'payment_received'
        and {{ payload_casts('payment_received') }}
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
        {{ normalize_text('account_id') }} as account_id,
        occurred_at as received_at,
        producer,
        {{ payload_field('payment_received', 'amount') }} as amount,
        {{ json_extract_text('payload', 'currency') }} as currency,
        {{ json_extract_text('payload', 'method') }} as payment_method,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
