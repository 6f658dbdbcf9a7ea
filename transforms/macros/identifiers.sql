{#- Identity keys as the identity graph sees them. -#}

{#- The normalised identifier, or null when it is a placeholder that identifies nobody
    (an empty string, 'n/a', 'test@test.com', 'sales@…', '000000', …; see the vars in
    dbt_project.yml).
    `identifier_type` is an identity key name (email, phone, account_id, inquiry_id, …)
    or 'company'; emails and phones get extra shape checks. -#}
{% macro usable_identifier(value_column, identifier_type) -%}
    case
        when {{ is_junk_identifier(value_column, identifier_type) }} then null
        else {{ value_column }}
    end
{%- endmacro %}

{% macro is_junk_identifier(value_column, identifier_type) -%}
    {%- set junk_values = var('junk_identifier_values') -%}
    (
        {{ value_column }} is null
        or trim({{ value_column }}) = ''
    {#- ids our own systems issue are what they are; people type placeholders #}
    {%- if identifier_type not in ('inquiry_id', 'order_id', 'shipment_id') %}
        or lower(trim({{ value_column }})) in (
            {%- for value in junk_values %}'{{ value }}'{{ ", " if not loop.last }}{% endfor -%}
        )
    {%- endif %}
    {%- if identifier_type == 'email' %}
        or {{ dbt.position("'@'", value_column) }} <= 1
        or {{ dbt.split_part(value_column, "'@'", 1) }} in (
            {%- for part in var('role_mailbox_local_parts') %}'{{ part }}'{{ ", " if not loop.last }}{% endfor -%}
        )
        or {{ dbt.split_part(value_column, "'@'", 2) }} in (
            {%- for domain in var('junk_email_domains') %}'{{ domain }}'{{ ", " if not loop.last }}{% endfor -%}
        )
        or {{ dbt.position("'.'", dbt.split_part(value_column, "'@'", 2)) }} = 0
    {%- elif identifier_type == 'phone' %}
        or {{ dbt.length(value_column) }} < {{ var('min_phone_digits') }}
        {#- one digit repeated: 000000, 8888888 #}
        or {{ dbt.replace(value_column, dbt.right(value_column, 1), "''") }} = ''
    {%- endif %}
    )
{%- endmacro %}

{#- How staging normalises contact details, so that the same person's values compare equal. -#}
{% macro normalize_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{#- Phones as digits in one form: '+86 138 0013 8000', '86-13800138000' and '13800138000'
    all become 13800138000 (a Chinese mobile in national form); '0049 30 1234' and
    '+49 30 1234' both become 49301234 (the international call prefix 00 is dropped). -#}
{% macro normalize_phone(column) -%}
    {%- set digits = digits_only(column) -%}
    {%- set dialled = "case when " ~ digits ~ " like '00%' then "
        ~ dbt.right(digits, dbt.length(digits) ~ " - 2") ~ " else " ~ digits ~ " end" -%}
    nullif(
        case
            when {{ dbt.length(dialled) }} = 13 and {{ dialled }} like '861%'
                then {{ dbt.right(dialled, 11) }}
            else {{ dialled }}
        end,
        ''
    )
{%- endmacro %}

{% macro normalize_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
