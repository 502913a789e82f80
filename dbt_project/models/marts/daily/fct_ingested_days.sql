-- The ingested calendar per source, published for the metrics layer and BI tools (int_calendar__source_days).
select source, date from {{ ref('int_calendar__source_days') }}
