{#- Where the probabilistic matches of contact records come from. On DuckDB, the dbt Python
    model int_contact_records_matched runs Splink in the build. Warehouses whose dbt adapter
    runs no Python models read the same pairs from the table
    identity.int_contact_records_matched, written by Splink with that warehouse's own backend
    or copied from a DuckDB build (README: "Moving the warehouse to another database").
    Only the model int_contact_record_pairs calls this macro. -#}
{% macro contact_record_matches() -%}
    {%- if target.type == 'duckdb' -%}
        {{ return(ref('int_contact_records_matched')) }}
    {%- else -%}
        {{ return(source('identity', 'int_contact_records_matched')) }}
    {%- endif -%}
{%- endmacro %}
