{#-
    Indexes for the lookups of live scoring (models/live.py). Between two builds, each tick
    of `leadflow run` reads, of the staging tables, only the rows of a few hundred
    inquiries: their own steps, their visitors' web events, their buyers' orders and those
    orders' shipments. Without an index the warehouse scans a whole table for them (70 ms
    for the 2.1M page views of a 10M-event log, a dozen such lookups a tick); with one,
    about 2 ms.

    Made at the end of every run (on-run-end, one statement each, `if not exists`): the
    first run after a table is created builds its index, and incremental runs' deletes and
    inserts keep it current. DuckDB cannot rename a table that has an index, and a full
    refresh swaps its new tables in by renaming, so a full refresh drops them first
    (on-run-start). Both run once per dbt invocation, on one thread: index DDL next to
    another thread's table swap fails on DuckDB.
-#}

{% macro lookup_index_columns() -%}
    {{ return({
        'stg_web__inquiries': ['inquiry_id'],
        'stg_web__page_views': ['anonymous_id'],
        'stg_web__product_views': ['anonymous_id'],
        'stg_web__searches': ['anonymous_id'],
        'stg_sales__orders': ['order_id', 'inquiry_id'],
        'stg_sales__lead_assignments': ['inquiry_id'],
        'stg_sales__lead_contacts': ['inquiry_id'],
        'stg_sales__quotes': ['inquiry_id'],
        'stg_sales__customization_assessments': ['inquiry_id'],
        'stg_sales__inquiry_closures': ['inquiry_id'],
        'stg_logistics__shipment_events': ['order_id'],
        'stg_logistics__returns': ['order_id'],
    }) }}
{%- endmacro %}


{% macro create_lookup_indexes() -%}
    {%- if execute -%}
        {%- for model, columns in lookup_index_columns().items() -%}
            {%- set relation = adapter.get_relation(
                database=target.database, schema=target.schema, identifier=model
            ) -%}
            {%- if relation is not none -%}
                {%- for column in columns %}
    create index if not exists {{ model }}__by_{{ column }} on {{ relation }} ({{ column }});
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{% macro drop_lookup_indexes() -%}
    {%- if execute and flags.FULL_REFRESH -%}
        {%- for model, columns in lookup_index_columns().items() -%}
            {%- for column in columns %}
    drop index if exists {{ target.schema }}.{{ model }}__by_{{ column }};
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
