{#- The median of an expression over a group (interpolated between the two middle values
    when their number is even; nulls ignored). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median', 'leadflow')(expression)) }}
{%- endmacro %}

{#- The SQL standard's ordered-set aggregate (Snowflake, Oracle, SQL Server, Trino). -#}
{% macro default__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{#- PostgreSQL has no median(); its percentile_cont needs a double precision argument. -#}
{% macro postgres__median(expression) -%}
    percentile_cont(0.5) within group (order by cast({{ expression }} as double precision))
{%- endmacro %}
