{#-
    Connected components of the identity graph, by a recursive CTE: `reachable` holds
    every pair (identifier, member) of one component. The recursive step walks one more
    link from every pair found in the previous step, and `union` (not `union all`) drops
    pairs already known, so the recursion ends exactly when a step finds nothing new:
    after (diameter of the largest component) steps, with no round count to tune, in
    standard SQL. It materialises Σ |component|² pairs, which stays small because
    placeholder identifiers never become links (int_identity_links_unioned); a customer is
    a handful of visitors, addresses, inquiries, orders and shipments.

    A component's customer_id is the md5 of its representative: its earliest-seen
    identifier (ties: the smallest key). It depends on the data only, so a rebuild gives
    the same ids, and a customer keeps its id as later events join it; only a merge of
    two customers, or a late event older than everything known, moves it.
-#}
with recursive

identity_links as (

    select * from {{ ref('int_identity_links_unioned') }}

),

-- every identifier: when it was first and last seen, and by how many events
identifiers as (

    select
        to_identifier as identifier,
        to_identifier_type as identifier_type,
        to_identifier_value as identifier_value,
        min(first_linked_at) as first_seen_at,
        max(last_linked_at) as last_seen_at,
        cast(sum(linking_events) as {{ dbt.type_bigint() }}) as events
    from identity_links
    group by
        to_identifier,
        to_identifier_type,
        to_identifier_value

),

-- a link ties both ways: an order's email belongs with the order and the order with it
edges as (

    select
        from_identifier as identifier,
        to_identifier as neighbour
    from identity_links
    where not is_self_link

    union

    select
        to_identifier as identifier,
        from_identifier as neighbour
    from identity_links
    where not is_self_link

),

reachable (identifier, member) as (

    select
        identifier,
        identifier as member
    from identifiers

    union

    select
        reachable.identifier,
        edges.neighbour as member
    from reachable
    inner join edges
        on reachable.member = edges.identifier

),

ranked_members as (

    select
        reachable.identifier,
        reachable.member,
        row_number() over (
            partition by reachable.identifier
            order by members.first_seen_at, reachable.member
        ) as member_rank
    from reachable
    inner join identifiers as members
        on reachable.member = members.identifier

),

representatives as (

    select
        identifier,
        member as representative_identifier
    from ranked_members
    where member_rank = 1

),

final as (

    select
        identifiers.identifier,
        identifiers.identifier_type,
        identifiers.identifier_value,
        {{ dbt.hash('representatives.representative_identifier') }} as customer_id,
        representatives.representative_identifier,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        identifiers.events
    from identifiers
    inner join representatives
        on identifiers.identifier = representatives.identifier

)

select * from final
