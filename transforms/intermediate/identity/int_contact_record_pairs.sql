{#- The probabilistic matches of contact records, whichever way this warehouse gets them:
    on DuckDB the Python model int_contact_records_matched computes them in the build;
    elsewhere they are read from the source identity.int_contact_records_matched
    (macros/contact_record_matches.sql). Identity linking reads this model, so it and its
    unit tests are the same on every warehouse. -#}
select
    contact_record_id_l,
    contact_record_id_r,
    match_weight,
    match_probability,
    evidence
from {{ contact_record_matches() }}
