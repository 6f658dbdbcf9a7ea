{#- One contact record per inquiry, order and shipment: how the buyer behind it described
    themselves, normalised for comparison. Probabilistic matching (int_contact_records_matched)
    compares these records to find buyers that share no key: the same company spelled two
    ways, a colleague writing from the same company domain, a consignee the WMS typed in.

    Evidence that identifies nobody is removed here, so that it can never link anyone:
    placeholder and shared emails and phones (int_contact_identifiers_screened), free-mail
    and placeholder mail domains (a gmail address says nothing about a company), and company
    names that are empty once their legal form is gone. -#}
with

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

shipment_events as (

    select * from {{ ref('stg_logistics__shipment_events') }}

),

contact_identifiers as (

    select * from {{ ref('int_contact_identifiers_screened') }}

),

free_mail_domains as (

    select * from {{ ref('free_mail_domains') }}

),

-- the consignee the WMS recorded first for each shipment
ranked_consignees as (

    select
        shipment_id,
        event_id,
        company,
        email,
        phone,
        occurred_at,
        row_number() over (
            partition by shipment_id
            order by occurred_at, event_id
        ) as consignee_rank
    from shipment_events
    where
        company is not null
        or email is not null
        or phone is not null

),

records as (

    select
        'inquiry_id' as anchor_type,
        inquiry_id as anchor_value,
        event_id,
        'web' as record_source,
        submitted_at as seen_at,
        company,
        email,
        phone,
        contact_name,
        country,
        province,
        account_id
    from inquiries

    union all

    select
        'order_id' as anchor_type,
        order_id as anchor_value,
        event_id,
        'crm' as record_source,
        placed_at as seen_at,
        company,
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as contact_name,
        cast(null as {{ dbt.type_string() }}) as country,
        cast(null as {{ dbt.type_string() }}) as province,
        account_id
    from orders

    union all

    select
        'shipment_id' as anchor_type,
        shipment_id as anchor_value,
        event_id,
        'wms' as record_source,
        occurred_at as seen_at,
        company,
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as contact_name,
        cast(null as {{ dbt.type_string() }}) as country,
        cast(null as {{ dbt.type_string() }}) as province,
        cast(null as {{ dbt.type_string() }}) as account_id
    from ranked_consignees
    where consignee_rank = 1

),

normalised as (

    select
        anchor_type,
        anchor_value,
        event_id,
        record_source,
        seen_at,
        case
            when not {{ is_junk_identifier('company', 'company') }}
                then {{ company_name_normalized('company') }}
        end as company_name,
        case
            when not {{ is_junk_identifier('company', 'company') }}
                then {{ company_name_key('company') }}
        end as company_key,
        email,
        case
            when {{ dbt.position("'@'", 'email') }} > 1
                then lower({{ dbt.split_part('email', "'@'", 2) }})
        end as email_domain,
        phone,
        nullif(lower(trim(contact_name)), '') as contact_name,
        country,
        province,
        {{ usable_identifier('account_id', 'account_id') }} as account_id
    from records

),

final as (

    select
        {{ dbt.concat(['normalised.anchor_type', "':'", 'normalised.anchor_value']) }}
            as contact_record_id,
        normalised.anchor_type,
        normalised.anchor_value,
        normalised.event_id,
        normalised.record_source,
        normalised.seen_at,
        normalised.company_name,
        normalised.company_key,
        case when emails.is_linkable then normalised.email end as email,
        case
            when
                normalised.email_domain not in (
                    {%- for domain in var('junk_email_domains') %}
                    '{{ domain }}'{{ "," if not loop.last }}
                    {%- endfor %}
                )
                and {{ dbt.position("'.'", 'normalised.email_domain') }} > 0
                and free_mail_domains.email_domain is null
                then normalised.email_domain
        end as email_domain,
        case when phones.is_linkable then normalised.phone end as phone,
        normalised.contact_name,
        normalised.country,
        normalised.province,
        normalised.account_id
    from normalised
    left join contact_identifiers as emails
        on
            emails.identifier_type = 'email'
            and normalised.email = emails.identifier_value
    left join contact_identifiers as phones
        on
            phones.identifier_type = 'phone'
            and normalised.phone = phones.identifier_value
    left join free_mail_domains
        on normalised.email_domain = free_mail_domains.email_domain

)

select * from final
