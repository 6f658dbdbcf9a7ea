{#- Number of elements of the JSON array at `key` of a JSON object column. -#}
{% macro json_array_length(json_column, key) -%}
    {{ return(adapter.dispatch('json_array_length', 'leadflow')(json_column, key)) }}
{%- endmacro %}

{% macro default__json_array_length(json_column, key) -%}
    json_array_length(json_query({{ json_column }}, '$.{{ key }}'))
{%- endmacro %}

{% macro duckdb__json_array_length(json_column, key) -%}
    cast(json_array_length({{ json_column }}, '$.{{ key }}') as {{ dbt.type_int() }})
{%- endmacro %}

{#- json_array_length takes json, not jsonb: the cast lets payload be either. -#}
{% macro postgres__json_array_length(json_column, key) -%}
    json_array_length(cast({{ json_column }} as json) -> '{{ key }}')
{%- endmacro %}
