{#-
    The edges of the identity graph, each with the rule or the match score that made it.

    Deterministic links come from events. An event is about one entity, its anchor (a
    visitor, an inquiry, an order, a shipment); every other key it carries is linked to
    that anchor. The anchor is linked to itself too, so that every entity is a node of the
    graph even when it carries nothing else.
      web events   : visitor  <-> email / phone / account of a signed-in visitor
      inquiries    : inquiry  <-> visitor, email, phone, account
      assignments  : inquiry  <-> account (the CRM recognised a repeat buyer)
      orders       : order    <-> inquiry, account, email, phone
      payments     : order    <-> account
      shipments    : shipment <-> order
      returns      : order    <-> shipment
    Other sales follow-ups (contact, quote, closure) carry only the inquiry and a rep or
    distributor, who is not the buyer, so they link nothing.
    One more deterministic rule: a record naming a company (normalised key, see
    macros/company_names.sql) registered to exactly one CRM account links to that account.

    Probabilistic links are Splink's matches of contact records that share no key
    (int_contact_records_matched): company spelled another way, colleague on the same
    company mail domain, and so on, each with its match probability and the evidence.
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

events as (

    select * from {{ ref('stg_leadflow__events') }}

),

contact_identifiers as (

    select * from {{ ref('int_contact_identifiers_screened') }}

),

contact_records as (

    select * from {{ ref('int_contact_records_prepared') }}

),

contact_record_matches as (

    select * from {{ ref('int_contact_record_pairs') }}

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
        '{{ linking.event_type }}: {{ linking.anchor }} - {{ key }}' as link_rule,
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

-- companies the CRM has exactly one account for: their name identifies that account,
-- unless records naming it come from more than one country (two companies, one name)
company_accounts as (

    select
        company_key,
        min(account_id) as account_id
    from contact_records
    where company_key is not null
    group by company_key
    having
        count(distinct account_id) = 1
        and count(distinct country) <= 1

),

company_mentions as (

    select
        contact_records.event_id,
        {{ dbt.concat([
            "'company name of one CRM account: '",
            'contact_records.anchor_type',
            "' - account_id'",
        ]) }} as link_rule,
        contact_records.seen_at as occurred_at,
        contact_records.contact_record_id as from_identifier,
        contact_records.anchor_type as from_identifier_type,
        contact_records.anchor_value as from_identifier_value,
        {{ dbt.concat(["'account_id:'", 'company_accounts.account_id']) }} as to_identifier,
        'account_id' as to_identifier_type,
        company_accounts.account_id as to_identifier_value
    from contact_records
    inner join company_accounts
        on contact_records.company_key = company_accounts.company_key
    where
        contact_records.account_id is null
        or contact_records.account_id <> company_accounts.account_id

),

-- a probable match is explained by the later of its two records: it made the match
probable_matches as (

    select
        case
            when left_records.seen_at > right_records.seen_at then left_records.event_id
            else right_records.event_id
        end as event_id,
        {{ dbt.concat(["'probable match (Splink): '", 'contact_record_matches.evidence']) }}
            as link_rule,
        case
            when left_records.seen_at > right_records.seen_at then left_records.seen_at
            else right_records.seen_at
        end as occurred_at,
        left_records.contact_record_id as from_identifier,
        left_records.anchor_type as from_identifier_type,
        left_records.anchor_value as from_identifier_value,
        right_records.contact_record_id as to_identifier,
        right_records.anchor_type as to_identifier_type,
        right_records.anchor_value as to_identifier_value,
        contact_record_matches.match_probability,
        contact_record_matches.match_weight
    from contact_record_matches
    inner join contact_records as left_records
        on contact_record_matches.contact_record_id_l = left_records.contact_record_id
    inner join contact_records as right_records
        on contact_record_matches.contact_record_id_r = right_records.contact_record_id

),

-- every reason for every link; an event states a link, a match score only suggests it
candidate_links as (

    select
        event_id,
        event_type as first_event_type,
        link_rule,
        'deterministic' as link_kind,
        1 as link_strength,
        occurred_at,
        from_identifier,
        from_identifier_type,
        from_identifier_value,
        to_identifier,
        to_identifier_type,
        to_identifier_value,
        cast(null as double precision) as match_probability,
        cast(null as {{ dbt.type_float() }}) as match_weight,
        1 as linking_events
    from usable_mentions

    union all

    select
        company_mentions.event_id,
        events.event_type as first_event_type,
        company_mentions.link_rule,
        'deterministic' as link_kind,
        2 as link_strength,
        company_mentions.occurred_at,
        company_mentions.from_identifier,
        company_mentions.from_identifier_type,
        company_mentions.from_identifier_value,
        company_mentions.to_identifier,
        company_mentions.to_identifier_type,
        company_mentions.to_identifier_value,
        cast(null as double precision) as match_probability,
        cast(null as {{ dbt.type_float() }}) as match_weight,
        0 as linking_events
    from company_mentions
    inner join events
        on company_mentions.event_id = events.event_id

    union all

    select
        probable_matches.event_id,
        events.event_type as first_event_type,
        probable_matches.link_rule,
        'probabilistic' as link_kind,
        3 as link_strength,
        probable_matches.occurred_at,
        probable_matches.from_identifier,
        probable_matches.from_identifier_type,
        probable_matches.from_identifier_value,
        probable_matches.to_identifier,
        probable_matches.to_identifier_type,
        probable_matches.to_identifier_value,
        -- double precision, not dbt's float: DuckDB's float has 4 bytes (about 7 digits)
        cast(probable_matches.match_probability as double precision) as match_probability,
        cast(probable_matches.match_weight as {{ dbt.type_float() }}) as match_weight,
        0 as linking_events
    from probable_matches
    inner join events
        on probable_matches.event_id = events.event_id

),

-- the strongest, then earliest, reason for each link explains it
ranked_candidates as (

    select
        *,
        row_number() over (
            partition by from_identifier, to_identifier
            order by link_strength, occurred_at, event_id, link_rule
        ) as reason_rank
    from candidate_links

),

links as (

    select
        from_identifier,
        to_identifier,
        min(occurred_at) as first_linked_at,
        max(occurred_at) as last_linked_at,
        cast(sum(linking_events) as {{ dbt.type_bigint() }}) as linking_events
    from candidate_links
    group by
        from_identifier,
        to_identifier

),

final as (

    select
        {{ dbt.hash(dbt.concat(['links.from_identifier', "' -> '", 'links.to_identifier'])) }}
            as identity_link_id,
        links.from_identifier,
        reasons.from_identifier_type,
        reasons.from_identifier_value,
        links.to_identifier,
        reasons.to_identifier_type,
        reasons.to_identifier_value,
        links.from_identifier = links.to_identifier as is_self_link,
        reasons.link_kind,
        reasons.link_rule,
        reasons.match_probability,
        reasons.match_weight,
        reasons.event_id as first_event_id,
        reasons.first_event_type,
        links.first_linked_at,
        links.last_linked_at,
        links.linking_events
    from links
    inner join ranked_candidates as reasons
        on
            links.from_identifier = reasons.from_identifier
            and links.to_identifier = reasons.to_identifier
            and reasons.reason_rank = 1

)

select * from final
