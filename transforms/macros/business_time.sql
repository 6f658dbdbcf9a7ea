{#- Business time. The warehouse stores every moment as a naive timestamp in UTC; the company
    counts its days, weeks, months, quarters and years on its own clock, in the time zone
    of var business_timezone (LEADFLOW_BUSINESS_TIMEZONE, default Asia/Shanghai). -#}

{#- The company's time zone, checked against the IANA database (pytz's copy, which dbt
    gives macros): a misspelt zone stops the build before it starts, naming the zone, and a
    quote in it never reaches the SQL. -#}
{% macro business_timezone() -%}
    {%- set zone = var('business_timezone') -%}
    {%- if zone not in modules.pytz.all_timezones_set -%}
        {{ exceptions.raise_compiler_error(
            "business_timezone '" ~ zone ~ "' is not a time zone: give an IANA name such as "
            ~ "Asia/Shanghai or UTC"
        ) }}
    {%- endif -%}
    {{ return(zone) }}
{%- endmacro %}

{#- A naive UTC timestamp as the wall-clock time it was in the company's time zone (naive
    too): what a clock on the company's wall showed. -#}
{% macro business_time(timestamp) -%}
    {{ return(adapter.dispatch('business_time', 'leadflow')(timestamp)) }}
{%- endmacro %}

{#- SQL's AT TIME ZONE, twice: a naive timestamp read as UTC is a moment, and that moment at
    the company's zone is its wall-clock time; neither step depends on the session's time
    zone. DuckDB (its ICU extension, built into the Python wheel) and PostgreSQL read it so;
    a warehouse that reads AT TIME ZONE otherwise, or lacks it, adds its own
    <adapter>__business_time (Snowflake: convert_timezone('UTC', zone, timestamp)). -#}
{% macro default__business_time(timestamp) -%}
    (({{ timestamp }}) at time zone 'UTC') at time zone '{{ business_timezone() }}'
{%- endmacro %}

{#- The company's calendar day of a naive UTC timestamp: the date periods are cut from. -#}
{% macro business_date(timestamp) -%}
    cast({{ business_time(timestamp) }} as date)
{%- endmacro %}
