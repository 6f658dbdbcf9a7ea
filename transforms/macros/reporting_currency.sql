{#- The company's currency, var currency (LEADFLOW_CURRENCY, default CNY): the reports' amounts
    are in it. Nothing converts one currency into another (the log records no exchange
    rates) and a sum across currencies means nothing, so the reports add amounts in this
    currency only and count, in amounts_in_other_currencies, those they left out. -#}

{#- The company's currency, checked: an ISO 4217 code, three capital letters. -#}
{% macro reporting_currency() -%}
    {%- set currency = var('currency') | string -%}
    {%- if not modules.re.fullmatch('[A-Z]{3}', currency) -%}
        {{ exceptions.raise_compiler_error(
            "currency '" ~ currency ~ "' is not an ISO 4217 code such as CNY or USD"
        ) }}
    {%- endif -%}
    {{ return(currency) }}
{%- endmacro %}

{#- Whether an amount's currency is the company's (false when unknown). -#}
{% macro is_reporting_currency(currency_column) -%}
    coalesce({{ currency_column }} = '{{ reporting_currency() }}', false)
{%- endmacro %}

{#- An amount when it is in the company's currency, else null (left out of sums). -#}
{% macro in_reporting_currency(amount, currency_column) -%}
    case when {{ is_reporting_currency(currency_column) }} then {{ amount }} end
{%- endmacro %}
