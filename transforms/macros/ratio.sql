{#- numerator / denominator as a fraction, null when the denominator is 0 or null. Both
    are cast to the SQL standard's double precision, so a rate is a float on every
    warehouse (PostgreSQL would otherwise give numeric, DuckDB double). -#}
{% macro ratio(numerator, denominator) -%}
    (
        cast({{ numerator }} as double precision)
        / nullif(cast({{ denominator }} as double precision), 0)
    )
{%- endmacro %}
