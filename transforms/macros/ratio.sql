{#- numerator / denominator as a fraction, null when the denominator is 0 or null. -#}
{% macro ratio(numerator, denominator) -%}
    (1.0 * ({{ numerator }}) / nullif({{ denominator }}, 0))
{%- endmacro %}
