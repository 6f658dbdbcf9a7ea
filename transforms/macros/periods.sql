{#- Calendar periods of the leadership marts: ISO weeks (Monday to Sunday), months,
    quarters and years of the company's calendar. A period is named by its first day, a
    date. They are cut from business dates (macros/business_time.sql): a UTC timestamp
    goes through business_date first, so that an inquiry at 23:30 in Beijing on 31 March
    counts in March and Q1, not in the UTC day it was; a date the business recorded (an
    ad-spend day, a promised delivery day) is one already. -#}

{#- The grains every leadership mart reports by, finest first. -#}
{% macro period_grains() -%}
    {{ return(['week', 'month', 'quarter', 'year']) }}
{%- endmacro %}

{#- The first day of the `grain` period (a literal: week, month, quarter or year) holding
    a business date. -#}
{% macro period_start(grain, date) -%}
    {%- if grain == 'week' -%}
        {{ iso_week_start(date) }}
    {%- elif grain in ('month', 'quarter', 'year') -%}
        cast({{ dbt.date_trunc(grain, date) }} as date)
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown period grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{#- The first day of the period holding a business date, for a grain held in a column. -#}
{% macro period_start_for(grain_column, date) -%}
    case {{ grain_column }}
        {%- for grain in period_grains() %}
        when '{{ grain }}' then {{ period_start(grain, date) }}
        {%- endfor %}
    end
{%- endmacro %}

{#- Whether the log misses part of the period from `period_start` to `period_end`
    (exclusive; business dates): the log starts after the period's first day (the first
    period of each grain, unless the log starts on that day), or some source's newest event
    (`complete_through`, UTC) has not reached the period's end (the period still running,
    and any period after a source stopped). A partial period's figures are not comparable
    with a whole one's. -#}
{% macro is_partial_period(period_start, period_end, log_starts_on, complete_through) -%}
    ({{ log_starts_on }} > {{ period_start }}
    or not coalesce({{ business_time(complete_through) }} >= {{ period_end }}, false))
{%- endmacro %}

{#- A date moved by a number of `grain` periods; quarters move as three months, because
    not every warehouse has a quarter interval (PostgreSQL has none). -#}
{% macro add_periods(grain, periods, date) -%}
    {%- if grain == 'quarter' -%}
        cast({{ dbt.dateadd('month', '3 * (' ~ periods ~ ')', date) }} as date)
    {%- else -%}
        cast({{ dbt.dateadd(grain, periods, date) }} as date)
    {%- endif -%}
{%- endmacro %}

{#- How a period is written for people: 2024-W01 (ISO year and week), 2024-01, 2024-Q1,
    2024. The ISO year and week of a week are those of its Thursday. -#}
{% macro period_label(grain, period_start) -%}
    {%- if grain == 'week' -%}
        {%- set thursday = dbt.dateadd('day', 3, period_start) -%}
        {%- set day_of_year = dbt.datediff(dbt.date_trunc('year', thursday), thursday, 'day') -%}
        {%- set week_number = '1 + floor(' ~ day_of_year ~ ' / 7.0)' -%}
        {{ dbt.concat([year_text(thursday), "'-W'", two_digits(week_number)]) }}
    {%- elif grain == 'month' -%}
        {%- set month_number = 'extract(month from ' ~ period_start ~ ')' -%}
        {{ dbt.concat([year_text(period_start), "'-'", two_digits(month_number)]) }}
    {%- elif grain == 'quarter' -%}
        {%- set quarter_number = '1 + floor((extract(month from ' ~ period_start ~ ') - 1) / 3.0)' -%}
        {{ dbt.concat([year_text(period_start), "'-Q'", integer_text(quarter_number)]) }}
    {%- else -%}
        {{ year_text(period_start) }}
    {%- endif -%}
{%- endmacro %}

{#- A whole number (whatever its numeric type) written as text, e.g. 2024 or 7. -#}
{% macro integer_text(number) -%}
    cast(cast({{ number }} as {{ dbt.type_int() }}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro year_text(date) -%}
    {{ integer_text('extract(year from ' ~ date ~ ')') }}
{%- endmacro %}

{#- 1 to 12 as '01' to '12'. -#}
{% macro two_digits(number) -%}
    {{ dbt.right(dbt.concat(["'0'", integer_text(number)]), 2) }}
{%- endmacro %}

{#- The integers 0 .. 2^bits - 1 as `period_offset`, from cross joins of a two-row table:
    plain SQL on every warehouse, no generate_series. 12 bits count 4,096 weeks (78 years). -#}
{% macro period_offsets(bits=12) -%}
    select
        {% for bit in range(bits) -%}
        {{ 2 ** bit }} * bit_{{ bit }}.bit_value{{ " +" if not loop.last else " as period_offset" }}
        {% endfor -%}
    from
        {% for bit in range(bits) -%}
        (select 0 as bit_value union all select 1 as bit_value) as bit_{{ bit }}
        {{- "\n        cross join " if not loop.last }}
        {%- endfor %}
{%- endmacro %}
