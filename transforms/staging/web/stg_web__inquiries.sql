{{ config(materialized='incremental', unique_key='inquiry_id') }}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type = 'inquiry_submitted'
        and {{ payload_casts('inquiry_submitted') }}
        and {{ landed_by_build() }}

),

-- an incremental run re-ranks every copy of each inquiry that got a new one, so that a late
-- copy dated before the one kept so far replaces it, as a rebuild would
landed as (

    select * from source
    {%- if var('leadflow_live', false) %}
    -- live staging (models/live.py) takes the new copies only: the built table keeps the
    -- earliest of those it holds, and the next build re-ranks them all
    where {{ landed_since(incremental_lower_bound()) }}
    {%- elif is_incremental() %}
    where inquiry_id in (
        select inquiry_id from source
        where {{ landed_since(incremental_lower_bound()) }}
    )
    {%- endif %}

),

-- an inquiry is submitted once: a re-sent submission (same event or a new event id for
-- the same inquiry_id) keeps the earliest
ranked as (

    select
        *,
        {{ dedup_rank('inquiry_id') }} as dedup_rank
    from landed

),

renamed as (

    select
        inquiry_id,
        event_id,
        anonymous_id,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ normalize_text('company') }} as company,
        {{ normalize_text('account_id') }} as account_id,
        occurred_at as submitted_at,
        producer,
        {{ json_extract_text('payload', 'channel') }} as channel,
        {{ json_extract_text('payload', 'campaign') }} as campaign,
        trim({{ json_extract_text('payload', 'contact_name') }}) as contact_name,
        upper(trim({{ json_extract_text('payload', 'country') }})) as country,
        {{ normalize_text(json_extract_text('payload', 'province')) }} as province,
        {{ json_extract_text('payload', 'sku') }} as sku,
        {{ json_extract_text('payload', 'product_category') }} as product_category,
        {{ payload_field('inquiry_submitted', 'quantity') }} as quantity,
        {{ payload_field('inquiry_submitted', 'target_unit_price') }}
            as target_unit_price,
        {{ payload_field('inquiry_submitted', 'list_unit_price') }}
            as list_unit_price,
        {{ json_extract_text('payload', 'currency') }} as currency,
        coalesce(
            {{ payload_field('inquiry_submitted', 'needs_customization') }},
            false
        ) as needs_customization,
        coalesce({{ json_extract_text('payload', 'message') }}, '') as message,
        -- upcast to v2: v1 (marketplaces, and the shop before its 2025 checkout) did not
        -- ask for delivery terms, so a v1 inquiry's incoterm and deadline are unknown
        case
            when schema_version >= 2 then {{ json_extract_text('payload', 'incoterm') }}
        end as incoterm,
        case
            when schema_version >= 2
                then {{ payload_field('inquiry_submitted', 'delivery_deadline') }}
        end as delivery_deadline,
        schema_version as source_schema_version,
        ingested_at
    from ranked
    where dedup_rank = 1

),

final as (

    select * from renamed

)

select * from final
