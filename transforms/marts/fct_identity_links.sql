{#- The link audit of every customer who sent an inquiry: each link of the identity graph
    that joined two of the customer's records (int_identity_links_unioned, self links left
    out), with the rule or the match probability that made it and the event that stated
    it. Customers who never inquired (a cookie's page views, a CRM account alone) are left
    out: the sales workspace shows this for a lead's customer, and they are most of the
    graph. -#}

with

links as (

    select * from {{ ref('int_identity_links_unioned') }}
    where not is_self_link

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

inquiries as (

    select * from {{ ref('fct_inquiries') }}

),

inquiring_customers as (

    select distinct customer_id
    from inquiries
    where customer_id is not null

)

select
    links.identity_link_id,
    customers.customer_id,
    links.from_identifier,
    links.from_identifier_type,
    links.to_identifier,
    links.to_identifier_type,
    links.link_kind,
    links.link_rule,
    links.match_probability,
    links.first_event_id,
    links.first_event_type,
    links.first_linked_at,
    links.last_linked_at,
    links.linking_events
from links
inner join customers
    on links.from_identifier = customers.identifier
inner join inquiring_customers
    on customers.customer_id = inquiring_customers.customer_id
