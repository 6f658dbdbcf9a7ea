{#- One row per inquiry: who asked, for what, through which channel, how sales worked it
    and how it ended. The grain and columns are documented in docs/tables.md. -#}
with

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

milestones as (

    select * from {{ ref('int_inquiry_milestones_pivoted') }}

),

labels as (

    select * from {{ ref('int_inquiries_labelled') }}

),

prior_activities as (

    select * from {{ ref('int_inquiry_prior_activities_counted') }}

),

free_mail_domains as (

    select * from {{ ref('free_mail_domains') }}

),

inquiry_customers as (

    select
        identifier_value as inquiry_id,
        customer_id
    from customers
    where identifier_type = 'inquiry_id'

),

inquiries_with_domain as (

    select
        *,
        {{ dbt.split_part('email', "'@'", 2) }} as email_domain
    from inquiries

),

final as (

    select
        inquiries.inquiry_id,
        inquiry_customers.customer_id,
        inquiries.submitted_at,
        inquiries.channel,
        inquiries.campaign,
        inquiries.producer,
        inquiries.anonymous_id,
        inquiries.contact_name,
        inquiries.company,
        inquiries.email,
        inquiries.phone,
        inquiries.country,
        inquiries.province,
        inquiries.sku,
        inquiries.product_category,
        inquiries.quantity,
        inquiries.target_unit_price,
        inquiries.list_unit_price,
        inquiries.currency,
        inquiries.needs_customization,
        inquiries.incoterm,
        {{ dbt.length('inquiries.message') }} as message_length,
        -- SQLFluff reads `not (` as a call of a function named not
        -- noqa: disable=LT01,LT06
        not {{ is_junk_identifier('inquiries.company', 'company') }} as has_company,
        -- noqa: enable=LT01,LT06
        free_mail_domains.email_domain is not null as is_free_mail,
        prior_activities.prior_page_views,
        prior_activities.prior_product_views,
        prior_activities.prior_searches,
        prior_activities.customer_prior_orders,
        milestones.assignee_type,
        milestones.rep_id,
        milestones.distributor_id,
        milestones.assigned_at,
        milestones.first_contacted_at,
        {{ hours_between('inquiries.submitted_at', 'milestones.first_contacted_at') }}
            as first_response_hours,
        milestones.quoted_at,
        milestones.quote_unit_price,
        milestones.quote_list_price,
        milestones.customization_feasible,
        milestones.closed_at,
        coalesce(milestones.outcome, 'open') as outcome,
        milestones.lost_reason,
        milestones.first_order_id,
        milestones.first_order_at,
        milestones.order_amount,
        labels.is_converted,
        labels.is_label_mature,
        labels.is_open,
        labels.state,
        labels.is_expired,
        labels.window_ends_at,
        labels.outcome_before_submission_hours,
        -- SQLFluff reads `not (` as a call of a function named not
        -- noqa: disable=LT01,LT06
        not {{ is_junk_identifier('inquiries.email', 'email') }} as has_valid_email,
        not {{ is_junk_identifier('inquiries.phone', 'phone') }} as has_valid_phone,
        -- noqa: enable=LT01,LT06
        milestones.contact_count,
        milestones.quote_count,
        milestones.quote_currency,
        milestones.customization_assessed_at,
        milestones.customization_lead_time_days,
        milestones.linked_orders,
        milestones.order_currency,
        labels.converted_at,
        labels.label_as_of
    from inquiries_with_domain as inquiries
    left join inquiry_customers
        on inquiries.inquiry_id = inquiry_customers.inquiry_id
    left join milestones
        on inquiries.inquiry_id = milestones.inquiry_id
    left join labels
        on inquiries.inquiry_id = labels.inquiry_id
    left join prior_activities
        on inquiries.inquiry_id = prior_activities.inquiry_id
    left join free_mail_domains
        on inquiries.email_domain = free_mail_domains.email_domain

)

select * from final
