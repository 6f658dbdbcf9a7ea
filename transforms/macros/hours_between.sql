{#- Hours, with fractions, from one timestamp to a later one (negative when it is earlier). -#}
{% macro hours_between(start_timestamp, end_timestamp) -%}
    ({{ dbt.datediff(start_timestamp, end_timestamp, 'second') }} / 3600.0)
{%- endmacro %}
