{#- The components are closed: both ends of every link belong to the same customer. A
    row here is a link that the resolution failed to follow. -#}
with

identity_links as (

    select * from {{ ref('int_identity_links_unioned') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

final as (

    select
        identity_links.identity_link_id,
        identity_links.from_identifier,
        identity_links.to_identifier,
        from_customers.customer_id as from_customer_id,
        to_customers.customer_id as to_customer_id
    from identity_links
    left join customers as from_customers
        on identity_links.from_identifier = from_customers.identifier
    left join customers as to_customers
        on identity_links.to_identifier = to_customers.identifier
    where
        from_customers.customer_id is null
        or to_customers.customer_id is null
        or from_customers.customer_id <> to_customers.customer_id

)

select * from final
