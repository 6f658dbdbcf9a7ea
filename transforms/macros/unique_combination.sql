{#- Generic test: no two rows share the same values of `columns` (a multi-column key).
    Fails with each duplicated combination and how often it occurs. -#}
{% test unique_combination(model, columns) %}

with

duplicates as (

    select
        {% for column in columns -%}
        {{ column }},
        {% endfor -%}
        count(*) as occurrences
    from {{ model }}
    group by
        {% for column in columns -%}
        {{ column }}{{ "," if not loop.last }}
        {% endfor %}
    having count(*) > 1

)

select * from duplicates

{% endtest %}
