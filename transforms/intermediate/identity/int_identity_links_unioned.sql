{#-
    Which identity keys each kind of event ties together. An event is about one entity,
    its anchor (a visitor, an inquiry, an order, a shipment); every other key it carries
    is linked to that anchor. The anchor is linked to itself too, so that every entity is
    a node of the graph even when it carries nothing else.
      web events   : visitor  <-> email / phone / account of a signed-in visitor
      inquiries    : inquiry  <-> visitor, email, phone, account
      assignments  : inquiry  <-> account (the CRM recognised a repeat buyer)
      orders       : order    <-> inquiry, account, email, phone
      payments     : order    <-> account
      shipments    : shipment <-> order
      returns      : order    <-> shipment
    Other sales follow-ups (contact, quote, closure) carry only the inquiry and a rep or
    distributor, who is not the buyer, so they link nothing.
-#}
{%- set linking_events = [
    {'cte': 'page_views', 'event_type': 'page_viewed', 'at': 'viewed_at',
     'anchor': 'anonymous_id', 'keys': ['email', 'phone', 'account_id']},
    {'cte': 'product_views', 'event_type': 'product_viewed', 'at': 'viewed_at',
     'anchor': 'anonymous_id', 'keys': ['email', 'phone', 'account_id']},
    {'cte': 'searches', 'event_type': 'search_performed', 'at': 'searched_at',
     'anchor': 'anonymous_id', 'keys': ['email', 'phone', 'account_id']},
    {'cte': 'inquiries', 'event_type': 'inquiry_submitted', 'at': 'submitted_at',
     'anchor': 'inquiry_id', 'keys': ['anonymous_id', 'email', 'phone', 'account_id']},
    {'cte': 'lead_assignments', 'event_type': 'lead_assigned', 'at': 'assigned_at',
     'anchor': 'inquiry_id', 'keys': ['account_id']},
    {'cte': 'orders', 'event_type': 'order_placed', 'at': 'placed_at',
     'anchor': 'order_id', 'keys': ['inquiry_id', 'account_id', 'email', 'phone']},
    {'cte': 'payments', 'event_type': 'payment_received', 'at': 'received_at',
     'anchor': 'order_id', 'keys': ['account_id']},
    {'cte': 'shipment_events', 'event_type': 'shipment_event', 'at': 'occurred_at',
     'anchor': 'shipment_id', 'keys': ['order_id']},
    {'cte': 'returns', 'event_type': 'return_received', 'at': 'received_at',
     'anchor': 'order_id', 'keys': ['shipment_id']},
] -%}

with

page_views as (

    select * from {{ ref('stg_web__page_views') }}

),

product_views as (

    select * from {{ ref('stg_web__product_views') }}

),

searches as (

    select * from {{ ref('stg_web__searches') }}

),

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

lead_assignments as (

    select * from {{ ref('stg_sales__lead_assignments') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

payments as (

    select * from {{ ref('stg_sales__payments') }}

),

shipment_events as (

    select * from {{ ref('stg_logistics__shipment_events') }}

),

returns as (

    select * from {{ ref('stg_logistics__returns') }}

),

contact_identifiers as (

    select * from {{ ref('int_contact_identifiers_screened') }}

),

-- one row per (event, identity key on it): the anchor and each key, placeholders
-- ('n/a', 'test@test.com', 'sales@…', '000000', …) nulled so that they never link anyone
mentions as (

    {%- for linking in linking_events %}
    {%- for key in [linking.anchor] + linking["keys"] %}

    select
        event_id,
        {% if linking.event_type == 'shipment_event' -%}
        {{ dbt.concat(["'shipment_'", 'shipment_event_type']) }} as event_type,
        {%- else -%}
        '{{ linking.event_type }}' as event_type,
        {%- endif %}
        {{ linking.at }} as occurred_at,
        '{{ linking.anchor }}' as from_identifier_type,
        {{ usable_identifier(linking.anchor, linking.anchor) }} as from_identifier_value,
        '{{ key }}' as to_identifier_type,
        {{ usable_identifier(key, key) }} as to_identifier_value
    from {{ linking.cte }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

-- emails and phones several buyers gave do not link either
usable_mentions as (

    select
        mentions.*,
        {{ dbt.concat(['mentions.from_identifier_type', "':'", 'mentions.from_identifier_value']) }}
            as from_identifier,
        {{ dbt.concat(['mentions.to_identifier_type', "':'", 'mentions.to_identifier_value']) }}
            as to_identifier
    from mentions
    left join contact_identifiers
        on
            mentions.to_identifier_type = contact_identifiers.identifier_type
            and mentions.to_identifier_value = contact_identifiers.identifier_value
    where
        mentions.from_identifier_value is not null
        and mentions.to_identifier_value is not null
        and not coalesce(contact_identifiers.is_shared, false)

),

-- the event that first made each link, to explain it when someone asks why
ranked_mentions as (

    select
        *,
        row_number() over (
            partition by from_identifier, to_identifier
            order by occurred_at, event_id
        ) as mention_rank
    from usable_mentions

),

links as (

    select
        from_identifier,
        to_identifier,
        min(occurred_at) as first_linked_at,
        max(occurred_at) as last_linked_at,
        count(*) as linking_events
    from usable_mentions
    group by
        from_identifier,
        to_identifier

),

final as (

    select
        {{ dbt.hash(dbt.concat(['links.from_identifier', "' -> '", 'links.to_identifier'])) }}
            as identity_link_id,
        links.from_identifier,
        first_mentions.from_identifier_type,
        first_mentions.from_identifier_value,
        links.to_identifier,
        first_mentions.to_identifier_type,
        first_mentions.to_identifier_value,
        links.from_identifier = links.to_identifier as is_self_link,
        first_mentions.event_id as first_event_id,
        first_mentions.event_type as first_event_type,
        links.first_linked_at,
        links.last_linked_at,
        links.linking_events
    from links
    inner join ranked_mentions as first_mentions
        on
            links.from_identifier = first_mentions.from_identifier
            and links.to_identifier = first_mentions.to_identifier
            and first_mentions.mention_rank = 1

)

select * from final
