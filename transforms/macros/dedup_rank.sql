{#- 1 for the copy of each `partition_by` value that staging keeps: the earliest event, ties
    broken by event_id, so the choice depends on the events alone and a rebuild from a
    replayed log picks the same one. Landing keeps event_id unique already; this is the
    defensive dedupe, and the entity dedupe where an entity is created once (an inquiry,
    an order). -#}
{% macro dedup_rank(partition_by='event_id') -%}
    row_number() over (
        partition by {{ partition_by }}
        order by occurred_at, event_id, ingested_at, kafka_topic, kafka_partition, kafka_offset
    )
{%- endmacro %}
