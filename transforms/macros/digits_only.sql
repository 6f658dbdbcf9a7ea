{#- The digits of a text column, every other character removed ('+86 138-0013' -> '860138'). -#}
{% macro digits_only(column) -%}
    {{ return(adapter.dispatch('digits_only', 'leadflow')(column)) }}
{%- endmacro %}

{#- Snowflake, BigQuery, Spark and Trino replace every match by default. -#}
{% macro default__digits_only(column) -%}
    regexp_replace({{ column }}, '[^0-9]', '')
{%- endmacro %}

{% macro duckdb__digits_only(column) -%}
    regexp_replace({{ column }}, '[^0-9]', '', 'g')
{%- endmacro %}

{% macro postgres__digits_only(column) -%}
    regexp_replace({{ column }}, '[^0-9]', '', 'g')
{%- endmacro %}
