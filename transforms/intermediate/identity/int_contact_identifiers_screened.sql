{#- Every email and phone number buyers gave, screened for whether it can tell one buyer
    from another. A placeholder ('n/a', 'test@test.com', 'sales@…', '000000') identifies
    nobody. A shared value is one several buyers gave: an email given with more than
    `max_phones_per_email` phone numbers, or an email or phone given with more than
    `max_accounts_per_contact` CRM accounts or from more than `max_countries_per_contact`
    countries. Mobile numbers are personal; mailboxes often are not (family and office
    QQ/163 boxes, the same first name at gmail), hence the asymmetry. Neither kind links
    (int_identity_links_unioned); both stay visible here so that anyone can see why two
    buyers were kept apart. -#}
with

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

lead_assignments as (

    select * from {{ ref('stg_sales__lead_assignments') }}

),

orders as (

    select * from {{ ref('stg_sales__orders') }}

),

shipment_events as (

    select * from {{ ref('stg_logistics__shipment_events') }}

),

-- the account the CRM matched an inquiry's buyer to when assigning it
inquiry_accounts as (

    select distinct
        inquiry_id,
        account_id
    from lead_assignments
    where account_id is not null

),

-- contact details given together: on an inquiry (with its matched account), an order, or
-- a shipment's consignee
contact_sets as (

    select
        inquiries.email,
        inquiries.phone,
        coalesce(inquiries.account_id, inquiry_accounts.account_id) as account_id,
        inquiries.country
    from inquiries
    left join inquiry_accounts
        on inquiries.inquiry_id = inquiry_accounts.inquiry_id

    union all

    select
        email,
        phone,
        account_id,
        cast(null as {{ dbt.type_string() }}) as country
    from orders

    union all

    select distinct
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as country
    from shipment_events
    where
        email is not null
        or phone is not null

),

usable_contact_sets as (

    select
        email,
        phone,
        {{ usable_identifier('email', 'email') }} as usable_email,
        {{ usable_identifier('phone', 'phone') }} as usable_phone,
        {{ usable_identifier('account_id', 'account_id') }} as usable_account_id,
        country
    from contact_sets

),

emails as (

    select
        'email' as identifier_type,
        email as identifier_value,
        count(*) as contact_sets,
        count(distinct usable_phone) as phones,
        count(distinct usable_email) as emails,
        count(distinct usable_account_id) as accounts,
        count(distinct country) as countries,
        max(case when usable_email is null then 1 else 0 end) = 1 as is_placeholder
    from usable_contact_sets
    where email is not null
    group by email

),

phones as (

    select
        'phone' as identifier_type,
        phone as identifier_value,
        count(*) as contact_sets,
        count(distinct usable_phone) as phones,
        count(distinct usable_email) as emails,
        count(distinct usable_account_id) as accounts,
        count(distinct country) as countries,
        max(case when usable_phone is null then 1 else 0 end) = 1 as is_placeholder
    from usable_contact_sets
    where phone is not null
    group by phone

),

screened as (

    select
        identifier_type,
        identifier_value,
        contact_sets,
        phones as partner_phones,
        cast(null as {{ dbt.type_bigint() }}) as partner_emails,
        accounts as partner_accounts,
        countries as partner_countries,
        is_placeholder,
        not is_placeholder
        and (
            phones > {{ var('max_phones_per_email') }}
            or accounts > {{ var('max_accounts_per_contact') }}
            or countries > {{ var('max_countries_per_contact') }}
        ) as is_shared
    from emails

    union all

    select
        identifier_type,
        identifier_value,
        contact_sets,
        cast(null as {{ dbt.type_bigint() }}) as partner_phones,
        emails as partner_emails,
        accounts as partner_accounts,
        countries as partner_countries,
        is_placeholder,
        not is_placeholder
        and (
            accounts > {{ var('max_accounts_per_contact') }}
            or countries > {{ var('max_countries_per_contact') }}
        ) as is_shared
    from phones

),

final as (

    select
        {{ dbt.concat(['identifier_type', "':'", 'identifier_value']) }} as identifier,
        identifier_type,
        identifier_value,
        contact_sets,
        partner_phones,
        partner_emails,
        partner_accounts,
        partner_countries,
        is_placeholder,
        is_shared,
        not is_placeholder and not is_shared as is_linkable
    from screened

)

select * from final
