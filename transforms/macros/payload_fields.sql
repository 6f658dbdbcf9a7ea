{#- The payload fields staging casts to a type other than text, per event type, as
    ingestion/contracts.py declares them (tests/transforms/test_conventions.py keeps the
    two in step). The contract refuses what would not cast, but the log may hold events
    landed before a rule existed: staging casts with cast_or_null, leaves out an event with a
    field that does not cast, and stg_leadflow__rejected_values lists it with the reason,
    so one bad event never fails a build. -#}
{% macro typed_payload_fields() -%}
    {{ return({
        'inquiry_submitted': {
            'quantity': 'int',
            'target_unit_price': 'numeric',
            'list_unit_price': 'numeric',
            'needs_customization': 'boolean',
            'delivery_deadline': 'date',
        },
        'ad_spend_recorded': {'day': 'date', 'amount': 'numeric'},
        'search_performed': {'results_count': 'int'},
        'lead_contacted': {'contact_number': 'int'},
        'quote_sent': {
            'unit_price': 'numeric',
            'list_price': 'numeric',
            'quantity': 'int',
            'valid_until': 'date',
        },
        'customization_assessed': {'feasible': 'boolean', 'lead_time_days': 'int'},
        'order_placed': {'amount': 'numeric'},
        'payment_received': {'amount': 'numeric'},
        'shipment_created': {'promised_date': 'date'},
        'return_received': {'quantity': 'int'},
    }) }}
{%- endmacro %}

{#- The SQL type of a kind of typed_payload_fields. -#}
{% macro sql_type_of(kind) -%}
    {%- if kind == 'int' -%} {{ dbt.type_int() }}
    {%- elif kind == 'numeric' -%} {{ dbt.type_numeric() }}
    {%- elif kind == 'boolean' -%} {{ dbt.type_boolean() }}
    {%- elif kind == 'date' -%} date
    {%- else -%} {{ exceptions.raise_compiler_error("no SQL type for kind " ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- The payload field `key` of an `event_type` event, cast to its type; null when absent or
    when it does not cast. -#}
{% macro payload_field(event_type, key) -%}
    {{ cast_or_null(json_extract_text('payload', key), typed_payload_fields()[event_type][key]) }}
{%- endmacro %}

{#- A condition: every typed payload field of `event_type` is absent or casts. -#}
{% macro payload_casts(event_type) -%}
    (
    {%- for key in typed_payload_fields()[event_type] %}
        ({{ json_extract_text('payload', key) }} is null
        or {{ payload_field(event_type, key) }} is not null)
        {{- " and" if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{#- `expression` (text) cast to the SQL type of `kind` (typed_payload_fields), or null when it
    does not cast: try_cast where the warehouse has it (DuckDB, Snowflake, Trino, Spark,
    SQL Server), safe_cast on BigQuery, a function on PostgreSQL. -#}
{% macro cast_or_null(expression, kind) -%}
    {{ return(adapter.dispatch('cast_or_null', 'leadflow')(expression, kind)) }}
{%- endmacro %}

{% macro default__cast_or_null(expression, kind) -%}
    try_cast({{ expression }} as {{ sql_type_of(kind) }})
{%- endmacro %}

{% macro bigquery__cast_or_null(expression, kind) -%}
    safe_cast({{ expression }} as {{ sql_type_of(kind) }})
{%- endmacro %}

{#- PostgreSQL has no try_cast: create_cast_or_null_functions (on-run-start) defines one
    function per kind that returns null where the cast raises. -#}
{% macro postgres__cast_or_null(expression, kind) -%}
    cast({{ target.schema }}.leadflow_try_cast_{{ kind }}({{ expression }}) as {{ sql_type_of(kind) }})
{%- endmacro %}

{#- on-run-start: the functions postgres__cast_or_null calls; nothing elsewhere. -#}
{% macro create_cast_or_null_functions() -%}
    {{ return(adapter.dispatch('create_cast_or_null_functions', 'leadflow')()) }}
{%- endmacro %}

{% macro default__create_cast_or_null_functions() -%}
{%- endmacro %}

{% macro postgres__create_cast_or_null_functions() -%}
    create schema if not exists {{ target.schema }};
    {%- for kind in ['int', 'numeric', 'boolean', 'date'] %}
    create or replace function {{ target.schema }}.leadflow_try_cast_{{ kind }}(value text)
    returns {{ sql_type_of(kind) }}
    language plpgsql immutable as $$
    begin
        {%- if kind == 'int' %}
        -- through numeric, as DuckDB's cast reads them: 20.0 (JSON's integer 20) and 1e3
        return cast(cast(value as numeric) as {{ sql_type_of(kind) }});
        {%- else %}
        return cast(value as {{ sql_type_of(kind) }});
        {%- endif %}
    exception when others then
        return null;
    end;
    $$;
    {%- endfor %}
{%- endmacro %}
