{#- The Monday that starts the ISO week holding a timestamp or date, as a date. -#}
{% macro iso_week_start(timestamp) -%}
    {{ return(adapter.dispatch('iso_week_start', 'leadflow')(timestamp)) }}
{%- endmacro %}

{#- Counted from 1900-01-01, a Monday, so that it holds whatever day of the week a
    warehouse's own date_trunc('week') starts on (Sunday on BigQuery, a session setting on
    Snowflake). -#}
{% macro default__iso_week_start(timestamp) -%}
    {%- set day = 'cast(' ~ timestamp ~ ' as date)' -%}
    {%- set days_since_a_monday = dbt.datediff("cast('1900-01-01' as date)", day, 'day') -%}
    cast({{ dbt.dateadd('day', '-1 * mod(' ~ days_since_a_monday ~ ', 7)', day) }} as date)
{%- endmacro %}

{#- DuckDB and PostgreSQL truncate to ISO weeks, which start on Monday. -#}
{% macro duckdb__iso_week_start(timestamp) -%}
    cast(date_trunc('week', {{ timestamp }}) as date)
{%- endmacro %}

{% macro postgres__iso_week_start(timestamp) -%}
    cast(date_trunc('week', {{ timestamp }}) as date)
{%- endmacro %}
