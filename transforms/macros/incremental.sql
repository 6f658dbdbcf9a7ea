{#-
    Incremental runs: which events a run must (re)read.

    New data is selected by `ingested_at`, the landing time, never by `occurred_at`. A late
    event (a carrier's scan uploaded days later, an inquiry re-sent a week on) lands now
    with an old `occurred_at`: a filter on `occurred_at` would need a lookback as long as
    the latest event can ever be and would still miss a later one, while landing order
    takes every late event whatever its age. The lookback (var `incremental_lookback_seconds`)
    covers what landing order alone cannot: a batch stamped before the newest landed row
    but committed after the last run read the table (the sink stamps a batch when it
    validates it, and consumers of one group land on their own writer threads), and a
    landing host's clock stepping back. Re-reading that window is harmless: models
    replace what they re-read by key (delete+insert), so every run is idempotent.

    The recipe, for a model of events or of entities built from events:
      1. give it a column saying when the newest event it was built from landed
         (staging: `ingested_at`; an entity: `last_ingested_at`);
      2. `{%- set lower_bound = incremental_lower_bound('<that column>') -%}` once;
      3. per event: `where {{ landed_since(lower_bound) }}` on the source;
         per entity: rebuild, from all of their events, the entities with an event
         `landed_since(lower_bound)` (`keys_landed_since`), and anything else that can
         change an entity's row without an event of its own (a whole-history input such
         as the identity graph) by comparing with `{{ this }}`;
      4. `config(materialized='incremental', unique_key='<key>')`; the strategy is
         delete+insert (dbt_project.yml), which every warehouse dbt supports.
-#}

{#- The landing time from which an incremental run re-reads events: the newest
    `watermark_column` in this model minus the lookback. None when the model is built
    from scratch (first run, --full-refresh) or holds no row yet: then it reads everything.
    The bound is fetched once and inlined as a literal, so warehouses prune the scan of the
    event log by it (a subquery would make them read every row before filtering). -#}
{% macro incremental_lower_bound(watermark_column='ingested_at') -%}
    {%- if var('leadflow_live', false) -%}
        {{ return(live_lower_bound()) }}
    {%- endif -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- if watermark_column | lower not in existing -%}
        {{ exceptions.raise_compiler_error(
            this ~ " has no column " ~ watermark_column ~ " to resume from (it was built by an "
            ~ "older version of the project): rebuild it once with --full-refresh "
            ~ "(`leadflow transform --full-refresh`)"
        ) }}
    {%- endif -%}
    {%- set newest_query -%}
        select max({{ watermark_column }}) as newest from {{ this }}
    {%- endset -%}
    {%- set newest = run_query(newest_query).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(newest - modules.datetime.timedelta(seconds=var('incremental_lookback_seconds'))) }}
{%- endmacro %}

{#- A where-clause condition: the row landed at or after `lower_bound` (from
    incremental_lower_bound); true for every row when the bound is none. -#}
{% macro landed_since(lower_bound, ingested_at='ingested_at') -%}
    {%- if lower_bound is string and lower_bound == live_lower_bound() -%}
        {{ ingested_at }} >= cast('{{ lower_bound }}' as {{ dbt.type_timestamp() }})
    {%- elif lower_bound is none -%}
        1 = 1
    {%- else -%}
        {{ ingested_at }} >= cast('{{ lower_bound.isoformat(sep=" ") }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- A query of the distinct `key` values of the rows of `relations` that landed since
    `lower_bound`: the entities an incremental run must rebuild. -#}
{% macro keys_landed_since(key, relations, lower_bound) -%}
    {%- for relation in relations %}
    select {{ key }}
    from {{ relation }}
    where
        {{ key }} is not null
        and {{ landed_since(lower_bound) }}
    {%- if not loop.last %}

    union
    {% endif -%}
    {%- endfor %}
{%- endmacro %}

{#- On an incremental run, `where <key> in (select <key> from <keys_cte>)`: keep the rows
    of the entities the run rebuilds; nothing when building from scratch. -#}
{% macro restricted_to_keys(key, keys_cte) -%}
    {%- if is_incremental() -%}
    where {{ key }} in (select {{ key }} from {{ keys_cte }})
    {%- endif -%}
{%- endmacro %}

{#- Live staging (`leadflow run`, models/live.py): compiled with var `leadflow_live`, a
    staging model selects the events landed since a moment left as this placeholder, which
    the service fills in on every tick, so a new event is staged by this project's own SQL
    within a second without a dbt run (the next build stages it for good). -#}
{% macro live_lower_bound() -%}
    {{ return('__leadflow_live_since__') }}
{%- endmacro %}

{#- A where-clause condition: the row landed at or before var `leadflow_landed_through`,
    when it is set. `leadflow run` lands events while dbt builds; it sets the var to the
    newest landing committed when the build starts, so that every model of one build
    reads the same events (a model built later in the run would otherwise see events an
    earlier one did not, and their relationships would not hold). -#}
{% macro landed_by_build(ingested_at='ingested_at') -%}
    {%- set through = var('leadflow_landed_through', none) -%}
    {%- if through is none -%}
        1 = 1
    {%- else -%}
        {{ ingested_at }} <= cast('{{ through }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}
