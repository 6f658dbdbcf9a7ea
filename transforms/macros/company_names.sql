{#- Company names as identity resolution compares them.

    People write one company many ways: 'Ningbo Haitian Pump Co., Ltd.', 'NINGBO HAITIAN
    PUMP CO LTD', 'Haitian Pump (Ningbo) Co.,Ltd', '宁波海天水泵有限公司'. Normalised, the
    case, the punctuation and the legal form go; what is left names the company:
      company_name_normalized -> 'ningbo haitian pump' (word order kept, for fuzzy matching)
      company_name_key        -> 'haitian ningbo pump' (words sorted: equal keys, same name)
    Only ASCII letters, digits and CJK ideographs survive, so that every warehouse gets the
    same result whatever its collation does to other letters. -#}

{#- Words that say what legal form a company has, not which company it is. -#}
{% macro legal_form_words() -%}
    {{ return([
        'co', 'company', 'corp', 'corporation', 'inc', 'incorporated', 'ltd', 'limited',
        'llc', 'llp', 'lp', 'plc', 'group', 'holding', 'holdings',
        'gmbh', 'mbh', 'ag', 'kg', 'ohg', 'ug', 'ev',
        'sa', 'sas', 'sarl', 'sl', 'srl', 'spa', 'sp', 'zoo',
        'bv', 'nv', 'vof', 'oy', 'oyj', 'ab', 'as', 'asa', 'aps',
        'kk', 'pte', 'pty', 'pvt', 'sdn', 'bhd', 'tbk', 'pt', 'cv',
        'jsc', 'ojsc', 'pjsc', 'ooo', 'zao', 'sti', 'tic', 'ltda', 'cia',
        'the', 'and',
    ]) }}
{%- endmacro %}

{#- Chinese legal forms, longest first: they are written without spaces. -#}
{% macro chinese_legal_form_pattern() -%}
    股份有限公司|有限责任公司|有限公司|集团|公司
{%- endmacro %}

{% macro company_name_normalized(column) -%}
    {{ return(adapter.dispatch('company_name_normalized', 'leadflow')(column, sort_words=false)) }}
{%- endmacro %}

{% macro company_name_key(column) -%}
    {{ return(adapter.dispatch('company_name_normalized', 'leadflow')(column, sort_words=true)) }}
{%- endmacro %}

{% macro default__company_name_normalized(column, sort_words) -%}
    {{ exceptions.raise_compiler_error(
        "company_name_normalized has no variant for the " ~ adapter.type() ~ " adapter: add "
        ~ adapter.type() ~ "__company_name_normalized to transforms/macros/company_names.sql"
    ) }}
{%- endmacro %}

{#- The name's words, lower-case, with every other character a separator. -#}
{% macro _company_name_words_text(column, other_characters) -%}
    regexp_replace(
        regexp_replace(lower({{ column }}), '{{ chinese_legal_form_pattern() }}', ' ', 'g'),
        '{{ other_characters }}',
        ' ',
        'g'
    )
{%- endmacro %}

{% macro duckdb__company_name_normalized(column, sort_words) -%}
    {%- set words -%}
        list_filter(
            string_split({{ _company_name_words_text(column, '[^a-z0-9\\x{4e00}-\\x{9fff}]+') }}, ' '),
            word -> word <> '' and not list_contains(
                [{%- for word in legal_form_words() %}'{{ word }}'{{ ", " if not loop.last }}{% endfor -%}],
                word
            )
        )
    {%- endset -%}
    nullif(array_to_string({{ 'list_sort(' ~ words ~ ')' if sort_words else words }}, ' '), '')
{%- endmacro %}

{% macro postgres__company_name_normalized(column, sort_words) -%}
    nullif(
        (
            select coalesce(string_agg(word, ' ' order by {{ 'word collate "C"' if sort_words else 'position' }}), '')
            from unnest(
                string_to_array({{ _company_name_words_text(column, '[^a-z0-9\\u4e00-\\u9fff]+') }}, ' ')
            ) with ordinality as words (word, position)
            where word <> '' and word not in (
                {%- for word in legal_form_words() %}'{{ word }}'{{ ", " if not loop.last }}{% endfor -%}
            )
        ),
        ''
    )
{%- endmacro %}
