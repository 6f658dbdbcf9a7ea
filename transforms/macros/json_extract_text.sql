{#- The text value at `key` of a JSON object column (null when absent): the one place that
    knows each warehouse's JSON syntax. The default is SQL:2016 json_value (PostgreSQL
    has it only from 17). -#}
{% macro json_extract_text(json_column, key) -%}
    {{ return(adapter.dispatch('json_extract_text', 'leadflow')(json_column, key)) }}
{%- endmacro %}

{% macro default__json_extract_text(json_column, key) -%}
    json_value({{ json_column }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_extract_text(json_column, key) -%}
    json_extract_string({{ json_column }}, '$.{{ key }}')
{%- endmacro %}

{#- ->> reads json and jsonb alike; a JSON null comes back as SQL null, as on DuckDB. -#}
{% macro postgres__json_extract_text(json_column, key) -%}
    ({{ json_column }} ->> '{{ key }}')
{%- endmacro %}
