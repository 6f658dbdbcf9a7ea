{#- Building blocks of the leadership marts, which compare every period with the one
    before it and with the same period a year earlier (see docs/tables.md). A mart first
    summarises its measures per period_grain, period_start and dimension values, in a CTE;
    these macros turn that CTE into the rows and columns people read. -#}

{#- The rows a mart shows: each period × dimension values that had activity in it, in the
    period before it, or in the same period a year earlier. A drop to nothing shows as a
    row with zeros, while the grid stays as small as the activity. `measures` is the CTE of
    summarised measures, `periods` the dim_periods CTE; dimensions must not be null. -#}
{% macro period_grid(measures, periods, dimensions) -%}
    select
        period_grain,
        period_start{% for dimension in dimensions %},
        {{ dimension }}
        {%- endfor %}
    from {{ measures }}
    {%- for comparison in ['previous_period_start', 'year_ago_period_start'] %}

    union

    select
        {{ periods }}.period_grain,
        {{ periods }}.period_start{% for dimension in dimensions %},
        {{ measures }}.{{ dimension }}
        {%- endfor %}
    from {{ measures }}
    inner join {{ periods }}
        on
            {{ measures }}.period_grain = {{ periods }}.period_grain
            and {{ measures }}.period_start = {{ periods }}.{{ comparison }}
    {%- endfor %}
{%- endmacro %}

{#- Joins a grid row (alias `grid`) to its period (`periods`) and to the measures of that
    period (`current_period`), of the period before (`previous_period`) and of the same
    period a year earlier (`year_ago_period`), for the same dimension values. -#}
{% macro period_comparison_joins(periods, measures, dimensions) -%}
    inner join {{ periods }} as periods
        on
            grid.period_grain = periods.period_grain
            and grid.period_start = periods.period_start
    {%- for side, start in [
        ('current_period', 'period_start'),
        ('previous_period', 'previous_period_start'),
        ('year_ago_period', 'year_ago_period_start'),
    ] %}
    left join {{ measures }} as {{ side }}
        on
            {{ side }}.period_grain = periods.period_grain
            and {{ side }}.period_start = periods.{{ start }}
            {%- for dimension in dimensions %}
            and {{ side }}.{{ dimension }} = grid.{{ dimension }}
            {%- endfor %}
    {%- endfor %}
{%- endmacro %}

{#- A measure and how it moved, from the sources that period_comparison_joins names:
      <measure>             its value in the period
      <measure>_pop_change  minus its value in the previous period
      <measure>_pop_growth  that change relative to the previous value (0.25 = +25 %)
      <measure>_yoy_change  minus its value in the same period a year earlier
      <measure>_yoy_growth  that change relative to the year-earlier value
    A comparison is null when the other period lies before the first event, or when either
    period is partial (dim_periods.is_partial: the log's first period, unless it starts on
    its first day, and the period still running), so that a stub period is never compared
    as if whole; a growth is null also when the other value is 0 or null. `additive`: a count or sum, 0 in a period
    without activity; otherwise (a rate, median or average) null there. `growth`: whether to
    add the relative columns (not for rates, whose change reads as percentage points).
    `known`: a condition on the row; where it does not hold, the measure and its
    comparisons are null (unknown: the log does not record it there). -#}
{% macro period_over_period(measure, additive=true, growth=true, known=none) -%}
    {%- set values = {} -%}
    {%- for side in ['current_period', 'previous_period', 'year_ago_period'] -%}
        {%- set value = side ~ '.' ~ measure -%}
        {%- do values.update({side: 'coalesce(' ~ value ~ ', 0)' if additive else value}) -%}
    {%- endfor -%}
    {{ _when_known(values['current_period'], known) }} as {{ measure }}
    {%- for prefix, side, known_period in [
        ('pop', 'previous_period', 'has_comparable_previous_period'),
        ('yoy', 'year_ago_period', 'has_comparable_year_ago_period'),
    ] -%},
        {{ _when_known(
            'case when periods.' ~ known_period ~ ' then '
            ~ values['current_period'] ~ ' - ' ~ values[side] ~ ' end',
            known
        ) }} as {{ measure }}_{{ prefix }}_change
        {%- if growth -%},
        {{ _when_known(
            'case when periods.' ~ known_period ~ ' then '
            ~ ratio(values['current_period'] ~ ' - ' ~ values[side], values[side]) ~ ' end',
            known
        ) }} as {{ measure }}_{{ prefix }}_growth
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- `expression`, or null where the condition `known` does not hold (when one is given):
    a measure the log does not record there (no ad spend recorded for a channel) reads
    unknown, never 0. -#}
{% macro _when_known(expression, known) -%}
    {%- if known is none -%}
        {{ expression }}
    {%- else -%}
        case when {{ known }} then {{ expression }} end
    {%- endif -%}
{%- endmacro %}
