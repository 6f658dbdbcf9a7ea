{#- Every inquiry is in exactly one state, so in every row of the classification summary
    the states add up to the inquiries. A row here is one that does not. -#}
with

classification as (

    select * from {{ ref('rpt_inquiry_classification') }}

),

final as (

    select
        period_grain,
        period_label,
        channel,
        product_category,
        region,
        inquiries,
        won_inquiries
        + won_late_inquiries
        + lost_inquiries
        + expired_inquiries
        + open_inquiries as inquiries_in_a_state
    from classification
    where
        inquiries
        <> won_inquiries
        + won_late_inquiries
        + lost_inquiries
        + expired_inquiries
        + open_inquiries

)

select * from final
