"""Building blocks of the event simulator; `ingestion.simulator` is the public entry."""
