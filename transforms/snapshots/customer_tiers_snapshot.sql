{#- The history of each customer's value tier and owner (type-2: one row per version,
    valid from dbt_valid_from to dbt_valid_to, null while current). dim_customers is
    rebuilt from the log every run and only knows the present; this is where leadership
    sees when a customer moved up a tier or changed hands. -#}
{% snapshot customer_tiers_snapshot %}

{{
    config(
        unique_key='customer_id',
        strategy='check',
        check_cols=['value_tier', 'owner_id', 'owner_type'],
    )
}}

with

customers as (

    select * from {{ ref('dim_customers') }}

),

final as (

    select
        customer_id,
        value_tier,
        owner_id,
        owner_type,
        orders,
        revenue
    from customers

)

select * from final

{% endsnapshot %}
