{#- One row per quote sent: its price against the list price and against the price the
    buyer asked for, and where it stands among the quotes of its inquiry. -#}
with

quotes as (

    select * from {{ ref('stg_sales__quotes') }}

),

inquiries as (

    select * from {{ ref('stg_web__inquiries') }}

),

customers as (

    select * from {{ ref('int_customers_resolved') }}

),

inquiry_customers as (

    select
        identifier_value as inquiry_id,
        customer_id
    from customers
    where identifier_type = 'inquiry_id'

),

-- a quote the CRM sent again under a new event id keeps its earliest copy
ranked_copies as (

    select
        *,
        row_number() over (
            partition by quote_id
            order by quoted_at, event_id
        ) as copy_rank
    from quotes

),

sequenced as (

    select
        *,
        row_number() over (
            partition by inquiry_id
            order by quoted_at, event_id
        ) as quote_sequence,
        count(*) over (partition by inquiry_id) as inquiry_quotes
    from ranked_copies
    where copy_rank = 1

),

final as (

    select
        sequenced.quote_id,
        sequenced.event_id,
        sequenced.inquiry_id,
        inquiry_customers.customer_id,
        case
            when sequenced.rep_id is not null then 'rep'
            when sequenced.distributor_id is not null then 'distributor'
        end as quoted_by_type,
        sequenced.rep_id,
        sequenced.distributor_id,
        sequenced.quoted_at,
        sequenced.valid_until,
        sequenced.unit_price,
        sequenced.list_price,
        sequenced.quantity,
        sequenced.currency,
        sequenced.unit_price * sequenced.quantity as quote_amount,
        sequenced.list_price - sequenced.unit_price as discount_vs_list,
        {{ ratio('sequenced.list_price - sequenced.unit_price', 'sequenced.list_price') }}
            as discount_vs_list_rate,
        -- the buyer's target is in the inquiry's currency: no gap across currencies
        case
            when inquiries.currency = sequenced.currency then inquiries.target_unit_price
        end as target_unit_price,
        case
            when inquiries.currency = sequenced.currency
                then sequenced.unit_price - inquiries.target_unit_price
        end as gap_vs_target,
        case
            when inquiries.currency = sequenced.currency
                then {{ ratio(
                    'sequenced.unit_price - inquiries.target_unit_price',
                    'inquiries.target_unit_price'
                ) }}
        end as gap_vs_target_rate,
        sequenced.quote_sequence,
        sequenced.quote_sequence = sequenced.inquiry_quotes as is_latest_quote
    from sequenced
    left join inquiries
        on sequenced.inquiry_id = inquiries.inquiry_id
    left join inquiry_customers
        on sequenced.inquiry_id = inquiry_customers.inquiry_id

)

select * from final
