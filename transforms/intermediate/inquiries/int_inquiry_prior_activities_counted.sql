{#- What each inquirer did before submitting: web events of the same visitor, and orders
    of the same (resolved) customer, strictly before submitted_at, so that nothing after
    the submission can leak into a feature. -#}
with

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

page_views as (

    select * from {{ ref('stg_web__page_views') }}

),

product_views as (

    select * from {{ ref('stg_web__product_views') }}

),

searches as (

    select * from {{ ref('stg_web__searches') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

prior_page_views as (

    select
        inquiries.inquiry_id,
        count(*) as prior_page_views
    from inquiries
    inner join page_views
        on
            inquiries.anonymous_id = page_views.anonymous_id
            and page_views.viewed_at < inquiries.submitted_at
    group by inquiries.inquiry_id

),

prior_product_views as (

    select
        inquiries.inquiry_id,
        count(*) as prior_product_views
    from inquiries
    inner join product_views
        on
            inquiries.anonymous_id = product_views.anonymous_id
            and product_views.viewed_at < inquiries.submitted_at
    group by inquiries.inquiry_id

),

prior_searches as (

    select
        inquiries.inquiry_id,
        count(*) as prior_searches
    from inquiries
    inner join searches
        on
            inquiries.anonymous_id = searches.anonymous_id
            and searches.searched_at < inquiries.submitted_at
    group by inquiries.inquiry_id

),

inquiry_customers as (

    select
        inquiries.inquiry_id,
        inquiries.submitted_at,
        customers.customer_id
    from inquiries
    inner join customers
        on
            customers.identifier_type = 'inquiry_id'
            and inquiries.inquiry_id = customers.identifier_value

),

order_customers as (

    select
        orders.order_id,
        orders.placed_at,
        customers.customer_id
    from orders
    inner join customers
        on
            customers.identifier_type = 'order_id'
            and orders.order_id = customers.identifier_value

),

prior_orders as (

    select
        inquiry_customers.inquiry_id,
        count(*) as customer_prior_orders
    from inquiry_customers
    inner join order_customers
        on
            inquiry_customers.customer_id = order_customers.customer_id
            and order_customers.placed_at < inquiry_customers.submitted_at
    group by inquiry_customers.inquiry_id

),

final as (

    select
        inquiries.inquiry_id,
        coalesce(prior_page_views.prior_page_views, 0) as prior_page_views,
        coalesce(prior_product_views.prior_product_views, 0) as prior_product_views,
        coalesce(prior_searches.prior_searches, 0) as prior_searches,
        coalesce(prior_orders.customer_prior_orders, 0) as customer_prior_orders
    from inquiries
    left join prior_page_views
        on inquiries.inquiry_id = prior_page_views.inquiry_id
    left join prior_product_views
        on inquiries.inquiry_id = prior_product_views.inquiry_id
    left join prior_searches
        on inquiries.inquiry_id = prior_searches.inquiry_id
    left join prior_orders
        on inquiries.inquiry_id = prior_orders.inquiry_id

)

select * from final
