{{ config(materialized='incremental', unique_key=['event_id', 'field_name']) }}

{#- One row per typed payload field (macros/payload_fields.sql) that holds a value which does
    not cast to its type: staging leaves such an event out, and this says which and why. -#}
{%- set typed_fields = typed_payload_fields() %}

with

source as (

    select * from {{ source('leadflow', 'raw_events') }}
    where
        event_type in (
            {%- for event_type in typed_fields %}
            '{{ event_type }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
        and {{ landed_since(incremental_lower_bound()) }}
        and {{ landed_by_build() }}

),

uncast as (
    {%- for event_type, fields in typed_fields.items() %}
    {%- for field_name, kind in fields.items() %}

    select
        event_id,
        event_type,
        '{{ field_name }}' as field_name,
        {{ json_extract_text('payload', field_name) }} as field_value,
        '{{ kind }}' as expected_type,
        occurred_at,
        ingested_at
    from source
    where
        event_type = '{{ event_type }}'
        and {{ json_extract_text('payload', field_name) }} is not null
        and {{ payload_field(event_type, field_name) }} is null
    {{ "union all" if not loop.last }}
    {%- endfor %}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

final as (

    select
        event_id,
        event_type,
        field_name,
        field_value,
        expected_type,
        {{ dbt.concat([
            "'payload.'",
            "field_name",
            "' = '",
            "left(field_value, 100)",
            "' is not a valid '",
            "expected_type",
        ]) }} as reason,
        occurred_at,
        ingested_at
    from uncast

)

select * from final
